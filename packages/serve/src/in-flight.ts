import type { AbortOptions, ByteStream, Message, Sender } from '@libswarm/core'

/**
 * The requests that passed serve and whose answers have not reached the wire yet: a request
 * counts until its return channel is closed, and each streamed reply until its stream is read
 * to the end. A draining close waits for none to be left.
 */
export class InFlight {
  private count = 0
  private waiters: Array<() => void> = []

  get size (): number { return this.count }

  /** `message`, its return channel tracked; a message without one needs no answer. */
  track (message: Message): Message {
    if (message.ret === undefined) return message
    this.count++
    return { ...message, ret: new TrackedReturn(message.ret, this) }
  }

  /** `stream`, counted until it ends, fails or its reader leaves. */
  trackStream (stream: ByteStream): ByteStream {
    this.count++
    let ended = false
    const end = (): void => {
      if (ended) return
      ended = true
      this.done()
    }
    return {
      [Symbol.asyncIterator]: () => {
        const iterator = stream[Symbol.asyncIterator]()
        return {
          next: async () => {
            try {
              const step = await iterator.next()
              // On the next turn: the wire writes the end of the attachment first.
              if (step.done === true) setImmediate(end)
              return step
            } catch (error) {
              end()
              throw error
            }
          },
          return: async (value?: unknown) => {
            end()
            return await iterator.return?.(value) ?? { done: true, value: undefined }
          }
        }
      }
    }
  }

  done (): void {
    if (--this.count > 0) return
    for (const resolve of this.waiters.splice(0)) resolve()
  }

  /** Resolves once nothing is in flight, or when `signal` aborts. */
  async idle (options: AbortOptions = {}): Promise<void> {
    const signal = options.signal
    if (this.count === 0 || signal?.aborted === true) return
    await new Promise<void>((resolve) => {
      const finish = (): void => {
        signal?.removeEventListener('abort', finish)
        const index = this.waiters.indexOf(finish)
        if (index >= 0) this.waiters.splice(index, 1)
        resolve()
      }
      this.waiters.push(finish)
      signal?.addEventListener('abort', finish, { once: true })
    })
  }
}

/** A request's return channel, seen by the chain behind serve. */
class TrackedReturn implements Sender {
  private closed = false
  constructor (private readonly ret: Sender, private readonly flights: InFlight) {}

  async send (reply: Message, options?: AbortOptions): Promise<void> {
    await this.ret.send(reply.stream === undefined ? reply : { ...reply, stream: this.flights.trackStream(reply.stream) }, options)
  }

  async close (error?: Error): Promise<void> {
    if (!this.closed) {
      this.closed = true
      this.flights.done()
    }
    await this.ret.close(error)
  }
}
