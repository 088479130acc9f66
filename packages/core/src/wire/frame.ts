import { Packr, REUSE_BUFFER_MODE } from 'msgpackr'
import { ErrorCode, SwarmError } from '../errors.js'
import type { Caller } from '../message.js'
import { VERBS, type Verb } from '../verbs.js'
import { decodeCaller, encodeCaller } from './caller-payload.js'

/** Bytes of a frame header: payload length (u32), type (u8), channel id (u64), all big-endian. */
export const FRAME_HEADER_SIZE = 13

/** Frame types. The type decides in whose id space the header's channel id lives (see PROTOCOL.md). */
export const FrameType = {
  /** A message for a channel the receiver exported. Payload `[verb, args, ret?, stream?, caller?]`. */
  Message: 0,
  /** The sender closes its handle on a channel the receiver exported. Payload empty or `[code, message]`. */
  Close: 1,
  /** The sender drops its handle on a channel the receiver exported, without closing it. Payload empty. */
  Release: 2,
  /** The receiver of a channel grants its sender more bytes. Payload: a msgpack uint. */
  Credit: 3,
  /** The receiver of a channel refuses further messages. Payload `[code, message]`. */
  Reset: 4,
  /**
   * The client stops reading an attachment the server sends; the header's id is the attachment's.
   * Payload empty. Sent only to a peer that announced the `stop` feature.
   */
  Stop: 5
} as const

/** A frame type number. */
export type FrameType = (typeof FrameType)[keyof typeof FrameType]

/** Bytes a channel's sender may have in flight before it waits for Credit. */
export const INITIAL_CHANNEL_WINDOW = 1024 * 1024

/** Default largest frame payload accepted. */
export const DEFAULT_MAX_MESSAGE_SIZE = 16 * 1024 * 1024

const packr = new Packr({ useRecords: false, mapsAsObjects: true })
const HI = 0x1_0000_0000

/** A decoded MESSAGE payload: channel and attachment ids, not yet bound to a connection. */
export interface MessagePayload {
  verb: Verb
  args: string[]
  /** A channel the frame's sender exported (`{ id }`) or one the frame's receiver exported (`{ back: id }`). */
  ret?: { id: number } | { back: number } | undefined
  /** An attachment id. */
  stream?: number | undefined
  /** Who sent the request, as a front saw it (only to a peer that announced it reads callers). */
  caller?: Caller | undefined
}

/** Encodes a frame header into `target` at `offset`. */
export function writeFrameHeader (target: Uint8Array, offset: number, length: number, type: number, channel: number): void {
  target[offset] = length >>> 24
  target[offset + 1] = (length >>> 16) & 0xff
  target[offset + 2] = (length >>> 8) & 0xff
  target[offset + 3] = length & 0xff
  target[offset + 4] = type
  const hi = Math.floor(channel / HI)
  const lo = channel >>> 0
  target[offset + 5] = hi >>> 24
  target[offset + 6] = (hi >>> 16) & 0xff
  target[offset + 7] = (hi >>> 8) & 0xff
  target[offset + 8] = hi & 0xff
  target[offset + 9] = lo >>> 24
  target[offset + 10] = (lo >>> 16) & 0xff
  target[offset + 11] = (lo >>> 8) & 0xff
  target[offset + 12] = lo & 0xff
}

function readU32 (source: Uint8Array, offset: number): number {
  return ((source[offset] as number) * 0x100_0000) + (((source[offset + 1] as number) << 16) | ((source[offset + 2] as number) << 8) | (source[offset + 3] as number))
}

/** One whole frame: header and payload. */
export function encodeFrame (type: number, channel: number, payload?: Uint8Array): Buffer {
  const length = payload?.length ?? 0
  const frame = Buffer.allocUnsafe(FRAME_HEADER_SIZE + length)
  writeFrameHeader(frame, 0, length, type, channel)
  if (payload !== undefined) frame.set(payload, FRAME_HEADER_SIZE)
  return frame
}

/** Bytes msgpackr packed into its own buffer: `[start, end)`, valid until the next pack. */
export type PackedBytes = Buffer & { start: number, end: number }

/** Encodes a MESSAGE payload. */
export function encodeMessagePayload (payload: MessagePayload): Buffer {
  const packed = packMessagePayload(payload)
  return Buffer.from(packed.subarray(packed.start, packed.end))
}

