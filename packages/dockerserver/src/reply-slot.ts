import { ErrorCode, SwarmError, type Message, type Sender } from '@libswarm/core'

/**
 * The return channel of one request sent down the chain: it keeps the first reply, and
 * nothing else is waited for. Lighter than a `pipe()` per request: no queue, no abort
 * listener (the responder closes the slot itself when its client goes away).
 * `abandoned` is the responder's signal: it aborts when the HTTP client goes away.
 */
export class ReplySlot implements Sender {
  constructor (readonly abandoned?: AbortSignal) {}

  private reply: Message | undefined
  private closed = false
  private closeError: Error | undefined
  private resolveWaiter: ((message: Message | undefined) => void) | undefined
  private rejectWaiter: ((error: Error) => void) | undefined

  async send (message: Message): Promise<void> {
    if (this.closed) throw new SwarmError(ErrorCode.ChannelClosed, 'channel is closed', { cause: this.closeError })
    // a second reply to a Docker request has no reader: it is dropped, as a full pipe would hold it forever
    if (this.reply !== undefined) return
    this.reply = message
    const resolve = this.resolveWaiter
    this.resolveWaiter = this.rejectWaiter = undefined
    resolve?.(message)
  }

  async close (error?: Error): Promise<void> { this.shut(error) }

  /** Closes the slot; a reader still waiting gets `error`, or the end when there is none. */
  shut (error?: Error): void {
    if (this.closed) return
    this.closed = true
    this.closeError = error
    if (this.reply !== undefined) return
    const resolve = this.resolveWaiter
    const reject = this.rejectWaiter
    this.resolveWaiter = this.rejectWaiter = undefined
    if (error === undefined) resolve?.(undefined)
    else reject?.(error)
  }

  /** The first reply; `undefined` when the slot was closed without one. */
  receive (): Promise<Message | undefined> {
    if (this.reply !== undefined) return Promise.resolve(this.reply)
    if (this.closed) return this.closeError === undefined ? Promise.resolve(undefined) : Promise.reject(this.closeError)
    return new Promise((resolve, reject) => {
      this.resolveWaiter = resolve
      this.rejectWaiter = reject
    })
  }
}
