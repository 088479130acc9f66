import { ErrorCode, SwarmError } from '@libswarm/core'

/**
 * A byte stream the simulator pushes into (container output, event lines, a wait
 * status) and a client pulls from. It holds at most `limit` bytes: a reader that falls
 * further behind gets what was queued, then an UNAVAILABLE error, rather than the
 * engine's memory growing or a stream with a hole in it. Writers that can wait (an
 * attach's stdin feeding `cat`) wait for {@link room} instead.
 */
export class ByteQueue implements AsyncIterable<Uint8Array> {
  private chunks: Uint8Array[] = []
  private bytes = 0
  private ended = false
  private failure: Error | undefined
  private wake: (() => void) | undefined
  private unlisten: (() => void) | undefined
  private roomWaiters: Array<() => void> = []
  /** Runs once when the reader stops, or the queue ends: detach from whatever feeds it. */
  onClose: (() => void) | undefined

  constructor (private readonly limit = 1 << 20) {}

  get closed (): boolean { return this.ended }

  push (chunk: Uint8Array): void {
    if (this.ended || chunk.byteLength === 0) return
    this.chunks.push(chunk)
    this.bytes += chunk.byteLength
    if (this.bytes > this.limit && this.chunks.length > 1) {
      this.failure = new SwarmError(ErrorCode.Unavailable, `the reader fell more than ${this.limit} bytes behind the output; the stream was cut`)
      this.end()
      return
    }
    this.signal()
  }

  /** Ends the stream once what is queued has been read. */
  end (): void {
    if (this.ended) return
    this.ended = true
    this.signal()
    this.releaseRoom()
    this.detach()
  }

  /** `undefined` when the queue is empty (or ended), else a promise that resolves once it is. */
  room (): Promise<void> | undefined {
    if (this.chunks.length === 0 || this.ended) return undefined
    return new Promise((resolve) => { this.roomWaiters.push(resolve) })
  }

  private releaseRoom (): void {
    const waiters = this.roomWaiters
    if (waiters.length === 0) return
    this.roomWaiters = []
    for (const resolve of waiters) resolve()
  }

  private signal (): void {
    const wake = this.wake
    this.wake = undefined
    wake?.()
  }

  /** Stops the stream as its reader's `return()` would once `signal` aborts: the requester left. */
  stopOn (signal: AbortSignal): void {
    if (signal.aborted) {
      this.stop()
      return
    }
    const stop = (): void => { this.stop() }
    signal.addEventListener('abort', stop, { once: true })
    this.unlisten = () => { signal.removeEventListener('abort', stop) }
  }

  private stop (): void {
    this.ended = true
    this.chunks = []
    this.bytes = 0
    this.signal()
    this.releaseRoom()
    this.detach()
  }

  private detach (): void {
    this.unlisten?.()
    this.unlisten = undefined
    const onClose = this.onClose
    this.onClose = undefined
    onClose?.()
  }

  [Symbol.asyncIterator] (): AsyncIterator<Uint8Array> {
    return {
      next: async () => {
        while (true) {
          const chunk = this.chunks.shift()
          if (chunk !== undefined) {
            this.bytes -= chunk.byteLength
            if (this.chunks.length === 0) this.releaseRoom()
            return { done: false, value: chunk }
          }
          if (this.failure !== undefined) throw this.failure
          if (this.ended) return { done: true, value: undefined }
          await new Promise<void>((resolve) => { this.wake = resolve })
        }
      },
      return: async () => {
        this.stop()
        return { done: true, value: undefined }
      }
    }
  }
}
