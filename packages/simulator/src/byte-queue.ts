/**
 * A byte stream the simulator pushes into (container output, event lines, a wait
 * status) and a client pulls from. It holds at most `limit` bytes: a reader that falls
 * that far behind loses the oldest chunks, as a container's output would be lost by a
 * logging driver in non-blocking mode, rather than the engine's memory growing.
 */
export class ByteQueue implements AsyncIterable<Uint8Array> {
  private chunks: Uint8Array[] = []
  private bytes = 0
  private ended = false
  private wake: (() => void) | undefined
  private unlisten: (() => void) | undefined
  /** Runs once when the reader stops, or the queue ends: detach from whatever feeds it. */
  onClose: (() => void) | undefined

  constructor (private readonly limit = 1 << 20) {}

  get closed (): boolean { return this.ended }

  push (chunk: Uint8Array): void {
    if (this.ended || chunk.byteLength === 0) return
    this.chunks.push(chunk)
    this.bytes += chunk.byteLength
    while (this.bytes > this.limit && this.chunks.length > 1) this.bytes -= (this.chunks.shift() as Uint8Array).byteLength
    this.signal()
  }

  /** Ends the stream once what is queued has been read. */
  end (): void {
    if (this.ended) return
    this.ended = true
    this.signal()
    this.detach()
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
            return { done: false, value: chunk }
          }
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
