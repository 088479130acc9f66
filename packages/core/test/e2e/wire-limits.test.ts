// A hand-written client, built only from the frame layout of PROTOCOL.md and
// node:http2, sends bad frames to a peer in another process: an oversized frame and a
// malformed one end only their channel; the connection goes on serving the others.
import http2 from 'node:http2'
import net from 'node:net'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { dial, request } from '../../src/index.js'
import {
  FrameParser, FrameType, decodeErrorPayload, decodeMessagePayload, encodeFrame, encodeMessagePayload, type MessagePayload
} from '../../src/wire/frame.js'
import { startListeningPeer, type PeerProcess } from './peer-process.js'

interface Frame { type: number, channel: number, payload: Buffer }

class RawClient {
  private readonly frames: Frame[] = []
  private wake: (() => void) | undefined
  private nextChannel = 1
  readonly session: http2.ClientHttp2Session
  readonly control: http2.ClientHttp2Stream

  constructor (path: string) {
    this.session = http2.connect('http://localhost', { createConnection: () => net.connect(path) })
    this.session.on('error', () => {})
    this.control = this.session.request({ ':method': 'POST', ':path': '/libswarm/1/control', 'content-type': 'application/vnd.libswarm.frames' }, { endStream: false })
    const parser = new FrameParser(16 * 1024 * 1024, {
      frame: (type, channel, source, start, end) => { this.frames.push({ type, channel, payload: Buffer.from(source.subarray(start, end)) }); this.wake?.() },
      oversized: () => { throw new Error('unexpected oversized frame') }
    })
    this.control.on('data', (chunk: Buffer) => { parser.push(chunk) })
  }

  channel (): number {
    const id = this.nextChannel
    this.nextChannel += 2
    return id
  }

  send (type: number, channel: number, payload?: Buffer): void {
    this.control.write(encodeFrame(type, channel, payload))
  }

  message (channel: number, payload: MessagePayload): void {
    this.send(FrameType.Message, channel, encodeMessagePayload(payload))
  }

  async next (type: number, channel: number): Promise<Frame> {
    const deadline = Date.now() + 5000
    while (true) {
      const index = this.frames.findIndex((frame) => frame.type === type && frame.channel === channel)
      if (index >= 0) return this.frames.splice(index, 1)[0] as Frame
      if (Date.now() > deadline) throw new Error(`no frame of type ${type} on channel ${channel}`)
      await new Promise<void>((resolve) => { this.wake = resolve; setTimeout(resolve, 100) })
    }
  }

  /** Attach NAME on the root: the id of the child channel the peer exported. */
  async attach (name: string): Promise<number> {
    const ret = this.channel()
    this.message(0, { verb: 'Attach', args: [name], ret: { id: ret } })
    const reply = decodeMessagePayload((await this.next(FrameType.Message, ret)).payload)
    expect(reply.verb).toBe('Ack')
    expect(reply.ret).toMatchObject({ id: expect.any(Number) })
    return (reply.ret as { id: number }).id
  }

  async get (channel: number, args: string[]): Promise<MessagePayload> {
    const ret = this.channel()
    this.message(channel, { verb: 'Get', args, ret: { id: ret } })
    return decodeMessagePayload((await this.next(FrameType.Message, ret)).payload)
  }

  close (): void {
    this.session.destroy()
  }
}

const LIMIT = 64 * 1024

describe('wire limits against a peer in another process', () => {
  const dir = mkdtempSync(join(tmpdir(), 'libswarm-wire-limits-'))
  let peer: PeerProcess
  let path: string
  beforeAll(async () => {
    peer = await startListeningPeer(`unix://${join(dir, 'limits.sock')}`, { WIRE_MAX_MESSAGE_SIZE: String(LIMIT) })
    path = join(dir, 'limits.sock')
  })
  afterAll(async () => {
    await peer?.kill()
    rmSync(dir, { recursive: true, force: true })
  })

  it('speaks the documented frames: a request on the root and a reply on the ret channel', async () => {
    const client = new RawClient(path)
    try {
      const ret = client.channel()
      client.message(0, { verb: 'Ls', args: [], ret: { id: ret } })
      expect(decodeMessagePayload((await client.next(FrameType.Message, ret)).payload)).toMatchObject({ verb: 'Ack', args: ['peer'] })
      expect((await client.next(FrameType.Close, ret)).payload.length).toBe(0)
    } finally { client.close() }
  })

  it('resets only the channel that got an oversized frame', async () => {
    const client = new RawClient(path)
    try {
      const child = await client.attach('a')
      const other = await client.attach('b')
      client.message(child, { verb: 'Get', args: ['x'.repeat(LIMIT + 10)], ret: { id: client.channel() } })
      const reset = await client.next(FrameType.Reset, child)
      expect(decodeErrorPayload(reset.payload)).toMatchObject({ code: 'MESSAGE_TOO_LARGE' })
      expect((await client.get(other, ['still'])).args).toEqual(['level2', 'still'])
      expect((await client.get(0, ['root'])).args).toEqual(['root'])
    } finally { client.close() }
  })

  it('resets only the channel that got a malformed msgpack frame', async () => {
    const client = new RawClient(path)
    try {
      const child = await client.attach('a')
      const other = await client.attach('b')
      client.send(FrameType.Message, child, Buffer.from([0xc1, 0x00]))
      const reset = await client.next(FrameType.Reset, child)
      expect(decodeErrorPayload(reset.payload)).toMatchObject({ code: 'MALFORMED_FRAME' })
      // ["x", []]: a verb is an index.
      client.send(FrameType.Message, other, Buffer.from([0x92, 0xa1, 0x78, 0x90]))
      expect(decodeErrorPayload((await client.next(FrameType.Reset, other)).payload)).toMatchObject({ code: 'MALFORMED_FRAME' })
      expect((await client.get(0, ['root'])).args).toEqual(['root'])
    } finally { client.close() }
  })

  it('answers a verb it does not know with an Error on the ret and keeps the channel, the root included', async () => {
    const client = new RawClient(path)
    try {
      const child = await client.attach('a')
      for (const channel of [0, child]) {
        const ret = client.channel()
        // [99, [], ret]: a well-formed message with a verb added after this peer was built.
        client.send(FrameType.Message, channel, Buffer.from([0x93, 0x63, 0x90, ret]))
        const reply = decodeMessagePayload((await client.next(FrameType.Message, ret)).payload)
        expect(reply).toMatchObject({ verb: 'Error', args: ['NOT_IMPLEMENTED', 'verb 99 is not known to this end'] })
        expect((await client.next(FrameType.Close, ret)).payload.length).toBe(0)
      }
      expect((await client.get(child, ['still'])).args).toEqual(['level2', 'still'])
      expect((await client.get(0, ['root'])).args).toEqual(['root'])
    } finally { client.close() }
  })

  it('rejects an oversized message at the sender, which learnt the peer limit, and goes on', async () => {
    await using connection = await dial(`unix://${path}`)
    await expect(request(connection.remote, 'Get', ['x'.repeat(LIMIT + 10)])).rejects.toMatchObject({ code: 'MESSAGE_TOO_LARGE' })
    expect((await request(connection.remote, 'Get', ['fine'])).args).toEqual(['fine'])
  })
})
