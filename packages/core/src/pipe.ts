import { ErrorCode, SwarmError } from './errors.js'
import type { AbortOptions, Message, Receiver, Sender } from './message.js'
import { ACCEPTED } from './message.js'

/** Options of {@link pipe}. */
export interface PipeOptions {
  /** Messages buffered before `send` waits for the receiver. Default 64. */
  highWaterMark?: number
}

interface Waiter<T> {
  resolve: (value: T) => void
  reject: (error: Error) => void
}

/**
 * An in-memory channel with backpressure: at most `highWaterMark` messages wait in it;
 * beyond that, `send` waits until the receiver takes some.
 *
 * @example
 * const [receiver, sender] = pipe()
 * await sender.send(message('Ls'))
 * const msg = await receiver.receive()
 */
export function pipe (options: PipeOptions = {}): [Receiver, Sender] {
  const channel = new PipeChannel(options.highWaterMark ?? 64)
  return [channel.receiver, channel.sender]
}

class PipeChannel {
  private readonly queue: Message[] = []
  private head = 0
  private readonly receivers: Array<Waiter<Message | undefined>> = []
  private readonly senders: Array<Waiter<void> & { message: Message }> = []
  private closed = false
  private closeError: Error | undefined
  /** Made when someone asks for `sender.abandoned`: most pipes are never asked. */
  private abandon: AbortController | undefined
  private abandonReason: Error | undefined
  readonly sender: Sender
  readonly receiver: Receiver

  constructor (private readonly highWaterMark: number) {
    const channel = this
    this.sender = {
      send: async (message, options) => { await this.send(message, options) },
      close: async (error) => { this.close(error) },
      get abandoned () { return channel.abandonedSignal() }
    }
    const receive = async (options?: AbortOptions): Promise<Message | undefined> => await this.receive(options)
    this.receiver = {
      receive,
      close: async (error) => { this.closeByReceiver(error ?? new SwarmError(ErrorCode.ChannelClosed, 'receiver closed the channel')) },
      [Symbol.asyncIterator]: () => ({
        next: async () => {
          const value = await receive()
          return value === undefined ? { done: true, value: undefined } : { done: false, value }
        },
        return: async () => {
          this.closeByReceiver(new SwarmError(ErrorCode.ChannelClosed, 'receiver stopped iterating'))
          return { done: true, value: undefined }
        }
      })
    }
  }

  private get size (): number { return this.queue.length - this.head }

  private send (message: Message, options?: AbortOptions): Promise<void> {
    options?.signal?.throwIfAborted()
    if (this.closed) return Promise.reject(this.closedError())
    const waiting = this.receivers.shift()
    if (waiting !== undefined) {
      waiting.resolve(message)
      return ACCEPTED
    }
    if (this.size < this.highWaterMark) {
      this.queue.push(message)
      return ACCEPTED
    }
    return new Promise<void>((resolve, reject) => {
      const entry = { message, resolve, reject }
      this.senders.push(entry)
      const signal = options?.signal
      if (signal === undefined) return
      const onAbort = (): void => {
        const index = this.senders.indexOf(entry)
        if (index >= 0) this.senders.splice(index, 1)
        reject(signal.reason as Error)
      }
      signal.addEventListener('abort', onAbort, { once: true })
      entry.resolve = () => { signal.removeEventListener('abort', onAbort); resolve() }
      entry.reject = (error) => { signal.removeEventListener('abort', onAbort); reject(error) }
    })
  }

  private receive (options?: AbortOptions): Promise<Message | undefined> {
    options?.signal?.throwIfAborted()
    if (this.size > 0) {
      const message = this.queue[this.head] as Message
      this.queue[this.head++] = undefined as unknown as Message
      if (this.head > 1024 && this.head * 2 > this.queue.length) {
        this.queue.splice(0, this.head)
        this.head = 0
      }
      const blocked = this.senders.shift()
      if (blocked !== undefined) {
        this.queue.push(blocked.message)
        blocked.resolve()
      }
      return Promise.resolve(message)
    }
    const blocked = this.senders.shift()
    if (blocked !== undefined) {
      blocked.resolve()
      return Promise.resolve(blocked.message)
    }
    if (this.closed) {
      return this.closeError === undefined ? Promise.resolve(undefined) : Promise.reject(this.closeError)
    }
    return new Promise((resolve, reject) => {
      const entry: Waiter<Message | undefined> = { resolve, reject }
      this.receivers.push(entry)
      const signal = options?.signal
      if (signal === undefined) return
      const onAbort = (): void => {
        const index = this.receivers.indexOf(entry)
        if (index >= 0) this.receivers.splice(index, 1)
        reject(signal.reason as Error)
      }
      signal.addEventListener('abort', onAbort, { once: true })
      entry.resolve = (value) => { signal.removeEventListener('abort', onAbort); resolve(value) }
      entry.reject = (error) => { signal.removeEventListener('abort', onAbort); reject(error) }
    })
  }

  private closedError (): SwarmError {
    return new SwarmError(ErrorCode.ChannelClosed, 'channel is closed', { cause: this.closeError })
  }

  private abandonedSignal (): AbortSignal {
    if (this.abandon === undefined) {
      this.abandon = new AbortController()
      if (this.abandonReason !== undefined) this.abandon.abort(this.abandonReason)
    }
    return this.abandon.signal
  }

  /** The receiver left before the sender closed: whoever sends here should stop. */
  private closeByReceiver (error: Error): void {
    if (this.closed) return
    this.close(error)
    this.abandonReason = error
    this.abandon?.abort(error)
  }

  close (error?: Error): void {
    if (this.closed) return
    this.closed = true
    this.closeError = error
    for (const waiter of this.receivers.splice(0)) {
      if (error === undefined) waiter.resolve(undefined)
      else waiter.reject(error)
    }
    if (error !== undefined) {
      for (const blocked of this.senders.splice(0)) blocked.reject(this.closedError())
    }
  }
}
