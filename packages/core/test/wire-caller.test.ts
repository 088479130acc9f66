// A message's caller on the wire (PROTOCOL.md §3 `libswarm-features`, §4 the fifth item):
// it crosses between ends that announce `caller`, and never reaches a peer that did not.
import http2 from 'node:http2'
import net from 'node:net'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { PassThrough } from 'node:stream'
import { pack, unpack } from 'msgpackr'
import { afterAll, describe, expect, it } from 'vitest'
import { connectStreams, createServer, dial, listen, message, request, type Caller, type Message } from '../src/index.js'
import { FrameParser, FrameType, encodeFrame } from '../src/wire/frame.js'

const dir = mkdtempSync(join(tmpdir(), 'libswarm-wire-caller-'))
afterAll(() => { rmSync(dir, { recursive: true, force: true }) })
let sockets = 0

const ci: Caller = { listener: 'ci', uid: 1000, gid: 1000, pid: 77, address: '127.0.0.1:40000', certificate: { subject: 'CN=ci', sans: ['DNS:ci.example'], fingerprint256: 'AA:BB' } }
const back: Caller = { listener: 'answer' }

/** Answers Get with the JSON of the caller it saw, itself as `back`; Attach hands out another such server. */
function callerEcho (): ReturnType<typeof createServer> {
  return createServer({
    Get: (m) => message('Ack', [JSON.stringify(m.caller ?? null)], { caller: back }),
    Attach: () => message('Ack', [], { ret: callerEcho() })
  })
}

/** Frames read from a control stream: the raw msgpack value of every MESSAGE, with its channel. */
function readFrames (stream: NodeJS.ReadableStream, onMessage: (channel: number, value: unknown[]) => void): void {
  const parser = new FrameParser(1 << 24, {
    frame: (type, channel, source, start, end) => { if (type === FrameType.Message) onMessage(channel, unpack(source.subarray(start, end)) as unknown[]) },
    oversized: () => {}
  })
  stream.on('data', (chunk: Buffer) => { parser.push(chunk) })
}

describe('a message\'s caller on the wire', () => {
  it('crosses a socket connection both ways, on the root and on a nested channel', async () => {
    const path = join(dir, `l${sockets++}.sock`)
    await using listener = await listen(`unix://${path}`, { service: callerEcho() })
    await using connection = await dial(`unix://${path}`)
    const reply = await request(connection.remote, 'Get', [], { caller: ci })
    expect(JSON.parse(reply.args[0] as string)).toEqual(ci)
    expect(reply.caller).toEqual(back)
    expect(JSON.parse((await request(connection.remote, 'Get')).args[0] as string)).toBeNull()
    const child = (await request(connection.remote, 'Attach', ['x'])).ret
    expect(JSON.parse((await request(child!, 'Get', [], { caller: { listener: 'deep' } })).args[0] as string)).toEqual({ listener: 'deep' })
    void listener
  })

  it('crosses a pair of pipes from the first message: the dialing end holds its sends until the listening end answered', async () => {
    const up = new PassThrough()
    const down = new PassThrough()
    const server = connectStreams(up, down, { role: 'server', service: callerEcho() })
    const client = connectStreams(down, up, { role: 'client' })
    try {
      const first = request(client.remote, 'Get', [], { caller: ci })
      const second = request(client.remote, 'Get', [], { caller: back })
      expect(JSON.parse((await first).args[0] as string)).toEqual(ci)
      expect(JSON.parse((await second).args[0] as string)).toEqual(back)
    } finally {
      await client.close()
      await server.close()
    }
  })

  it('is left out of what is sent to a listener that did not announce it, which reads the message as before', async () => {
    const path = join(dir, `l${sockets++}.sock`)
    const seen: unknown[][] = []
    // A listener as built before callers: it announces no features and refuses a fifth item.
    const old = http2.createServer()
    old.on('stream', (stream, headers) => {
      if (headers[':path'] !== '/libswarm/1/control') { stream.respond({ ':status': 404 }, { endStream: true }); return }
      stream.respond({ ':status': 200, 'content-type': 'application/vnd.libswarm.frames' })
      readFrames(stream, (channel, value) => {
        seen.push(value)
        const ret = value[2]
        if (value.length > 4) { stream.write(encodeFrame(FrameType.Reset, channel, pack(['MALFORMED_FRAME', 'a message is an array of 2 to 4 items']))); return }
        if (typeof ret === 'number') stream.write(Buffer.concat([encodeFrame(FrameType.Message, ret, pack([0, ['old']])), encodeFrame(FrameType.Close, ret)]))
      })
    })
    await new Promise<void>((resolve) => { old.listen(path, resolve) })
    try {
      await using connection = await dial(`unix://${path}`)
      expect((await request(connection.remote, 'Get', ['a'], { caller: ci })).args).toEqual(['old'])
      expect(seen).toEqual([[5, ['a'], 1]])
    } finally {
      await new Promise((resolve) => { old.close(resolve) })
    }
  })

  it('is left out of what is sent to a dialer that did not announce it; a caller it sends anyway is read, a malformed one refused', async () => {
    const path = join(dir, `l${sockets++}.sock`)
    const received: Array<Caller | undefined> = []
    const service = createServer({
      Get: (m: Message) => { received.push(m.caller); return message('Ack', ['new'], { caller: back }) }
    })
    await using listener = await listen(`unix://${path}`, { service })
    // A dialer as built before callers: no `libswarm-features` header.
    const session = http2.connect('http://localhost', { createConnection: () => net.connect(path) })
    session.on('error', () => {})
    try {
      const control = session.request({ ':method': 'POST', ':path': '/libswarm/1/control', 'content-type': 'application/vnd.libswarm.frames' }, { endStream: false })
      const replies: Array<{ channel: number, value: unknown[] }> = []
      const resets: number[] = []
      const parser = new FrameParser(1 << 24, {
        frame: (type, channel, source, start, end) => {
          if (type === FrameType.Message) replies.push({ channel, value: unpack(source.subarray(start, end)) as unknown[] })
          if (type === FrameType.Reset) resets.push(channel)
        },
        oversized: () => {}
      })
      control.on('data', (chunk: Buffer) => { parser.push(chunk) })
      const headers = await new Promise<http2.IncomingHttpHeaders>((resolve) => { control.once('response', resolve) })
      expect(headers['libswarm-features']).toBe('caller,stop')
      control.write(encodeFrame(FrameType.Message, 0, pack([5, ['x'], 1])))
      control.write(encodeFrame(FrameType.Message, 0, pack([5, ['y'], 3, null, { listener: 'sent anyway' }])))
      control.write(encodeFrame(FrameType.Message, 0, pack([6, ['z'], 5, null, { uid: -1 }])))
      const deadline = Date.now() + 3000
      while ((replies.length < 2 || resets.length < 1) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10))
      expect(replies).toEqual([{ channel: 1, value: [0, ['new']] }, { channel: 3, value: [0, ['new']] }])
      expect(received).toEqual([undefined, { listener: 'sent anyway' }])
      // The malformed caller reset the root for this connection only (§8), and nothing of it reached the service.
      expect(resets).toEqual([0])
      void listener
      control.close()
    } finally {
      session.destroy()
    }
  })
})
