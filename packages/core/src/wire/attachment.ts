import http2 from 'node:http2'
import { ErrorCode, SwarmError } from '../errors.js'
import type { ByteStream } from '../message.js'
import type { Unclaimed, UnclaimedAttachments } from './connection-limits.js'

const { NGHTTP2_CANCEL } = http2.constants

const WRITE_AHEAD = 1024 * 1024

function noop (): void {}

/**
 * Resets an attachment stream from its sending end, so that the receiver sees an error.
 * Node's `Http2Stream.close(code)` on a stream still open for writing ends it (END_STREAM)
 * before it resets it, and the receiver then takes the bytes so far for the whole stream;
 * `destroy(error)` sends RST_STREAM with INTERNAL_ERROR at once.
 */
export function abortAttachment (stream: http2.Http2Stream): void {
  if (!stream.destroyed) stream.destroy(new SwarmError(ErrorCode.Unavailable, 'the sender aborted the attachment'))
}

/** Resolves once `stream` can take more bytes; rejects if it closes first. */
function drained (stream: http2.Http2Stream): Promise<void> {
  return new Promise((resolve, reject) => {
    const done = (error?: Error): void => {
      stream.off('drain', onDrain)
      stream.off('close', onClose)
      if (error === undefined) resolve()
      else reject(error)
    }
    const onDrain = (): void => { done() }
    const onClose = (): void => { done(new SwarmError(ErrorCode.ChannelClosed, 'the receiver closed the attachment')) }
    stream.on('drain', onDrain)
    stream.on('close', onClose)
  })
}

/**
 * Copies `source` into the HTTP/2 stream `stream`, pulling the next chunk only once
 * the stream took the previous one. A failing source resets the stream with
 * INTERNAL_ERROR; a reset from the receiver ends the source with `return()`.
 */
export async function sendAttachment (source: ByteStream | Iterable<Uint8Array>, stream: http2.Http2Stream): Promise<void> {
  stream.on('error', noop)
  let iterator: AsyncIterator<Uint8Array> | Iterator<Uint8Array> | undefined
  let sourceFailed = false
  let returned = false
  // A receiver that cancels while the source has nothing to give (events, an idle attach) is
  // heard at once, not at the next chunk: the source is told to stop now.
  const onClose = (): void => {
    if (returned) return
    returned = true
    void Promise.resolve(iterator?.return?.()).catch(noop)
  }
  stream.once('close', onClose)
  try {
    // Sync iterables (an array of chunks) are accepted too: in memory they would work.
    iterator = Symbol.asyncIterator in source ? source[Symbol.asyncIterator]() : (source as Iterable<Uint8Array>)[Symbol.iterator]()
    while (true) {
      let step: IteratorResult<Uint8Array>
      try {
        step = await iterator.next()
      } catch (error) {
        sourceFailed = true
        throw error
      }
      if (step.done === true) break
      if (stream.destroyed || stream.closed) throw new SwarmError(ErrorCode.ChannelClosed, 'the receiver closed the attachment')
      if (step.value.length === 0) continue
      // Writing ahead past the stream's 16 KiB high-water mark, up to WRITE_AHEAD, saves
      // a turn of the event loop per chunk; HTTP/2 flow control still bounds what travels.
      stream.write(step.value)
      if (stream.writableLength >= WRITE_AHEAD) await drained(stream)
    }
    returned = true
    stream.end()
  } catch {
    abortAttachment(stream)
    if (!sourceFailed && !returned) {
      returned = true
      await Promise.resolve(iterator?.return?.()).catch(noop)
    }
  } finally {
    stream.off('close', onClose)
  }
}

/**
 * The receiving side of an attachment: a {@link ByteStream} over an HTTP/2 stream that
 * may arrive after the message announcing it. It can be iterated once; leaving the
 * loop early resets the stream with CANCEL, which stops the sender.
 */
export class IncomingAttachment implements ByteStream, Unclaimed {
  private stream: http2.Http2Stream | undefined
  private failure: Error | undefined
  private wake: (() => void) | undefined
  private used = false
  private status: Promise<number> | undefined
  private finished = false
  private stopping = false
  /** The reader left early (`return()`): the stream was cancelled, and that is no error. */
  private stoppedByReader = false

