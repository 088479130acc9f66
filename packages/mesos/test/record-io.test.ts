import { describe, expect, it } from 'vitest'
import { RecordIoDecoder, encodeRecord } from '../src/record-io.js'

const text = (records: Uint8Array[]): string[] => records.map((record) => Buffer.from(record).toString('utf8'))

describe('RecordIO', () => {
  const events = ['{"type":"SUBSCRIBED"}', '{"type":"HEARTBEAT"}', '{"type":"UPDATE","message":"héllo ✓ 雪"}']
  const stream = Buffer.concat(events.map(encodeRecord))

  it('reads records merged into one chunk', () => {
    expect(text(new RecordIoDecoder().push(stream))).toEqual(events)
  })

  it('reads records split at every byte, sizes counted in bytes (multi-byte UTF-8)', () => {
    const decoder = new RecordIoDecoder()
    const out: Uint8Array[] = []
    for (let index = 0; index < stream.length; index++) out.push(...decoder.push(stream.subarray(index, index + 1)))
    expect(text(out)).toEqual(events)
    expect(decoder.idle).toBe(true)
  })

  it('reads records split at every possible boundary pair', () => {
    for (let cut = 1; cut < stream.length; cut += 3) {
      const decoder = new RecordIoDecoder()
      expect(text([...decoder.push(stream.subarray(0, cut)), ...decoder.push(stream.subarray(cut))])).toEqual(events)
    }
  })

  it('is not idle inside a record', () => {
    const decoder = new RecordIoDecoder()
    decoder.push(stream.subarray(0, 5))
    expect(decoder.idle).toBe(false)
  })

  it('refuses a malformed size and an oversized record', () => {
    expect(() => new RecordIoDecoder().push(Buffer.from('12a\n'))).toThrow(/malformed RecordIO size/)
    expect(() => new RecordIoDecoder(100).push(Buffer.from('101\n'))).toThrow(/over the limit/)
    expect(() => new RecordIoDecoder().push(Buffer.from('9'.repeat(30)))).toThrow(/malformed/)
  })
})
