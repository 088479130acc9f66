// What one peer can make the other hold, and the wire's edge cases (issue #9, items 3 and 9):
// raw HTTP/2 clients built from PROTOCOL.md against a listener in this process.
import { spawn, type ChildProcess } from 'node:child_process'
import http2 from 'node:http2'
import net from 'node:net'
import { PassThrough } from 'node:stream'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import fc from 'fast-check'
import { pack } from 'msgpackr'
import { afterAll, describe, expect, it } from 'vitest'
import { VERBS, connectStreams, createServer, dial, listen, message, request, type WireConnection, type WireListener } from '../src/index.js'
import { FrameParser, FrameType, encodeFrame, encodeMessagePayload } from '../src/wire/frame.js'

const dir = mkdtempSync(join(tmpdir(), 'libswarm-wire-limits-'))
afterAll(() => { rmSync(dir, { recursive: true, force: true }) })
let sockets = 0

const { NGHTTP2_CANCEL, NGHTTP2_ENHANCE_YOUR_CALM, NGHTTP2_REFUSED_STREAM } = http2.constants

/** The internal state a connection must give back when its peer leaves. */
function held (connection: WireConnection): Record<string, number> {
  const c = connection as unknown as Record<string, Map<unknown, unknown> | Set<unknown> | { size: number }>
  return Object.fromEntries(['exports', 'imports', 'incoming', 'outgoing', 'streams', 'fetching', 'waiting', 'withheld', 'overdrawn', 'unclaimed']
    .map((name) => [name, (c[name] as { size: number }).size]))
}

async function until (condition: () => boolean, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time')
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

async function withTimeout<T> (promise: Promise<T>, ms: number): Promise<T | 'timeout'> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<'timeout'>((resolve) => { timer = setTimeout(() => { resolve('timeout') }, ms) })
  try { return await Promise.race([promise, timeout]) } finally { clearTimeout(timer) }
}

/** A listener whose connections are kept for inspection. */
async function listener (options: Parameters<typeof listen>[1]): Promise<{ listener: WireListener, path: string, connections: WireConnection[] }> {
  const path = join(dir, `l${sockets++}.sock`)
  const connections: WireConnection[] = []
  const l = await listen(`unix://${path}`, { ...options, onConnection: (c) => { connections.push(c) } })
  return { listener: l, path, connections }
}

/** A client from PROTOCOL.md alone: a control stream it may stop reading, and attachment POSTs. */
class RawClient {
  readonly session: http2.ClientHttp2Session
  readonly control: http2.ClientHttp2Stream
  messages = 0

  constructor (path: string) {
    // A window as small as HTTP/2's default, so that replies left unread back up at once.
    this.session = http2.connect('http://localhost', { createConnection: () => net.connect(path), settings: { initialWindowSize: 65535 } })
    this.session.on('error', () => {})
    this.control = this.session.request({ ':method': 'POST', ':path': '/libswarm/1/control', 'content-type': 'application/vnd.libswarm.frames' }, { endStream: false })
    this.control.on('error', () => {})
    const parser = new FrameParser(16 * 1024 * 1024, {
      frame: (type) => { if (type === FrameType.Message) this.messages++ },
      oversized: () => {}
    })
    this.control.on('data', (chunk: Buffer) => { parser.push(chunk) })
  }

  /** Opens `POST /libswarm/1/attachment/<id>` and writes `bytes` zeros; resolves with the reset code once the listener ends it. */
  upload (id: number, bytes: number): Promise<number> {
    const stream = this.session.request({ ':method': 'POST', ':path': `/libswarm/1/attachment/${id}`, 'content-type': 'application/octet-stream' }, { endStream: false })
    stream.on('error', () => {})
    stream.write(Buffer.alloc(bytes))
    return new Promise((resolve) => { stream.once('close', () => { resolve(stream.rstCode ?? -1) }) })
  }

  /**
   * Resets the control stream and closes gracefully (node 20's destroy() of a client session
   * whose attachment streams the listener reset was seen to spin).
   */
  close (): void {
    if (!this.control.closed) this.control.close()
    if (!this.session.closed) this.session.close()
  }
}

