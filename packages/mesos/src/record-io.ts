import { protocolError } from './errors.js'

const LF = 10
const MAX_SIZE_DIGITS = 20

/**
 * Splits a RecordIO stream (`record-size LF record-data`, the size a decimal count of
 * bytes) into records, whatever the chunk boundaries: a chunk may hold half a size, several
 * records, or end inside a record's bytes. Sizes are bytes, so multi-byte UTF-8 is cut right.
 */
export class RecordIoDecoder {
  private readonly pending: Uint8Array[] = []
  private pendingBytes = 0
  private size: number | undefined
  private sizeText = ''

  /** @param maxRecordBytes a record larger than this is a protocol error, not a memory hog */
  constructor (private readonly maxRecordBytes = 64 * 1024 * 1024) {}

  /** Feeds one chunk; returns the records it completed, in order. */
  push (chunk: Uint8Array): Uint8Array[] {
    const records: Uint8Array[] = []
    let offset = 0
    while (offset < chunk.length) {
      if (this.size === undefined) {
        const byte = chunk[offset++] as number
        if (byte === LF) {
          if (this.sizeText === '') continue
          const size = Number(this.sizeText)
          this.sizeText = ''
          if (size > this.maxRecordBytes) throw protocolError(`a RecordIO record of ${size} bytes is over the limit of ${this.maxRecordBytes}`)
          if (size === 0) continue
          this.size = size
        } else if (byte >= 48 && byte <= 57 && this.sizeText.length < MAX_SIZE_DIGITS) {
          this.sizeText += String.fromCharCode(byte)
        } else if (byte === 13 && this.sizeText !== '') {
          continue
        } else {
          throw protocolError(`malformed RecordIO size (byte ${byte} after ${JSON.stringify(this.sizeText)})`)
        }
        continue
      }
      const take = Math.min(this.size - this.pendingBytes, chunk.length - offset)
      this.pending.push(chunk.subarray(offset, offset + take))
      this.pendingBytes += take
      offset += take
      if (this.pendingBytes === this.size) {
        records.push(this.pending.length === 1 ? (this.pending[0] as Uint8Array).slice() : Buffer.concat(this.pending))
        this.pending.length = 0
        this.pendingBytes = 0
        this.size = undefined
      }
    }
    return records
  }

  /** True when the stream ended between records, as a clean stream does. */
  get idle (): boolean {
    return this.size === undefined && this.sizeText === ''
  }
}

const encoder = new TextEncoder()

/** One record: `<byte length>\n<bytes>`. */
export function encodeRecord (text: string): Uint8Array {
  const data = encoder.encode(text)
  const head = encoder.encode(`${data.length}\n`)
  const record = new Uint8Array(head.length + data.length)
  record.set(head)
  record.set(data, head.length)
  return record
}