/**
 * Encodes a MESSAGE payload without copying it out of msgpackr's buffer: the caller
 * copies `[start, end)` before anything else is packed.
 */
export function packMessagePayload (payload: MessagePayload): PackedBytes {
  const ret = payload.ret === undefined ? null : 'id' in payload.ret ? payload.ret.id : [payload.ret.back] as [number]
  return packMessage(payload.verb, payload.args, ret, payload.stream, payload.caller)
}

const MESSAGE_OF_2: unknown[] = [0, null]
const MESSAGE_OF_3: unknown[] = [0, null, null]
const MESSAGE_OF_4: unknown[] = [0, null, null, null]
const MESSAGE_OF_5: unknown[] = [0, null, null, null, null]

/**
 * {@link packMessagePayload} from the fields themselves: `ret` a channel id the sender
 * exports, or `[id]` one the receiver exported; `stream` an attachment id; `caller` checked
 * as its receiver will (INVALID_ARGUMENTS when it would be refused).
 */
export function packMessage (verb: Verb, args: readonly string[], ret: number | [number] | null, stream: number | undefined, caller?: Caller): PackedBytes {
  const index = VERBS.indexOf(verb)
  if (index < 0) throw new SwarmError(ErrorCode.InvalidArguments, `not a verb: ${String(verb)}`)
  const value = caller !== undefined ? MESSAGE_OF_5 : stream !== undefined ? MESSAGE_OF_4 : ret !== null ? MESSAGE_OF_3 : MESSAGE_OF_2
  value[0] = index
  value[1] = args
  if (value.length > 2) value[2] = ret
  if (value.length > 3) value[3] = stream ?? null
  if (value.length > 4) value[4] = encodeCaller(caller as Caller)
  try {
    return packr.pack(value, REUSE_BUFFER_MODE) as PackedBytes
  } finally {
    value[1] = null
    if (value.length > 2) value[2] = null
    if (value.length > 4) value[4] = null
  }
}

function malformed (text: string, cause?: unknown): SwarmError {
  return new SwarmError(ErrorCode.MalformedFrame, `malformed frame: ${text}`, { cause })
}

function unpack (payload: Uint8Array, start: number, end: number): unknown {
  try {
    return start === 0 && end === payload.length ? packr.unpack(payload) : packr.unpack(payload, { start, end })
  } catch (error) {
    throw malformed(`bad msgpack (${(error as Error).message})`, error)
  }
}

function isId (value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0
}

/**
 * A well-formed MESSAGE whose verb index this end does not know (a verb added after it was
 * built): its `ret` and `stream` are decoded, so that the receiver can answer and go on.
 */
export class UnknownVerbError extends SwarmError {
  constructor (readonly verbIndex: number, readonly ret: MessagePayload['ret'], readonly stream: number | undefined) {
    super(ErrorCode.NotImplemented, `verb ${verbIndex} is not known to this end`)
  }
}

/**
 * Decodes a MESSAGE payload (`payload[start, end)`); throws MALFORMED_FRAME when it is not one,
 * and {@link UnknownVerbError} when it is one with a verb index beyond {@link VERBS}.
 */
export function decodeMessagePayload (payload: Uint8Array, start = 0, end = payload.length): MessagePayload {
  const value = unpack(payload, start, end)
  if (!Array.isArray(value) || value.length < 2 || value.length > 5) throw malformed('a message is an array of 2 to 5 items')
  const [verbIndex, args, ret, stream, callerValue] = value as unknown[]
  if (!isId(verbIndex)) throw malformed(`verb must be an index, not ${JSON.stringify(verbIndex)}`)
  if (!Array.isArray(args) || !args.every((arg) => typeof arg === 'string')) throw malformed('args must be an array of strings')
  let decodedRet: MessagePayload['ret']
  if (isId(ret)) decodedRet = { id: ret }
  else if (Array.isArray(ret) && ret.length === 1 && isId(ret[0])) decodedRet = { back: ret[0] }
  else if (ret !== null && ret !== undefined) throw malformed('ret must be nil, a channel id or [channel id]')
  if (stream !== null && stream !== undefined && !isId(stream)) throw malformed('stream must be nil or an attachment id')
  const caller = callerValue === undefined ? undefined : decodeCaller(callerValue)
  const verb = VERBS[verbIndex]
  if (verb === undefined) throw new UnknownVerbError(verbIndex, decodedRet, (stream ?? undefined) as number | undefined)
  return caller === undefined
    ? { verb, args: args as string[], ret: decodedRet, stream: stream ?? undefined }
    : { verb, args: args as string[], ret: decodedRet, stream: stream ?? undefined, caller }
}