const UPLOADER = `
import http2 from 'node:http2'
import net from 'node:net'
const [path, count, size] = process.argv.slice(1)
const session = http2.connect('http://localhost', { createConnection: () => net.connect(path) })
session.on('error', () => {})
const control = session.request({ ':method': 'POST', ':path': '/libswarm/1/control', 'content-type': 'application/vnd.libswarm.frames' }, { endStream: false })
control.on('error', () => {})
const codes = []
for (let i = 0; i < Number(count); i++) {
  const stream = session.request({ ':method': 'POST', ':path': '/libswarm/1/attachment/' + (2 * i + 1), 'content-type': 'application/octet-stream' }, { endStream: false })
  stream.on('error', () => {})
  stream.write(Buffer.alloc(Number(size)))
  codes.push(new Promise((resolve) => { stream.once('close', () => { resolve(stream.rstCode) }) }))
  await new Promise((resolve) => setTimeout(resolve, 30))
}
process.stdout.write(JSON.stringify(await Promise.all(codes)) + '\\n')
setInterval(() => {}, 1000)
`

/** A peer process that uploads `count` attachments of `size` bytes no message claims; reports how each stream was reset. */
function uploader (path: string, count: number, size: number): { child: ChildProcess, codes: Promise<number[]> } {
  const child = spawn(process.execPath, ['--input-type=module', '-e', UPLOADER, path, String(count), String(size)], { stdio: ['ignore', 'pipe', 'inherit'] })
  const codes = new Promise<number[]>((resolve, reject) => {
    createInterface({ input: child.stdout as NodeJS.ReadableStream }).once('line', (line) => { resolve(JSON.parse(line) as number[]) })
    child.once('exit', (code) => { reject(new Error(`uploader exited with ${String(code)}`)) })
  })
  return { child, codes }
}

