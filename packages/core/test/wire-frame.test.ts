import fc from 'fast-check'
import { pack } from 'msgpackr'
import { describe, expect, it } from 'vitest'
import { VERBS, type Caller } from '../src/index.js'
import {
  FRAME_HEADER_SIZE, FrameParser, UnknownVerbError, decodeCreditPayload, decodeErrorPayload, decodeMessagePayload,
  encodeCreditPayload, encodeErrorPayload, encodeFrame, encodeMessagePayload, packMessagePayload, type MessagePayload
} from '../src/wire/frame.js'

const channelId = fc.oneof(fc.integer({ min: 0, max: 0xffff_ffff }), fc.maxSafeInteger().filter((n) => n >= 0))
const frameArb = fc.record({
  type: fc.integer({ min: 0, max: 255 }),
  channel: channelId,
  payload: fc.uint8Array({ maxLength: 300 })
})

const callerText = fc.string({ unit: 'grapheme', maxLength: 60 })
const callerId = fc.integer({ min: 0, max: 0xffff_ffff })
const callerArb: fc.Arbitrary<Caller> = fc.record({
  listener: callerText,
  uid: callerId,
  gid: callerId,
  pid: callerId,
  certificate: fc.record({ subject: callerText, sans: fc.array(callerText, { maxLength: 6 }), fingerprint256: callerText }, { requiredKeys: ['subject', 'sans'] }),
  address: callerText
}, { requiredKeys: [] })

const messageArb: fc.Arbitrary<MessagePayload> = fc.record({
  verb: fc.constantFrom(...VERBS),
  args: fc.array(fc.string({ unit: 'grapheme', maxLength: 40 }), { maxLength: 8 }),
  ret: fc.option(fc.oneof(
    channelId.map((id) => ({ id })),
    channelId.map((back) => ({ back }))
  ), { nil: undefined }),
  stream: fc.option(channelId, { nil: undefined }),
  caller: fc.option(callerArb, { nil: undefined })
}).map((m) => m.caller === undefined ? { verb: m.verb, args: m.args, ret: m.ret, stream: m.stream } : m)

/** A MESSAGE payload `[Get, [], nil, nil, caller]` with the caller as given, not checked. */
function withCaller (caller: unknown): Buffer {
  return Buffer.from(pack([5, [], null, null, caller]))
}

/** Splits `data` at `cuts` (fractions) into chunks. */
function split (data: Buffer, cuts: number[]): Buffer[] {
  const points = [...new Set(cuts.map((cut) => Math.floor(cut * data.length)))].sort((a, b) => a - b)
  const chunks: Buffer[] = []
  let start = 0
  for (const point of points) {
    if (point > start) chunks.push(data.subarray(start, point))
    start = Math.max(start, point)
  }
  chunks.push(data.subarray(start))
  return chunks
}

function parseAll (chunks: Buffer[], limit: number): { frames: Array<{ type: number, channel: number, payload: Buffer }>, oversized: Array<{ type: number, channel: number, length: number }> } {
  const frames: Array<{ type: number, channel: number, payload: Buffer }> = []
  const oversized: Array<{ type: number, channel: number, length: number }> = []
  const parser = new FrameParser(limit, {
    frame: (type, channel, source, start, end) => { frames.push({ type, channel, payload: Buffer.from(source.subarray(start, end)) }) },
    oversized: (type, channel, length) => { oversized.push({ type, channel, length }) }
  })
  for (const chunk of chunks) parser.push(chunk)
  return { frames, oversized }
}