  /**
   * `unclaimed`: the connection's count of attachments nobody reads yet, which this one joins
   * once its stream arrives and leaves once someone reads it.
   */
  constructor (readonly id: number, private readonly expectStatus: boolean, private readonly unclaimed?: UnclaimedAttachments) {}

  /** Called once when it is dropped or cancelled. */
  onDrop: (() => void) | undefined
  /**
   * Asks the sender to end the stream itself when the reader stops (a STOP frame); false when it
   * cannot be asked, and the stream is reset instead.
   */
  askSenderToStop: (() => boolean) | undefined

  /** Its message came first: its stream is awaited no longer than an unclaimed attachment. */
  expect (): void {
    if (this.stream === undefined && this.failure === undefined) this.unclaimed?.admit(this, false)
  }

  /** The HTTP/2 stream carrying the bytes has arrived. */
  provide (stream: http2.Http2Stream): void {
    stream.on('error', noop)
    if (this.failure !== undefined || this.finished || this.stoppedByReader) {
      if (this.stoppedByReader) this.stopStream(stream)
      else stream.close(NGHTTP2_CANCEL)
      return
    }
    this.stream = stream
    if (this.used) this.unclaimed?.release(this)
    else if (this.unclaimed?.admit(this, true) === false) return
    if (this.expectStatus) {
      this.status = new Promise<number>((resolve, reject) => {
        const onResponse = (headers: http2.IncomingHttpHeaders): void => { stream.off('close', onClose); resolve(Number(headers[':status'])) }
        const onClose = (): void => { stream.off('response', onResponse); reject(new SwarmError(ErrorCode.Unavailable, `attachment ${this.id} closed before its response`)) }
        stream.once('response', onResponse)
        stream.once('close', onClose)
      })
      this.status.catch(noop)
    }
    this.wake?.()
  }

  /**
   * Nobody will read it (its message was dropped) or the connection ended; after a `clean` end,
   * one whose bytes all arrived (END_STREAM, no reset) can still be read.
   */
  cancel (error: Error, clean = false): void {
    if (clean && this.stream?.closed === true && this.stream.rstCode === http2.constants.NGHTTP2_NO_ERROR) return
    this.drop(NGHTTP2_CANCEL, error)
  }

  /** Bytes that arrived and wait to be read. */
  buffered (): number {
    return this.stream?.readableLength ?? 0
  }

  /** Ends it with `error` for its reader, and its stream with the HTTP/2 code `h2Code`. */
  drop (h2Code: number, error: Error): void {
    this.unclaimed?.release(this)
    if (this.failure !== undefined) return
    this.failure = error
    this.onDrop?.()
    const stream = this.stream
    if (stream !== undefined && !this.finished) {
      if (!stream.closed) stream.close(h2Code)
      // What arrived unread goes with it.
      else if (!this.used) stream.destroy()
    }
    this.wake?.()
  }

  /** The stream once it arrived; `undefined` if the reader gave up first. */
  private async opened (): Promise<http2.Http2Stream | undefined> {
    while (this.stream === undefined) {
      if (this.stoppedByReader) return undefined
      if (this.failure !== undefined) throw this.failure
      await new Promise<void>((resolve) => { this.wake = resolve })
      this.wake = undefined
    }
    if (this.failure !== undefined) throw this.failure
    const stream = this.stream
    if (this.status !== undefined) {
      const status = await this.status
      if (status !== 200) throw new SwarmError(status === 404 ? ErrorCode.NotFound : ErrorCode.Protocol, `attachment ${this.id}: status ${status}`)
    }
    return stream
  }

  /**
   * The bytes. `return()` takes effect at once, even while a read waits for bytes that may
   * never come (an idle attach, events): the stream is reset with CANCEL and the wait ends.
   */
  [Symbol.asyncIterator] (): AsyncGenerator<Uint8Array, void, undefined> {
    const inner = this.read()
    const stopReading = (): void => {
      if (this.finished || this.failure !== undefined) return
      this.stoppedByReader = true
      if (this.stream !== undefined) this.stopStream(this.stream)
      this.wake?.()
    }
    return Object.assign(Object.create(inner) as AsyncGenerator<Uint8Array, void, undefined>, {
      next: async () => await inner.next(),
      return: async () => {
        stopReading()
        return await inner.return(undefined)
      },
      throw: async (error: unknown) => {
        stopReading()
        return await inner.throw(error)
      },
      [Symbol.asyncIterator] () { return this }
    })
  }