describe('wire limits: what a peer can make a connection hold', () => {
  it('holds a peer that sends requests and never reads the replies to its window, and serves it all once it reads', async () => {
    let handled = 0
    const { listener: l, path, connections } = await listener({
      service: createServer({ Get: (m) => { handled++; return message('Ack', m.args) } })
    })
    const client = new RawClient(path)
    try {
      client.control.pause()
      const total = 100_000
      let ret = 1
      for (let sent = 0; sent < total;) {
        const frames: Buffer[] = []
        for (let i = 0; i < 1000; i++, sent++, ret += 2) frames.push(encodeFrame(FrameType.Message, 0, encodeMessagePayload({ verb: 'Get', args: [String(sent)], ret: { id: ret } })))
        if (!client.control.write(Buffer.concat(frames))) await withTimeout(new Promise((resolve) => client.control.once('drain', resolve)), 100)
      }
      await new Promise((resolve) => setTimeout(resolve, 1000))
      const connection = connections[0] as WireConnection
      // The root's window is 1 MiB: some 38,000 of these ~28-byte requests, not 100,000.
      expect(handled).toBeLessThan(45_000)
      expect(held(connection).imports).toBeLessThan(45_000)
      const before = handled
      await new Promise((resolve) => setTimeout(resolve, 300))
      expect(handled).toBe(before)
      // Reading the replies lets the rest in: nothing was lost, nothing deadlocked.
      client.control.resume()
      await until(() => client.messages === total, 20_000)
      expect(handled).toBe(total)
      client.close()
      await until(() => connection !== undefined && held(connection).imports === 0 && held(connection).exports === 0)
      expect(held(connection)).toEqual({ exports: 0, imports: 0, incoming: 0, outgoing: 0, streams: 0, fetching: 0, waiting: 0, withheld: 0, overdrawn: 0, unclaimed: 0 })
    } finally {
      client.close()
      await l.close()
    }
  }, 60_000)

  it('bounds unclaimed attachments by count, bytes and age, resetting each with its documented code, and frees them when the peer leaves', async () => {
    const { listener: l, path, connections } = await listener({
      service: createServer({}),
      limits: { unclaimedAttachments: 8, unclaimedAttachmentBytes: 12 * 1024 * 1024, unclaimedAttachmentTimeout: 1500 }
    })
    // Two uploaders in other processes (so that this process's memory is the listener's):
    // 10 small uploads that no message claims (8 held, 2 refused at once), and 12 of 4 MiB
    // (held until they hold 12 MiB, then the fullest dropped). The rest are dropped at 1.5 s.
    const many = uploader(path, 10, 64 * 1024)
    const big = uploader(path, 12, 4 * 1024 * 1024)
    try {
      let peak = 0
      const sampler = setInterval(() => {
        for (const c of connections) peak = Math.max(peak, (c as unknown as { unclaimed: { bytes: () => number } }).unclaimed.bytes())
      }, 10)
      const [small, large] = await Promise.all([many.codes, big.codes])
      clearInterval(sampler)
      expect(connections.length).toBe(2)
      expect(small.sort()).toEqual([...Array(2).fill(NGHTTP2_REFUSED_STREAM), ...Array(8).fill(NGHTTP2_CANCEL)].sort())
      // Which of them is refused, dropped for bytes or held to the end depends on timing; only 3 fit.
      expect(large.every((code) => [NGHTTP2_REFUSED_STREAM, NGHTTP2_ENHANCE_YOUR_CALM, NGHTTP2_CANCEL].includes(code))).toBe(true)
      expect(large.filter((code) => code === NGHTTP2_ENHANCE_YOUR_CALM).length).toBeGreaterThanOrEqual(1)
      expect(large.filter((code) => code === NGHTTP2_CANCEL).length).toBeLessThanOrEqual(3)
      // 48.6 MiB were sent, 12 MiB allowed, and what arrives between two checks (100 ms) past it.
      expect(peak).toBeLessThan(28 * 1024 * 1024)
      for (const connection of connections) expect((connection as unknown as { unclaimed: { size: number } }).unclaimed.size).toBe(0)
      many.child.kill('SIGKILL')
      big.child.kill('SIGKILL')
      for (const connection of connections) {
        await connection.closed
        expect(held(connection)).toEqual({ exports: 0, imports: 0, incoming: 0, outgoing: 0, streams: 0, fetching: 0, waiting: 0, withheld: 0, overdrawn: 0, unclaimed: 0 })
      }
    } finally {
      many.child.kill('SIGKILL')
      big.child.kill('SIGKILL')
      await l.close()
    }
  }, 30_000)

  it('tells the reader of a dropped attachment why, with LIMIT_EXCEEDED or TIMEOUT', async () => {
    const reads: Array<Promise<string>> = []
    const service = createServer({
      // Reads its attachment only after a while: later than the timeout allows.
      Set: async (m) => {
        await new Promise((resolve) => setTimeout(resolve, 600))
        reads.push((async () => {
          try { for await (const _ of m.stream ?? []) {} return 'read' } catch (error) { return (error as { code: string }).code }
        })())
        return message('Ack')
      }
    })
    const { listener: l, path } = await listener({ service, limits: { unclaimedAttachmentTimeout: 200 } })
    await using connection = await dial(`unix://${path}`)
    async function * bytes (): AsyncGenerator<Uint8Array> { yield Buffer.alloc(1024) }
    await request(connection.remote, 'Set', [], { stream: bytes() })
    expect(await Promise.all(reads)).toEqual(['TIMEOUT'])
    await l.close()
  })
})

describe('wire edge cases', () => {
  it('answers a reply too large for the requester with an Error, not an empty close', async () => {
    const { listener: l, path } = await listener({ service: createServer({ Get: () => message('Ack', ['x'.repeat(10_000)]), Ls: () => message('Ack', ['small']) }) })
    await using connection = await dial(`unix://${path}`, { maxMessageSize: 4096 })
    await expect(request(connection.remote, 'Get')).rejects.toMatchObject({ code: 'MESSAGE_TOO_LARGE', message: expect.stringContaining('exceeds the peer') })
    expect((await request(connection.remote, 'Ls')).args).toEqual(['small'])
    await l.close()
  })

  it('fails a request whose frame the peer reset as too large, instead of leaving it pending', async () => {
    const up = new PassThrough()
    const down = new PassThrough()
    const server = connectStreams(up, down, { role: 'server', service: createServer({ Get: (m) => message('Ack', m.args) }), maxMessageSize: 1024 })
    // Over a pair of pipes the client does not wait for the server's limit: its first frame may exceed it.
    const client = connectStreams(down, up, { role: 'client' })
    try {
      const outcome = await withTimeout(request(client.remote, 'Get', ['x'.repeat(5000)]).then(() => 'answered', (error: { code: string }) => error.code), 3000)
      expect(outcome).toBe('MESSAGE_TOO_LARGE')
    } finally {
      await client.close()
      await server.close()
    }
  })
})

