import http2 from 'node:http2'
import { ErrorCode, SwarmError } from '../errors.js'

/**
 * What one peer may make this end hold for it, per connection. Every limit has a default;
 * see PROTOCOL.md §8.
 */
export interface WireLimits {
  /**
   * Attachment streams the peer opened (or this end fetched) that nobody has started to read,
   * at once. One more is reset with `REFUSED_STREAM` as it arrives. Default 1024.
   */
  unclaimedAttachments?: number
  /**
   * Bytes buffered in those streams, all together. Past it, the fullest is reset with
   * `ENHANCE_YOUR_CALM`. Each one also holds at most the HTTP/2 stream window (16 MiB).
   * Default 256 MiB.
   */
  unclaimedAttachmentBytes?: number
  /**
   * Milliseconds an attachment may wait to be read (or, on the listening end, to be fetched)
   * before it is dropped: its stream is reset with `CANCEL`. 0 disables. Default 30000.
   */
  unclaimedAttachmentTimeout?: number
}

/** The defaults of {@link WireLimits}. */
export const DEFAULT_WIRE_LIMITS: Required<WireLimits> = {
  unclaimedAttachments: 1024,
  unclaimedAttachmentBytes: 256 * 1024 * 1024,
  unclaimedAttachmentTimeout: 30_000
}

const { NGHTTP2_CANCEL, NGHTTP2_ENHANCE_YOUR_CALM, NGHTTP2_REFUSED_STREAM } = http2.constants

/** Milliseconds between two looks at the bytes and deadlines of unclaimed attachments. */
const SWEEP_INTERVAL = 100

/** Something the connection holds on the peer's behalf until this end's application takes it. */
export interface Unclaimed {
  /** Bytes it holds now. */
  buffered (): number
  /** Drops it: resets its stream with `h2Code`; a later reader gets `error`. */
  drop (h2Code: number, error: SwarmError): void
}

/**
 * The unclaimed attachments of one connection, kept within {@link WireLimits}: by count as
 * each arrives, by bytes and age at every arrival and every {@link SWEEP_INTERVAL} ms while
 * there are any.
 */
export class UnclaimedAttachments {
  private readonly deadlines = new Map<Unclaimed, number>()
  /** Counted against the limits; the others (sources waiting to be fetched) only age. */
  private readonly counted = new Set<Unclaimed>()
  private timer: NodeJS.Timeout | undefined
  private readonly limits: Required<WireLimits>

  constructor (limits: WireLimits = {}) {
    this.limits = { ...DEFAULT_WIRE_LIMITS, ...definedOnly(limits) }
  }

  /** Held for now. */
  get size (): number { return this.deadlines.size }

  /** Bytes the held attachments buffer now. */
  bytes (): number {
    let total = 0
    for (const item of this.counted) total += item.buffered()
    return total
  }

  /**
   * Starts holding `item`; `counted` ones (streams the peer fills) count against the limits.
   * Returns false when it was refused (and dropped) at once.
   */
  admit (item: Unclaimed, counted: boolean): boolean {
    if (counted && this.counted.size >= this.limits.unclaimedAttachments) {
      item.drop(NGHTTP2_REFUSED_STREAM, new SwarmError(ErrorCode.LimitExceeded,
        `more than ${this.limits.unclaimedAttachments} unread attachments on this connection`))
      return false
    }
    const timeout = this.limits.unclaimedAttachmentTimeout
    this.deadlines.set(item, timeout > 0 ? Date.now() + timeout : Infinity)
    if (counted) {
      this.counted.add(item)
      this.enforceBytes()
    }
    if (this.timer === undefined) {
      this.timer = setInterval(this.sweep, SWEEP_INTERVAL)
      this.timer.unref()
    }
    return true
  }

  /** `item` was claimed, ended or dropped: it no longer counts. */
  release (item: Unclaimed): void {
    if (!this.deadlines.delete(item)) return
    this.counted.delete(item)
    if (this.deadlines.size === 0) this.stop()
  }

  /** The connection ended; its owner cancels what is left. */
  clear (): void {
    this.deadlines.clear()
    this.counted.clear()
    this.stop()
  }

  private stop (): void {
    if (this.timer !== undefined) clearInterval(this.timer)
    this.timer = undefined
  }

  private readonly sweep = (): void => {
    const now = Date.now()
    for (const [item, deadline] of this.deadlines) {
      if (deadline > now) continue
      this.release(item)
      item.drop(NGHTTP2_CANCEL, new SwarmError(ErrorCode.Timeout,
        `attachment not read within ${this.limits.unclaimedAttachmentTimeout} ms; dropped`))
    }
    this.enforceBytes()
  }

  /** Drops the fullest attachments until the rest fit in the byte limit. */
  private enforceBytes (): void {
    let total = this.bytes()
    const limit = this.limits.unclaimedAttachmentBytes
    while (total > limit && this.counted.size > 0) {
      let fullest: Unclaimed | undefined
      let most = -1
      for (const item of this.counted) {
        const bytes = item.buffered()
        if (bytes > most) { most = bytes; fullest = item }
      }
      const item = fullest as Unclaimed
      this.release(item)
      total -= most
      item.drop(NGHTTP2_ENHANCE_YOUR_CALM, new SwarmError(ErrorCode.LimitExceeded,
        `unread attachments on this connection hold more than ${limit} bytes; dropped one of ${most} bytes`))
    }
  }
}

function definedOnly (limits: WireLimits): WireLimits {
  return Object.fromEntries(Object.entries(limits).filter(([, value]) => value !== undefined))
}