/** Encodes an error payload `[code, message]` (CLOSE with an error, RESET). */
export function encodeErrorPayload (code: string, text: string): Buffer {
  return packr.pack([code, text])
}

/** Decodes an error payload; an empty payload is `undefined` (a clean close). */
export function decodeErrorPayload (payload: Uint8Array, start = 0, end = payload.length): SwarmError | undefined {
  if (end === start) return undefined
  const value = unpack(payload, start, end)
  if (!Array.isArray(value) || value.length !== 2 || typeof value[0] !== 'string' || typeof value[1] !== 'string') {
    throw malformed('an error is [code, message]')
  }
  return new SwarmError(value[0], value[1])
}

/** Encodes a CREDIT payload. */
export function encodeCreditPayload (bytes: number): Buffer {
  return packr.pack(bytes)
}

/** Decodes a CREDIT payload. */
export function decodeCreditPayload (payload: Uint8Array, start = 0, end = payload.length): number {
  const value = unpack(payload, start, end)
  if (!isId(value) || value === 0) throw malformed('credit must be a positive integer')
  return value
}

/** What a {@link FrameParser} reports. */
export interface FrameHandler {
  /** A whole frame; its payload is `source[start, end)` (no copy, no view made per frame). */
  frame (type: number, channel: number, source: Buffer, start: number, end: number): void
  /** A frame whose payload exceeds the limit: its bytes are skipped, never buffered. */
  oversized (type: number, channel: number, length: number): void
}

/**
 * Splits a byte stream into frames. Partial frames are kept as a list of chunks and
 * joined once complete; an oversized frame is reported and its payload skipped.
 */
export class FrameParser {
  private chunks: Buffer[] = []
  private buffered = 0
  private skip = 0

  constructor (private readonly maxPayload: number, private readonly handler: FrameHandler) {}

  push (chunk: Buffer): void {
    if (this.skip > 0) {
      if (chunk.length <= this.skip) {
        this.skip -= chunk.length
        return
      }
      chunk = chunk.subarray(this.skip)
      this.skip = 0
    }
    if (this.buffered > 0) {
      this.chunks.push(chunk)
      this.buffered += chunk.length
      if (this.buffered < this.needed()) return
      chunk = Buffer.concat(this.chunks, this.buffered)
      this.chunks = []
      this.buffered = 0
    }
    this.parse(chunk)
  }

  private needed (): number {
    const first = this.chunks[0] as Buffer
    if (this.buffered < FRAME_HEADER_SIZE) return FRAME_HEADER_SIZE
    const head = first.length >= 4 ? first : Buffer.concat(this.chunks, this.buffered)
    const length = readU32(head, 0)
    return length > this.maxPayload ? FRAME_HEADER_SIZE : FRAME_HEADER_SIZE + length
  }

  private parse (data: Buffer): void {
    let offset = 0
    while (data.length - offset >= FRAME_HEADER_SIZE) {
      const length = readU32(data, offset)
      const type = data[offset + 4] as number
      const channel = readU32(data, offset + 5) * HI + readU32(data, offset + 9)
      if (length > this.maxPayload) {
        const available = data.length - offset - FRAME_HEADER_SIZE
        offset += FRAME_HEADER_SIZE
        if (available >= length) offset += length
        else {
          this.skip = length - available
          offset = data.length
        }
        this.handler.oversized(type, channel, length)
        continue
      }
      const end = offset + FRAME_HEADER_SIZE + length
      if (end > data.length) break
      this.handler.frame(type, channel, data, offset + FRAME_HEADER_SIZE, end)
      offset = end
    }
    if (offset < data.length) {
      this.chunks = [data.subarray(offset)]
      this.buffered = data.length - offset
    }
  }
}
