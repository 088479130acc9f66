import { Duplex } from 'node:stream'

/**
 * A duplex over a readable and a writable (one socket, or a child's stdout and stdin)
 * whose writes complete at once.
 *
 * Why: node:http2 stops reading its socket while a write to it is in progress
 * (`Http2Session::MaybeStopReading`). When both ends send bulk data at the same time
 * (an attach with stdin and stdout, an echo) both writes block on full socket buffers,
 * neither end reads, and the connection deadlocks. Completing writes at once keeps
 * each end reading. What waits here is bounded by HTTP/2 flow control: the peer grants
 * connection window only for bytes it received, so at most one connection window
 * (16 MiB) sits in this buffer.
 */
export class SocketDuplex extends Duplex {
  constructor (private readonly input: NodeJS.ReadableStream, private readonly output: NodeJS.WritableStream) {
    super({ allowHalfOpen: true, readableHighWaterMark: 1024 * 1024, writableHighWaterMark: 1024 * 1024 })
    input.on('data', (chunk: Buffer) => {
      if (!this.push(chunk)) input.pause()
    })
    input.on('end', () => { this.push(null) })
    const fail = (error: Error): void => { this.destroy(error) }
    input.on('error', fail)
    if (output !== (input as unknown)) output.on('error', fail)
    input.on('close', () => { if (!this.destroyed) this.destroy() })
    input.pause()
  }

  override _read (): void {
    this.input.resume()
  }

  override _write (chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.output.write(chunk)
    callback()
  }

  override _writev (chunks: Array<{ chunk: Buffer }>, callback: (error?: Error | null) => void): void {
    // HTTP/2 hands over each frame header and payload apart (16 KiB DATA frames): corked,
    // a socket sends them with one writev instead of one syscall each.
    const output = this.output as NodeJS.WritableStream & { cork?: () => void, uncork?: () => void }
    output.cork?.()
    for (const { chunk } of chunks) output.write(chunk)
    output.uncork?.()
    callback()
  }

  override _final (callback: (error?: Error | null) => void): void {
    this.output.end()
    callback()
  }

  override _destroy (error: Error | null, callback: (error?: Error | null) => void): void {
    const destroyable = (stream: unknown): void => {
      const target = stream as { destroy?: () => void, destroyed?: boolean }
      if (typeof target.destroy === 'function' && target.destroyed !== true) target.destroy()
    }
    destroyable(this.input)
    destroyable(this.output)
    callback(error)
  }
}