describe('wire frames', () => {
  it('round-trip through the parser whatever the chunking', () => {
    fc.assert(fc.property(fc.array(frameArb, { maxLength: 20 }), fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 30 }), (frames, cuts) => {
      const bytes = Buffer.concat(frames.map((f) => encodeFrame(f.type, f.channel, f.payload)))
      const parsed = parseAll(split(bytes, cuts), 1024)
      expect(parsed.oversized).toEqual([])
      expect(parsed.frames).toEqual(frames.map((f) => ({ type: f.type, channel: f.channel, payload: Buffer.from(f.payload) })))
    }))
  })

  it('report an oversized frame, skip its payload without buffering it, and go on', () => {
    fc.assert(fc.property(fc.array(frameArb, { maxLength: 10 }), fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 30 }), (frames, cuts) => {
      const limit = 100
      const bytes = Buffer.concat(frames.map((f) => encodeFrame(f.type, f.channel, f.payload)))
      const parsed = parseAll(split(bytes, cuts), limit)
      expect(parsed.frames).toEqual(frames.filter((f) => f.payload.length <= limit).map((f) => ({ type: f.type, channel: f.channel, payload: Buffer.from(f.payload) })))
      expect(parsed.oversized).toEqual(frames.filter((f) => f.payload.length > limit).map((f) => ({ type: f.type, channel: f.channel, length: f.payload.length })))
    }))
  })

  it('encode messages (with rets back and forth, and attachments) and decode them unchanged', () => {
    fc.assert(fc.property(messageArb, (message) => {
      const decoded = decodeMessagePayload(encodeMessagePayload(message))
      expect(decoded).toEqual({ ...message, ret: message.ret, stream: message.stream })
    }))
  })

  it('pack messages in place and decode them from inside a larger buffer, neighbours untouched', () => {
    fc.assert(fc.property(messageArb, fc.uint8Array({ maxLength: 16 }), fc.uint8Array({ minLength: 1, maxLength: 16 }), (message, before, after) => {
      const packed = packMessagePayload(message)
      const payload = Buffer.from(packed.subarray(packed.start, packed.end))
      expect(payload).toEqual(encodeMessagePayload(message))
      const source = Buffer.concat([before, payload, after])
      const decoded = decodeMessagePayload(source, before.length, before.length + payload.length)
      expect(decoded).toEqual({ ...message, ret: message.ret, stream: message.stream })
      // The same bytes with one of the neighbours' bytes inside the range are not a message.
      expect(() => decodeMessagePayload(source, before.length, before.length + payload.length + 1)).toThrow(expect.objectContaining({ code: 'MALFORMED_FRAME' }))
    }))
  })

  it('decode any bytes to a message, a MALFORMED_FRAME error or (a well-formed message with a verb beyond VERBS) NOT_IMPLEMENTED', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
      try {
        const decoded = decodeMessagePayload(bytes)
        expect(VERBS).toContain(decoded.verb)
      } catch (error) {
        if (error instanceof UnknownVerbError) expect(error.verbIndex).toBeGreaterThanOrEqual(VERBS.length)
        else expect(error).toMatchObject({ code: 'MALFORMED_FRAME' })
      }
    }))
    expect(() => decodeMessagePayload(encodeFrame(0, 0).subarray(0, 0))).toThrow(expect.objectContaining({ code: 'MALFORMED_FRAME' }))
    expect(() => decodeMessagePayload(Buffer.from([0x93, 0x63, 0x90, 0x05]))).toThrow(expect.objectContaining({ code: 'NOT_IMPLEMENTED', verbIndex: 99, ret: { id: 5 } }))
  })

  it('carry a caller as the fifth item, and leave it out when there is none', () => {
    const caller: Caller = { listener: 'ci', uid: 1000, gid: 100, pid: 4242, address: '127.0.0.1:5000', certificate: { subject: 'CN=ci,O=example', sans: ['DNS:ci.example', 'IP:127.0.0.1'], fingerprint256: 'AB:CD' } }
    expect(decodeMessagePayload(encodeMessagePayload({ verb: 'Get', args: ['a'], caller })).caller).toEqual(caller)
    expect(decodeMessagePayload(encodeMessagePayload({ verb: 'Get', args: ['a'], caller: { listener: 'x' } }))).toEqual({ verb: 'Get', args: ['a'], ret: undefined, stream: undefined, caller: { listener: 'x' } })
    // Without a caller the payload is exactly what a peer without callers sends and reads.
    expect([...encodeMessagePayload({ verb: 'Get', args: [], ret: { id: 3 } })]).toEqual([...pack([5, [], 3])])
    expect(decodeMessagePayload(encodeMessagePayload({ verb: 'Get', args: [] }))).not.toHaveProperty('caller')
    // An empty caller, undefined fields and a nil fifth item.
    expect(decodeMessagePayload(encodeMessagePayload({ verb: 'Get', args: [], caller: { listener: undefined } })).caller).toEqual({})
    expect(decodeMessagePayload(withCaller(null))).not.toHaveProperty('caller')
  })

  it('drop unknown fields of a caller (fields may be added) and keep the known ones', () => {
    expect(decodeMessagePayload(withCaller({ listener: 'a', future: { deep: [1, 2] }, certificate: { subject: 'CN=a', sans: [], extra: 1 } })).caller)
      .toEqual({ listener: 'a', certificate: { subject: 'CN=a', sans: [] } })
  })

  it('refuse a malformed caller as a malformed frame, and refuse to send one', () => {
    const long = 'x'.repeat(1025)
    const wide = 'é'.repeat(513) // 1,026 bytes in 513 characters
    const bad: unknown[] = [
      'ci', 7, [], ['listener', 'ci'], true, Buffer.from('ci'),
      { listener: 5 }, { listener: long }, { listener: wide }, { address: ['a'] }, { address: long },
      { uid: -1 }, { uid: 1.5 }, { uid: 2 ** 32 }, { uid: '0' }, { gid: true }, { pid: 2 ** 53 },
      { certificate: 'CN=a' }, { certificate: { sans: [] } }, { certificate: { subject: 'CN=a' } },
      { certificate: { subject: 'CN=a', sans: 'DNS:a' } }, { certificate: { subject: 'CN=a', sans: [1] } },
      { certificate: { subject: 'CN=a', sans: [null] } }, { certificate: { subject: 'CN=a', sans: [long] } },
      { certificate: { subject: 'CN=a', sans: Array.from({ length: 257 }, () => 'DNS:a') } },
      { certificate: { subject: long, sans: [] } }, { certificate: { subject: 'CN=a', sans: [], fingerprint256: 1 } }
    ]
    for (const caller of bad) {
      expect(() => decodeMessagePayload(withCaller(caller)), JSON.stringify(caller)?.slice(0, 80)).toThrow(expect.objectContaining({ code: 'MALFORMED_FRAME', message: expect.stringContaining('caller') }))
      if (typeof caller === 'object' && caller !== null && !Array.isArray(caller) && !Buffer.isBuffer(caller)) {
        expect(() => encodeMessagePayload({ verb: 'Get', args: [], caller: caller as Caller })).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENTS' }))
      }
    }
    // At the bounds: accepted.
    const edge = { listener: 'x'.repeat(1024), uid: 2 ** 32 - 1, certificate: { subject: 'é'.repeat(512), sans: Array.from({ length: 256 }, () => 'DNS:a') } }
    expect(decodeMessagePayload(withCaller(edge)).caller).toEqual(edge)
    // Six items are too many.
    expect(() => decodeMessagePayload(Buffer.from(pack([5, [], null, null, null, null])))).toThrow(expect.objectContaining({ code: 'MALFORMED_FRAME' }))
  })

  it('encode errors and credits', () => {
    fc.assert(fc.property(fc.string(), fc.string(), fc.integer({ min: 1, max: 2 ** 40 }), (code, text, credit) => {
      expect(decodeErrorPayload(encodeErrorPayload(code, text))).toMatchObject({ code, message: text })
      expect(decodeCreditPayload(encodeCreditPayload(credit))).toBe(credit)
    }))
    expect(decodeErrorPayload(Buffer.alloc(0))).toBeUndefined()
  })

  it('lay the header out as documented: u32 length, u8 type, u64 channel, big-endian', () => {
    const frame = encodeFrame(4, 2 ** 40 + 5, Buffer.from([0xaa, 0xbb]))
    expect(frame.length).toBe(FRAME_HEADER_SIZE + 2)
    expect([...frame]).toEqual([0, 0, 0, 2, 4, 0, 0, 1, 0, 0, 0, 0, 5, 0xaa, 0xbb])
  })
})
