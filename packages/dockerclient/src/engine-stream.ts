import type { Readable } from 'node:stream'
import { ErrorCode, SwarmError, type ByteStream } from '@libswarm/core'
import { engineConnectionLost } from './errors.js'

/** Bytes taken from the engine ahead of the reader before the connection is paused. */
const HIGH_WATER_MARK = 128 * 1024
/** Small chunks waiting together are handed on as one when they add up to no more than this. */
const COALESCE_LIMIT = 64 * 1024
/** Only chunks below this size are run together: copying bigger ones costs more than handing them on one by one. */
const SMALL_CHUNK = 8 * 1024

const DONE: IteratorReturnResult<undefined> = Object.freeze({ done: true, value: undefined })

/** What an engine stream calls when it is over. */
export interface EngineStreamHooks {
  /** The reader gave up early (`return()`): stop the engine request. */
  readonly abandon: () => void
  /** The stream ended, failed or was abandoned; called once. */
  readonly finish?: (() => void) | undefined
}

/**
 * A ByteStream over an engine reply (or a hijacked connection). The readable flows into a
 * small queue and is paused once {@link HIGH_WATER_MARK} bytes wait, so the engine is read
 * only a little ahead of the reader and TCP pushes back on it beyond that. The chunks are
 * the engine's own buffers; small ones that waited together (log lines) go on as one, up to
 * 64 KiB, which saves the reader a pull per line. Breaking out early calls `abandon`.
 */
export function engineStream (readable: Readable, address: string, hooks: EngineStreamHooks): ByteStream {
  let used = false
  return {
    [Symbol.asyncIterator]: () => {
      if (used) throw new SwarmError(ErrorCode.Protocol, 'an engine reply stream can be read once')
      used = true
      return new EngineStreamIterator(readable, address, hooks)
    }
  }
}

interface Waiter {
  resolve: (result: IteratorResult<Uint8Array>) => void
  reject: (error: unknown) => void
}

class EngineStreamIterator implements AsyncIterator<Uint8Array> {
  private readonly queue: Buffer[] = []
  private queued = 0
  private paused = false
  private ended = false
  private failure: unknown
  /** Set once the reader saw the end (or an error) or gave up: nothing more is delivered. */
  private over = false
  private waiter: Waiter | undefined

  constructor (private readonly readable: Readable, private readonly address: string, private readonly hooks: EngineStreamHooks) {
    readable.on('data', this.onData)
    readable.on('end', this.onEnd)
    readable.on('error', this.onError)
    readable.on('close', this.onClose)
    // a socket handed over paused (a hijack) flows only when asked
    readable.resume()
    if (readable.readableEnded) this.onEnd()
  }

  next (): Promise<IteratorResult<Uint8Array>> {
    if (this.queue.length > 0) return Promise.resolve({ done: false, value: this.take() })
    if (this.over) return Promise.resolve(DONE)
    if (this.failure !== undefined) return Promise.reject(this.fail())
    if (this.ended) {
      this.stop()
      return Promise.resolve(DONE)
    }
    if (this.paused) this.resumeReading()
    return new Promise((resolve, reject) => { this.waiter = { resolve, reject } })
  }

  async return (): Promise<IteratorResult<Uint8Array>> {
    if (!this.over) {
      const finished = this.ended && this.queue.length === 0
      this.stop()
      this.queue.length = 0
      this.queued = 0
      if (!finished) {
        this.hooks.abandon()
        this.readable.destroy()
      }
    }
    const waiter = this.waiter
    this.waiter = undefined
    waiter?.resolve(DONE)
    return DONE
  }

  private readonly onData = (chunk: Buffer | string): void => {
    if (this.over) return
    const buffer = typeof chunk === 'string' ? Buffer.from(chunk) : chunk
    const waiter = this.waiter
    if (waiter !== undefined && this.queue.length === 0) {
      this.waiter = undefined
      waiter.resolve({ done: false, value: buffer })
      return
    }
    this.queue.push(buffer)
    this.queued += buffer.length
    if (this.queued >= HIGH_WATER_MARK && !this.paused) {
      this.paused = true
      this.readable.pause()
    }
  }

  private readonly onEnd = (): void => {
    this.ended = true
    this.settleWaiter()
  }

  private readonly onError = (error: unknown): void => {
    if (this.ended || this.over) return
    this.failure ??= error
    this.settleWaiter()
  }

  /** A close before the end, without an error, is a connection cut short. */
  private readonly onClose = (): void => {
    if (this.ended || this.over || this.failure !== undefined) return
    const error = new Error('premature close') as NodeJS.ErrnoException
    error.code = 'ERR_STREAM_PREMATURE_CLOSE'
    this.onError(error)
  }

  /** Wakes a waiting reader with the end or the failure (data never waits: it goes straight to it). */
  private settleWaiter (): void {
    const waiter = this.waiter
    if (waiter === undefined || this.queue.length > 0) return
    this.waiter = undefined
    if (this.failure !== undefined) waiter.reject(this.fail())
    else {
      this.stop()
      waiter.resolve(DONE)
    }
  }

  /** The next value: the first chunk, or the first few run together when they are small. */
  private take (): Buffer {
    const queue = this.queue
    let first = queue[0] as Buffer
    let count = 1
    let size = first.length
    if (size < SMALL_CHUNK) {
      while (count < queue.length) {
        const length = (queue[count] as Buffer).length
        if (length >= SMALL_CHUNK || size + length > COALESCE_LIMIT) break
        size += length
        count++
      }
    }
    if (count === 1) queue.shift()
    else first = Buffer.concat(queue.splice(0, count), size)
    this.queued -= size
    if (this.paused && this.queued < HIGH_WATER_MARK / 2) this.resumeReading()
    return first
  }

  private resumeReading (): void {
    if (this.ended || this.over) return
    this.paused = false
    this.readable.resume()
  }

  private fail (): SwarmError {
    const error = this.failure
    this.stop()
    return engineConnectionLost(this.address, error)
  }

  private stop (): void {
    if (this.over) return
    this.over = true
    this.readable.off('data', this.onData)
    this.readable.off('end', this.onEnd)
    this.readable.off('close', this.onClose)
    // an error after the end must not go unhandled
    this.readable.on('error', () => {})
    this.readable.off('error', this.onError)
    this.hooks.finish?.()
  }
}
