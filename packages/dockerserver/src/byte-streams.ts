import type { Readable, Writable } from 'node:stream'
import type { ByteStream } from '@libswarm/core'

/**
 * A pull-driven byte stream over a Node readable: bytes are read only when the consumer
 * asks for the next chunk, so a slow backend slows the client down (the readable's own
 * buffer and TCP do the rest). `return()` detaches without destroying the readable: the
 * socket of a hijacked connection must stay writable after its reader gives up.
 */
export function readableByteStream (readable: Readable): ReleasableByteStream {
  let iterator: ReadableIterator | undefined
  let released = false
  return {
    [Symbol.asyncIterator]: () => {
      if (iterator !== undefined) throw new Error('this byte stream can be iterated only once')
      iterator = new ReadableIterator(readable)
      if (released) void iterator.return()
      return iterator
    },
    release: () => {
      released = true
      void iterator?.return()
    }
  }
}

/** A byte stream whose reader can be stopped from the producer's side. */
export interface ReleasableByteStream extends ByteStream {
  /** Ends the stream for its reader and stops reading the readable, which is left open. */
  release (): void
}

class ReadableIterator implements AsyncIterableIterator<Uint8Array> {
  private finished = false
  private failure: Error | undefined
  private wakeUp: (() => void) | undefined

  constructor (private readonly readable: Readable) {
    readable.on('readable', this.wake)
    readable.on('end', this.onEnd)
    readable.on('close', this.onEnd)
    readable.on('error', this.onError)
    if (readable.readableEnded) this.finished = true
  }

  [Symbol.asyncIterator] (): this { return this }

  private readonly wake = (): void => {
    const wakeUp = this.wakeUp
    this.wakeUp = undefined
    wakeUp?.()
  }

  private readonly onEnd = (): void => { this.finished = true; this.wake() }
  private readonly onError = (error: Error): void => { this.failure = error; this.finished = true; this.wake() }

  async next (): Promise<IteratorResult<Uint8Array>> {
    while (true) {
      if (!this.readable.destroyed || this.readable.readableLength > 0) {
        const chunk = this.readable.read() as Buffer | string | null
        if (chunk !== null) return { done: false, value: typeof chunk === 'string' ? Buffer.from(chunk) : chunk }
      }
      if (this.finished) {
        this.detach()
        if (this.failure !== undefined && !isDisconnect(this.failure)) throw this.failure
        return { done: true, value: undefined }
      }
      await new Promise<void>((resolve) => { this.wakeUp = resolve })
    }
  }

  async return (): Promise<IteratorResult<Uint8Array>> {
    this.finished = true
    this.detach()
    this.wake()
    return { done: true, value: undefined }
  }

  private detach (): void {
    this.readable.off('readable', this.wake)
    this.readable.off('end', this.onEnd)
    this.readable.off('close', this.onEnd)
    this.readable.off('error', this.onError)
  }
}

/** A client that hangs up is the end of its stream, not a failure. */
function isDisconnect (error: Error): boolean {
  const code = (error as NodeJS.ErrnoException).code
  return code === 'ECONNRESET' || code === 'EPIPE' || code === 'ERR_STREAM_PREMATURE_CLOSE' || error.message === 'aborted'
}

/** Reads exactly `length` bytes (fewer if the readable ends first). */
export async function readExactly (readable: Readable, length: number, limit: number): Promise<Buffer> {
  if (length > limit) throw new RangeError(`request body of ${length} bytes is over the limit of ${limit}`)
  const chunks: Buffer[] = []
  let have = 0
  const iterator = new ReadableIterator(readable)
  try {
    while (have < length) {
      const { done, value } = await iterator.next()
      if (done === true) break
      const chunk = Buffer.from(value.buffer, value.byteOffset, value.byteLength)
      if (have + chunk.length > length) {
        const needed = length - have
        chunks.push(chunk.subarray(0, needed))
        readable.unshift(chunk.subarray(needed))
        have = length
        break
      }
      chunks.push(chunk)
      have += chunk.length
    }
  } finally {
    await iterator.return()
  }
  return Buffer.concat(chunks, have)
}

/** Reads a readable to its end, refusing more than `limit` bytes. */
export async function readAll (readable: Readable, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = []
  let have = 0
  const iterator = new ReadableIterator(readable)
  try {
    while (true) {
      const { done, value } = await iterator.next()
      if (done === true) break
      have += value.byteLength
      if (have > limit) throw new RangeError(`request body is over the limit of ${limit} bytes`)
      chunks.push(Buffer.from(value.buffer, value.byteOffset, value.byteLength))
    }
  } finally {
    await iterator.return()
  }
  return Buffer.concat(chunks, have)
}

/** How a pump ended: the stream ran out, or the writable went away first. */
export type PumpResult = 'ended' | 'disconnected'

const DONE: IteratorResult<Uint8Array> = { done: true, value: undefined }

/**
 * Writes a byte stream to a writable with backpressure: the next chunk is pulled only
 * once the writable has room. When the writable closes first (the client hung up), the
 * stream's iterator is returned at once so that the producer stops. With `abandonable`,
 * a pull still pending then is given up too: an async generator waiting for its next
 * event only sees `return()` after that event, which for `docker events` may never come.
 * It costs a promise per chunk, so it is for streams that never end by themselves.
 */
export async function pumpToWritable (stream: ByteStream, writable: Writable, options: { abandonable?: boolean } = {}): Promise<PumpResult> {
  const iterator = stream[Symbol.asyncIterator]()
  let disconnected = writable.destroyed || (writable as { closed?: boolean }).closed === true
  let releaseDrain: (() => void) | undefined
  let abandonPull: ((result: IteratorResult<Uint8Array>) => void) | undefined
  const onClose = (): void => {
    if (disconnected) return
    disconnected = true
    releaseDrain?.()
    abandonPull?.(DONE)
    void Promise.resolve(iterator.return?.()).catch(() => {})
  }
  const abandonable = options.abandonable === true
  const pullAbandonable = async (): Promise<IteratorResult<Uint8Array>> => await new Promise((resolve, reject) => {
    abandonPull = resolve
    iterator.next().then(resolve, reject)
  })
  writable.on('close', onClose)
  writable.on('error', onClose)
  try {
    if (disconnected) {
      await iterator.return?.()
      return 'disconnected'
    }
    while (true) {
      const { done, value } = abandonable ? await pullAbandonable() : await iterator.next()
      if (disconnected) return 'disconnected'
      if (done === true) return 'ended'
      if (value.byteLength === 0) continue
      if (!writable.write(value)) {
        await new Promise<void>((resolve) => {
          releaseDrain = resolve
          writable.once('drain', resolve)
        })
        writable.off('drain', releaseDrain as () => void)
        releaseDrain = undefined
        if (disconnected) return 'disconnected'
      }
    }
  } finally {
    writable.off('close', onClose)
    writable.off('error', onClose)
  }
}