describe('wire fuzz', () => {
  it('answers generated frames (valid, truncated, oversized, of any type, random msgpack or bytes) with frames or a clean close, never a crash or a hang', async () => {
    const { listener: l, path, connections } = await listener({
      service: createServer({ Get: (m) => message('Ack', m.args), Attach: () => message('Ack', [], { ret: createServer({}) }) }),
      maxMessageSize: 4096,
      limits: { unclaimedAttachmentTimeout: 500 }
    })
    const channel = fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 16 }), fc.maxSafeInteger().filter((n) => n >= 0))
    const payload = fc.oneof(
      fc.record({ verb: fc.constantFrom(...VERBS), args: fc.array(fc.string({ maxLength: 20 }), { maxLength: 4 }), ret: fc.option(fc.integer({ min: 1, max: 99 }).map((id) => ({ id })), { nil: undefined }), stream: fc.option(fc.integer({ min: 1, max: 99 }), { nil: undefined }) })
        .map((m) => encodeMessagePayload(m)),
      // A caller, well-formed or anything at all, as the fifth item.
      fc.tuple(fc.integer({ min: 0, max: 14 }), fc.option(fc.integer({ min: 1, max: 99 }), { nil: null }), fc.oneof(
        fc.record({ listener: fc.string({ maxLength: 20 }), uid: fc.nat(), certificate: fc.record({ subject: fc.string(), sans: fc.array(fc.string(), { maxLength: 3 }) }) }, { requiredKeys: [] }),
        fc.anything({ maxDepth: 2 })
      )).map(([verb, ret, caller]) => { try { return Buffer.from(pack([verb, ['c'], ret, null, caller])) } catch { return Buffer.alloc(0) } }),
      fc.anything({ maxDepth: 2 }).map((value) => { try { return Buffer.from(pack(value)) } catch { return Buffer.alloc(0) } }),
      fc.uint8Array({ maxLength: 64 }).map((bytes) => Buffer.from(bytes))
    )
    const frame = fc.oneof(
      fc.tuple(fc.integer({ min: 0, max: 6 }), channel, payload).map(([type, id, body]) => encodeFrame(type, id, body)),
      // Truncated, or announcing more than the limit.
      fc.tuple(fc.integer({ min: 0, max: 4 }), channel, payload, fc.nat(20)).map(([type, id, body, cut]) => encodeFrame(type, id, body).subarray(0, Math.max(0, 13 + body.length - cut))),
      fc.tuple(fc.integer({ min: 0, max: 4 }), channel, fc.integer({ min: 4097, max: 2 ** 32 - 1 })).map(([type, id, length]) => { const f = encodeFrame(type, id); f.writeUInt32BE(length, 0); return f }),
      fc.uint8Array({ maxLength: 40 }).map((bytes) => Buffer.from(bytes))
    )
    const errors: unknown[] = []
    const onError = (error: unknown): void => { errors.push(error) }
    process.on('uncaughtException', onError)
    process.on('unhandledRejection', onError)
    try {
      await fc.assert(fc.asyncProperty(fc.array(frame, { maxLength: 30 }), async (frames) => {
        const session = http2.connect('http://localhost', { createConnection: () => net.connect(path) })
        session.on('error', () => {})
        const control = session.request({ ':method': 'POST', ':path': '/libswarm/1/control', 'content-type': 'application/vnd.libswarm.frames' }, { endStream: false })
        control.on('error', () => {})
        control.on('data', () => {})
        control.write(Buffer.concat(frames))
        await new Promise((resolve) => setTimeout(resolve, 20))
        control.close()
        session.close()
        // The listener still serves.
        await using connection = await dial(`unix://${path}`)
        expect((await request(connection.remote, 'Get', ['still'])).args).toEqual(['still'])
      }), { numRuns: 40, interruptAfterTimeLimit: 15_000 })
      for (const connection of connections) {
        expect(await withTimeout(connection.closed.then(() => 'closed'), 3000)).toBe('closed')
        expect(held(connection)).toEqual({ exports: 0, imports: 0, incoming: 0, outgoing: 0, streams: 0, fetching: 0, waiting: 0, withheld: 0, overdrawn: 0, unclaimed: 0 })
      }
      expect(errors).toEqual([])
    } finally {
      process.off('uncaughtException', onError)
      process.off('unhandledRejection', onError)
      await l.close()
    }
  }, 40_000)
})
