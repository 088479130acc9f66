// A wire client written from PROTOCOL.md alone: node:http2 and msgpackr, no @libswarm/core wire code.
import http2 from 'node:http2'
import { pack, unpack } from 'msgpackr'
import { expect } from 'vitest'
import { VERBS } from '@libswarm/core'

interface Frame { type: number, channel: number, payload: Buffer }

/** Frames of the control stream: u32 length, u8 type, u64 channel, payload (§4). */
function frame (type: number, channel: number, payload: Buffer): Buffer {
  const header = Buffer.alloc(13)
  header.writeUInt32BE(payload.length, 0)
  header.writeUInt8(type, 4)
  header.writeBigUInt64BE(BigInt(channel), 5)
  return Buffer.concat([header, payload])
}

/** One connection, without a return connection: control stream, POSTed and fetched attachments (§4, §6). */
export class RawPeer {
  readonly session: http2.ClientHttp2Session
  private readonly control: http2.ClientHttp2Stream
  private buffered = Buffer.alloc(0)
  private readonly frames: Frame[] = []
  private wake: (() => void) | undefined

  constructor (authority: string) {
    this.session = http2.connect(authority)
    this.session.on('error', () => {})
    this.control = this.session.request({ ':method': 'POST', ':path': '/libswarm/1/control', 'content-type': 'application/vnd.libswarm.frames' }, { endStream: false })
    this.control.on('data', (chunk: Buffer) => {
      this.buffered = Buffer.concat([this.buffered, chunk])
      while (this.buffered.length >= 13) {
        const length = this.buffered.readUInt32BE(0)
        if (this.buffered.length < 13 + length) break
        this.frames.push({ type: this.buffered[4] as number, channel: Number(this.buffered.readBigUInt64BE(5)), payload: this.buffered.subarray(13, 13 + length) })
        this.buffered = this.buffered.subarray(13 + length)
      }
      this.wake?.()
    })
  }

  /** MESSAGE on the root channel with ret 1 and attachment 1, then the attachment as a POST. */
  sendWithStdin (verb: string, args: string[], chunks: Buffer[]): void {
    this.control.write(frame(0, 0, pack([VERBS.indexOf(verb as never), args, 1, 1])))
    const upload = this.session.request({ ':method': 'POST', ':path': '/libswarm/1/attachment/1', 'content-type': 'application/octet-stream' }, { endStream: false })
    upload.on('error', () => {})
    upload.resume()
    void (async () => {
      for (const chunk of chunks) if (!upload.write(chunk)) await new Promise((resolve) => upload.once('drain', resolve))
      upload.end()
    })()
  }

  /** The first MESSAGE on `channel`, decoded: [verb, args, ret?, stream?]. */
  async message (channel: number): Promise<unknown[]> {
    const deadline = Date.now() + 5000
    while (Date.now() < deadline) {
      const index = this.frames.findIndex((f) => f.type === 0 && f.channel === channel)
      if (index >= 0) return unpack((this.frames.splice(index, 1)[0] as Frame).payload) as unknown[]
      await new Promise<void>((resolve) => { this.wake = resolve; setTimeout(resolve, 50) })
    }
    throw new Error(`no MESSAGE on channel ${channel}`)
  }

  /** GET an attachment: its status and every byte of its body, or the stream's error. */
  async fetch (id: number): Promise<{ status: number, bytes: Buffer, error?: string }> {
    const stream = this.session.request({ ':method': 'GET', ':path': `/libswarm/1/attachment/${id}` }, { endStream: true })
    return await new Promise((resolve) => {
      let status = 0
      const chunks: Buffer[] = []
      const timer = setTimeout(() => { stream.close(); resolve({ status, bytes: Buffer.concat(chunks), error: 'timed out' }) }, 10_000)
      stream.on('response', (headers) => { status = Number(headers[':status']) })
      stream.on('data', (chunk: Buffer) => chunks.push(chunk))
      stream.on('error', (error) => { clearTimeout(timer); resolve({ status, bytes: Buffer.concat(chunks), error: error.message }) })
      stream.on('close', () => {
        clearTimeout(timer)
        const reset = stream.rstCode !== undefined && stream.rstCode !== http2.constants.NGHTTP2_NO_ERROR
        resolve({ status, bytes: Buffer.concat(chunks), ...(reset ? { error: `reset ${stream.rstCode}` } : {}) })
      })
    })
  }

  close (): void { this.session.destroy() }
}

/** The payload of a multiplexed stream (8-byte headers), checking its frames. */
export function demultiplex (bytes: Buffer): Buffer {
  const parts: Buffer[] = []
  let offset = 0
  while (offset + 8 <= bytes.length) {
    const size = bytes.readUInt32BE(offset + 4)
    parts.push(bytes.subarray(offset + 8, offset + 8 + size))
    offset += 8 + size
  }
  expect(offset).toBe(bytes.length)
  return Buffer.concat(parts)
}