  private async * read (): AsyncGenerator<Uint8Array, void, undefined> {
    if (this.used) throw new SwarmError(ErrorCode.Protocol, 'an attachment can be read only once')
    this.used = true
    // Until its stream arrives it still waits within the timeout.
    if (this.stream !== undefined) this.unclaimed?.release(this)
    const stream = await this.opened()
    if (stream === undefined) return
    try {
      yield * readHttp2Stream(stream)
      if (this.stoppedByReader) return
      // A reset (or the connection ending) may end the readable side without an error.
      if (this.failure !== undefined) throw this.failure
      if (stream.aborted || (stream.rstCode !== undefined && stream.rstCode !== http2.constants.NGHTTP2_NO_ERROR)) {
        throw new SwarmError(ErrorCode.Unavailable, `attachment ${this.id} was reset by its sender (code ${stream.rstCode})`)
      }
      this.finished = true
    } catch (error) {
      if (this.stoppedByReader) return
      if (this.failure !== undefined) throw this.failure
      if ((error as { name?: string }).name === 'SwarmError') throw error
      throw new SwarmError(ErrorCode.Unavailable, `attachment ${this.id} was aborted: ${(error as Error).message}`, { cause: error })
    } finally {
      if (!this.finished) {
        if (this.stoppedByReader) this.stopStream(stream)
        else if (!stream.closed) stream.close(NGHTTP2_CANCEL)
      }
    }
  }

  /**
   * The reader left: the sender is asked to end the stream, and what still arrives is dropped;
   * a sender that cannot be asked, or does not end it in time, has it reset.
   */
  private stopStream (stream: http2.Http2Stream): void {
    if (stream.closed || this.stopping) return
    this.stopping = true
    if (this.askSenderToStop?.() !== true) {
      stream.close(NGHTTP2_CANCEL)
      return
    }
    const discard = (): void => {
      if (stream.closed) return
      stream.on('data', noop)
      stream.resume()
    }
    // The reader's own listeners go first (its iterator is returning), then the bytes flow to nowhere.
    setImmediate(discard)
    const timer = setTimeout(() => { if (!stream.closed) stream.close(NGHTTP2_CANCEL) }, STOP_GRACE_MS)
    timer.unref()
    stream.once('close', () => { clearTimeout(timer) })
  }
}

/** How long a sender asked to stop may take before the reader resets the stream itself. */
const STOP_GRACE_MS = 5_000

/** Chunks held before the HTTP/2 stream is paused, and the count at which it is resumed. */
const QUEUE_PAUSE_AT = 16
const QUEUE_RESUME_AT = 4

/**
 * The chunks of an HTTP/2 stream's readable side, pulled with backpressure: the stream is
 * paused while the consumer is behind. Node 24's async iterator over an Http2Stream that
 * already completed throws ERR_STREAM_PREMATURE_CLOSE after the last chunk; its events
 * ('data', 'end', 'close') tell the truth on every version.
 */
async function * readHttp2Stream (stream: http2.Http2Stream): AsyncGenerator<Buffer, void, undefined> {
  const queue: Buffer[] = []
  let ended = false
  let failure: Error | undefined
  let wake: (() => void) | undefined
  const notify = (): void => {
    const resolve = wake
    wake = undefined
    resolve?.()
  }
  const onData = (chunk: Buffer): void => {
    queue.push(chunk)
    if (queue.length >= QUEUE_PAUSE_AT) stream.pause()
    notify()
  }
  const onEnd = (): void => { ended = true; notify() }
  const onError = (error: Error): void => { failure ??= error; notify() }
  stream.on('data', onData)
  stream.once('end', onEnd)
  stream.once('close', onEnd)
  stream.on('error', onError)
  // It may have ended, or been reset, before anyone read it: then no event is still to come.
  if (stream.readableEnded || stream.destroyed) ended = true
  if (stream.errored !== null) failure = stream.errored
  try {
    while (true) {
      const chunk = queue.shift()
      if (chunk !== undefined) {
        if (queue.length <= QUEUE_RESUME_AT && stream.isPaused()) stream.resume()
        yield chunk
        continue
      }
      if (failure !== undefined) throw failure
      if (ended) return
      await new Promise<void>((resolve) => { wake = resolve })
    }
  } finally {
    stream.off('data', onData)
    stream.off('end', onEnd)
    stream.off('close', onEnd)
    stream.off('error', onError)
  }
}
