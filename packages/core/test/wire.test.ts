import fc from 'fast-check'
import { PassThrough } from 'node:stream'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import {
  Client, connectStreams, createServer, dial, listen, message, parseWireAddress, pipe, request, requestStream,
  type ByteStream, type Message, type Sender, type WireConnection
} from '../src/index.js'

const dir = mkdtempSync(join(tmpdir(), 'libswarm-wire-'))
afterAll(() => { rmSync(dir, { recursive: true, force: true }) })

/** Two ends of a connection in this process, over a pair of pipes. */
function connectedPair (server: Sender, client?: Sender): { client: WireConnection, server: WireConnection, close: () => Promise<void> } {
  const up = new PassThrough()
  const down = new PassThrough()
  const serverEnd = connectStreams(up, down, { role: 'server', service: server })
  const clientEnd = connectStreams(down, up, { role: 'client', service: client })
  return { client: clientEnd, server: serverEnd, close: async () => { await clientEnd.close(); await serverEnd.close() } }
}

async function * once (bytes: Uint8Array): AsyncGenerator<Uint8Array> { yield bytes }

async function collect (stream: ByteStream | undefined): Promise<Buffer> {
  const chunks: Uint8Array[] = []
  for await (const chunk of stream ?? []) chunks.push(chunk)
  return Buffer.concat(chunks)
}

/** Attach NAME → a child that echoes Get, attaches deeper, and sends back attachments. */
function echoTree (depth = 0): Sender {
  return createServer({
    Attach: (m) => message('Ack', [String(depth + 1)], { ret: echoTree(depth + 1) }),
    Get: async (m) => message('Ack', [String(depth), ...m.args], { stream: m.stream === undefined ? undefined : once(await collect(m.stream)) })
  })
}

describe('parseWireAddress', () => {
  it('parses unix, tcp and tls addresses', () => {
    expect(parseWireAddress('unix:///tmp/a.sock')).toEqual({ kind: 'unix', path: '/tmp/a.sock' })
    expect(parseWireAddress('tcp://127.0.0.1:2375')).toEqual({ kind: 'tcp', host: '127.0.0.1', port: 2375 })
    expect(parseWireAddress('tls://[::1]:443')).toEqual({ kind: 'tls', host: '::1', port: 443 })
  })
  it('refuses anything else', () => {
    for (const bad of ['http://a:1', 'tcp://nohost', 'tcp://a:99999', 'unix://', 'junk']) {
      expect(() => parseWireAddress(bad)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENTS' }))
    }
  })
})

describe('wire connection (in process)', () => {
  it('carries random nested channels and attachments both ways', async () => {
    const pair = connectedPair(echoTree(), echoTree())
    try {
      await fc.assert(fc.asyncProperty(
        fc.integer({ min: 0, max: 4 }),
        fc.array(fc.string({ maxLength: 20 }), { maxLength: 5 }),
        fc.option(fc.uint8Array({ maxLength: 100_000 }), { nil: undefined }),
        fc.boolean(),
        async (depth, args, bytes, fromServer) => {
          let target = new Client(fromServer ? pair.server.remote : pair.client.remote)
          for (let i = 0; i < depth; i++) target = await target.child(String(i))
          const reply = await target.get(args, { stream: bytes === undefined ? undefined : once(bytes) })
          expect(reply.args).toEqual([String(depth), ...args])
          if (bytes !== undefined) expect(new Uint8Array(await collect(reply.stream))).toEqual(bytes)
        }), { numRuns: 40 })
    } finally { await pair.close() }
  })

  it('delivers an attachment that arrived whole before anyone read it, both ways', async () => {
    const pair = connectedPair(echoTree(), echoTree())
    try {
      for (const remote of [pair.client.remote, pair.server.remote]) {
        const reply = await request(remote, 'Get', [], { stream: once(Uint8Array.of(7)) })
        await new Promise((resolve) => setTimeout(resolve, 50))
        expect([...await collect(reply.stream)]).toEqual([7])
      }
    } finally { await pair.close() }
  })

  it('applies per-channel flow control: a slow receiver holds back only its own sender', async () => {
    const [slowReceiver, slowSender] = pipe({ highWaterMark: 1 })
    const pair = connectedPair(createServer({
      Attach: () => message('Ack', [], { ret: slowSender }),
      Get: (m) => message('Ack', m.args)
    }))
    try {
      const slow = (await request(pair.client.remote, 'Attach')).ret!
      const big = 'x'.repeat(64 * 1024)
      let accepted = 0
      const sending = (async () => { for (let i = 0; i < 100; i++) { await slow.send(message('Log', [big])); accepted++ } })()
      await new Promise((resolve) => setTimeout(resolve, 300))
      expect(accepted).toBeLessThan(40)
      expect((await request(pair.client.remote, 'Get', ['other channel'])).args).toEqual(['other channel'])
      for (let i = 0; i < 100; i++) expect((await slowReceiver.receive())?.args).toEqual([big])
      await sending
      expect(accepted).toBe(100)
    } finally { await pair.close() }
  })

  it('closes the exported channel when the peer closes its handle, with the error', async () => {
    const [receiver, sender] = pipe()
    const pair = connectedPair(createServer({ Attach: () => message('Ack', [], { ret: sender }) }))
    try {
      const handle = (await request(pair.client.remote, 'Attach')).ret!
      await handle.send(message('Log', ['one']))
      await handle.close(new Error('done here'))
      expect((await receiver.receive())?.args).toEqual(['one'])
      await expect(receiver.receive()).rejects.toMatchObject({ message: 'done here' })
    } finally { await pair.close() }
  })

  it('turns a refused message into a reset: later sends reject and the ret learns why', async () => {
    const [receiver, sender] = pipe()
    const pair = connectedPair(createServer({ Attach: () => message('Ack', [], { ret: sender }) }))
    try {
      const handle = (await request(pair.client.remote, 'Attach')).ret!
      await receiver.close()
      await expect(request(handle, 'Get')).rejects.toMatchObject({ code: 'CHANNEL_CLOSED' })
      await new Promise((resolve) => setTimeout(resolve, 50))
      await expect(handle.send(message('Log'))).rejects.toMatchObject({ code: 'CHANNEL_CLOSED' })
    } finally { await pair.close() }
  })

  it('hands a channel back to its owner as itself, not as a proxy of a proxy', async () => {
    let seen: Sender | undefined
    const local = createServer({ Get: () => message('Ack', ['local']) })
    const pair = connectedPair(createServer({ Connect: (m) => message('Ack', [], { ret: m.ret }) }), createServer({ Set: (m) => { seen = m.ret; return message('Ack') } }))
    try {
      const reply = await request(pair.client.remote, 'Connect', [], {})
      expect(reply.ret).toBeDefined()
      await pair.server.remote.send(message('Set', [], { ret: local }))
      await new Promise((resolve) => setTimeout(resolve, 50))
      expect(seen).toBeDefined()
      await pair.client.remote.send(message('Connect', [], { ret: seen }))
    } finally { await pair.close() }
  })

  it('answers NOT_IMPLEMENTED when this end has no service', async () => {
    const pair = connectedPair(createServer({}))
    try {
      await expect(request(pair.server.remote, 'Ls')).rejects.toMatchObject({ code: 'NOT_IMPLEMENTED' })
    } finally { await pair.close() }
  })

  it('ends pending requests, receives and streams when the connection closes', async () => {
    const pair = connectedPair(createServer({
      Start: () => new Promise<Message>(() => {}),
      Watch: async (m) => { await m.ret?.send(message('Ack', ['first'])) },
      File: () => message('Ack', [], { stream: (async function * () { while (true) { yield Buffer.alloc(1024); await new Promise((resolve) => setTimeout(resolve, 5)) } })() })
    }))
    const pending = request(pair.client.remote, 'Start')
    const watch = requestStream(pair.client.remote, 'Watch')
    expect((await watch.next()).value?.args).toEqual(['first'])
    const receive = watch.next()
    const file = await request(pair.client.remote, 'File')
    const reading = collect(file.stream)
    const outcomes = [pending, receive, reading].map(async (p) => await (p as Promise<unknown>).then(() => 'resolved', (e: { code?: string }) => e.code))
    await pair.server.close()
    const settled = await Promise.all(outcomes)
    for (const outcome of settled) expect(outcome).toMatch(/^(UNAVAILABLE|CHANNEL_CLOSED)$/)
    expect(await pair.client.closed).toBeUndefined()
    await expect(pair.client.remote.send(message('Ls'))).rejects.toMatchObject({ code: 'UNAVAILABLE' })
  })

  it('ends the receiver of an attachment with an error when the sender\'s source fails', async () => {
    const received = new Promise<string>((resolve) => {
      const pair = connectedPair(createServer({
        Set: async (m) => {
          try {
            for await (const chunk of m.stream!) expect(chunk.length).toBeGreaterThan(0)
            resolve('ended cleanly')
          } catch (error) {
            resolve((error as { code?: string }).code ?? 'no code')
          }
          return message('Ack')
        }
      }))
      const source = (async function * () {
        yield Buffer.alloc(1024)
        throw new Error('disk on fire')
      })()
      void request(pair.client.remote, 'Set', [], { stream: source }).finally(async () => { await pair.close() })
    })
    expect(await received).toBe('UNAVAILABLE')
  })

  it('stops the sender of an attachment when the receiver leaves the loop early', async () => {
    let pulled = 0
    let finished = false
    const source = (async function * () {
      try { while (true) { pulled++; yield Buffer.alloc(64 * 1024) } } finally { finished = true }
    })()
    const pair = connectedPair(createServer({ File: () => message('Ack', [], { stream: source }) }))
    try {
      const reply = await request(pair.client.remote, 'File')
      for await (const chunk of reply.stream!) { expect(chunk.length).toBeGreaterThan(0); break }
      await new Promise((resolve) => setTimeout(resolve, 200))
      expect(finished).toBe(true)
      expect(pulled).toBeLessThan(1000)
    } finally { await pair.close() }
  })
})

describe('handles dropped unclosed', () => {
  it('are released once garbage-collected: the exporter forgets their ids', async () => {
    const { setFlagsFromString } = await import('node:v8')
    const { runInNewContext } = await import('node:vm')
    setFlagsFromString('--expose-gc')
    const gc = runInNewContext('gc') as () => void
    // A handler that returns nothing leaves the ret to itself, and drops it.
    const pair = connectedPair(createServer({ Get: () => undefined }))
    const exported = (): number => (pair.client as unknown as { exports: Map<number, unknown> }).exports.size
    try {
      const before = exported()
      for (let i = 0; i < 10; i++) await pair.client.remote.send(message('Get', [], { ret: createServer({}) }))
      expect(exported()).toBe(before + 10)
      for (let i = 0; i < 50 && exported() > before; i++) {
        gc()
        await new Promise((resolve) => setTimeout(resolve, 20))
      }
      expect(exported()).toBe(before)
    } finally { await pair.close() }
  })
})

describe('a request the peer drops unanswered', () => {
  it('fails with CHANNEL_CLOSED once its return channel is garbage-collected there, instead of waiting forever', async () => {
    const { setFlagsFromString } = await import('node:v8')
    const { runInNewContext } = await import('node:vm')
    setFlagsFromString('--expose-gc')
    const gc = runInNewContext('gc') as () => void
    // The handler's promise never settles and nothing holds it: the ret becomes unreachable.
    const pair = connectedPair(createServer({ Start: async () => await new Promise<never>(() => {}) }))
    try {
      let outcome: string | undefined
      const pending = request(pair.client.remote, 'Start').then(() => 'answered', (error: { code?: string }) => error.code)
      void pending.then((value) => { outcome = value })
      for (let i = 0; i < 50 && outcome === undefined; i++) {
        gc()
        await new Promise((resolve) => setTimeout(resolve, 20))
      }
      expect(outcome).toBe('CHANNEL_CLOSED')
    } finally { await pair.close() }
  })
})

describe('a request the peer sends back to its requester', () => {
  it('is answered here even after the peer releases its handle on the return channel', async () => {
    const { setFlagsFromString } = await import('node:v8')
    const { runInNewContext } = await import('node:vm')
    setFlagsFromString('--expose-gc')
    const gc = runInNewContext('gc') as () => void
    let answer: (() => void) | undefined
    const answered = new Promise<void>((resolve) => { answer = resolve })
    // The client's own service answers once the server's handle is collected and released.
    const clientService = createServer({ Get: async () => { await answered; return message('Ack', ['answered here']) } })
    let serverEnd: WireConnection | undefined
    // The server sends every request back to the client's root with the requester's ret ([id]).
    const pair = connectedPair({ send: async (m) => { await serverEnd?.remote.send({ verb: m.verb, args: m.args, ret: m.ret }) }, close: async () => {} }, clientService)
    serverEnd = pair.server
    const exported = (): number => (pair.client as unknown as { exports: Map<number, unknown> }).exports.size
    try {
      const before = exported()
      const reply = request(pair.client.remote, 'Get')
      for (let i = 0; i < 50 && exported() <= before; i++) { await new Promise((resolve) => setTimeout(resolve, 10)) }
      for (let i = 0; i < 50 && exported() > before; i++) {
        gc()
        await new Promise((resolve) => setTimeout(resolve, 20))
      }
      expect(exported()).toBe(before)
      answer?.()
      expect((await reply).args).toEqual(['answered here'])
    } finally { await pair.close() }
  })
})

describe('listen and dial (in process)', () => {
  it('listens on tcp port 0 and reports the real port', async () => {
    await using listener = await listen('tcp://127.0.0.1:0', { service: createServer({ Ls: () => message('Ack', ['tcp']) }) })
    expect(listener.address).toMatch(/^tcp:\/\/127\.0\.0\.1:[1-9]\d*$/)
    await using connection = await dial(listener.address)
    expect((await request(connection.remote, 'Ls')).args).toEqual(['tcp'])
  })

  it('replaces a stale unix socket file and removes its own on close', async () => {
    const { existsSync } = await import('node:fs')
    const path = join(dir, 'stale.sock')
    const first = await listen(`unix://${path}`, { service: createServer({}) })
    await expect(listen(`unix://${path}`, { service: createServer({}) })).rejects.toMatchObject({ code: 'CONFLICT' })
    await first.close()
    expect(existsSync(path)).toBe(false)
    writeFileSync(join(dir, 'not-a-socket'), '')
    await expect(listen(`unix://${join(dir, 'not-a-socket')}`, { service: createServer({}) })).rejects.toMatchObject({ code: 'CONFLICT' })
    // A socket file left behind by a process that died listening: nobody accepts on it.
    const { spawnSync } = await import('node:child_process')
    spawnSync(process.execPath, ['-e', `require('net').createServer().listen(${JSON.stringify(path)}, () => process.kill(process.pid, 'SIGKILL'))`], { timeout: 10_000 })
    expect(existsSync(path)).toBe(true)
    await using second = await listen(`unix://${path}`, { service: createServer({ Ls: () => message('Ack', ['second']) }) })
    await using connection = await dial(second.address)
    expect((await request(connection.remote, 'Ls')).args).toEqual(['second'])
  })

  it('closes connections when the listener closes', async () => {
    const listener = await listen(`unix://${join(dir, 'closing.sock')}`, { service: createServer({ Start: () => new Promise<Message>(() => {}) }) })
    const connection = await dial(listener.address)
    const pending = request(connection.remote, 'Start').then(() => 'resolved', (e: { code?: string }) => e.code)
    await listener.close()
    expect(await pending).toMatch(/^(UNAVAILABLE|CHANNEL_CLOSED)$/)
    await connection.closed
  })

  it('honours an aborted signal on dial', async () => {
    await expect(dial('tcp://127.0.0.1:9', { signal: AbortSignal.abort() })).rejects.toThrow()
  })
})

describe('return connections (in process)', () => {
  const echo = createServer({
    Ls: () => message('Ack', ['listener']),
    Log: (m) => message('Ack', [], { stream: m.stream })
  })

  /** A unix-socket relay that hands the nth connection to `backends[n % backends.length]`. */
  async function relay (path: string, backends: string[]): Promise<{ accepted: () => number, close: () => void }> {
    const net = await import('node:net')
    let accepted = 0
    const server = net.createServer((socket) => {
      const upstream = net.connect((backends[accepted++ % backends.length] as string).slice('unix://'.length))
      socket.pipe(upstream).pipe(socket)
      socket.on('error', () => { upstream.destroy() })
      upstream.on('error', () => { socket.destroy() })
    })
    await new Promise<void>((resolve) => server.listen(path, resolve))
    return { accepted: () => accepted, close: () => { server.close() } }
  }

  async function echoBothWays (connection: WireConnection, size: number): Promise<void> {
    const block = Buffer.alloc(1024 * 1024, 5)
    async function * upload (): AsyncGenerator<Uint8Array> { for (let sent = 0; sent < size; sent += block.length) yield block }
    const reply = await request(connection.remote, 'Log', [], { stream: upload() })
    expect((await collect(reply.stream)).length).toBe(size)
  }

  it('carries each direction on a socket of its own', async () => {
    await using listener = await listen(`unix://${join(dir, 'return.sock')}`, { service: echo })
    const proxy = await relay(join(dir, 'return-proxy.sock'), [listener.address])
    try {
      await using connection = await dial(`unix://${join(dir, 'return-proxy.sock')}`)
      expect((await request(connection.remote, 'Ls')).args).toEqual(['listener'])
      expect(proxy.accepted()).toBe(2)
      await echoBothWays(connection, 32 * 1024 * 1024)
    } finally {
      proxy.close()
    }
  })

  it('falls back to one connection when the listener does not accept a return connection', async () => {
    const net = await import('node:net')
    const ends: WireConnection[] = []
    const single = net.createServer((socket) => { ends.push(connectStreams(socket, socket, { role: 'server', service: echo })) })
    await new Promise<void>((resolve) => single.listen(join(dir, 'single.sock'), resolve))
    try {
      await using connection = await dial(`unix://${join(dir, 'single.sock')}`)
      expect((await request(connection.remote, 'Ls')).args).toEqual(['listener'])
      await echoBothWays(connection, 32 * 1024 * 1024)
    } finally {
      for (const end of ends) await end.close()
      single.close()
    }
  })

  it('falls back to one connection when the second socket reaches another listener (a balancer in between)', async () => {
    await using first = await listen(`unix://${join(dir, 'balanced-a.sock')}`, { service: echo })
    await using second = await listen(`unix://${join(dir, 'balanced-b.sock')}`, { service: echo })
    const balancer = await relay(join(dir, 'balancer.sock'), [first.address, second.address])
    try {
      await using connection = await dial(`unix://${join(dir, 'balancer.sock')}`)
      expect((await request(connection.remote, 'Ls')).args).toEqual(['listener'])
      expect(balancer.accepted()).toBe(3)
      await echoBothWays(connection, 8 * 1024 * 1024)
    } finally {
      balancer.close()
    }
  })

  it('closes a socket that opens no stream within the handshake timeout', async () => {
    await using listener = await listen(`unix://${join(dir, 'idle.sock')}`, { service: echo, handshakeTimeout: 200 })
    const net = await import('node:net')
    const started = Date.now()
    const raw = net.connect(join(dir, 'idle.sock'))
    raw.on('error', () => {})
    raw.resume()
    await new Promise((resolve) => raw.once('close', resolve))
    expect(Date.now() - started).toBeLessThan(2000)
    await using connection = await dial(listener.address)
    expect((await request(connection.remote, 'Ls')).args).toEqual(['listener'])
  })

  it('closes a connection whose announced return connection does not arrive, and answers 404 to an unknown token', async () => {
    await using listener = await listen(`unix://${join(dir, 'no-return.sock')}`, { service: echo, handshakeTimeout: 300 })
    const http2 = await import('node:http2')
    const net = await import('node:net')
    const open = (): import('node:http2').ClientHttp2Session => {
      const session = http2.connect('http://localhost', { createConnection: () => net.connect(join(dir, 'no-return.sock')) })
      session.on('error', () => {})
      return session
    }
    const first = open()
    const control = first.request({ ':method': 'POST', ':path': '/libswarm/1/control', 'libswarm-return': 'ab'.repeat(16) }, { endStream: false })
    control.on('error', () => {})
    const headers = await new Promise<Record<string, unknown>>((resolve) => control.once('response', resolve))
    expect(headers[':status']).toBe(200)
    expect(headers['libswarm-return']).toBe('ab'.repeat(16))
    const started = Date.now()
    await new Promise((resolve) => first.once('close', resolve))
    expect(Date.now() - started).toBeLessThan(2000)

    const stranger = open()
    const returned = stranger.request({ ':method': 'GET', ':path': '/libswarm/1/control', 'libswarm-return': 'cd'.repeat(16) })
    returned.on('error', () => {})
    expect((await new Promise<Record<string, unknown>>((resolve) => returned.once('response', resolve)))[':status']).toBe(404)
    stranger.destroy()
    await using connection = await dial(listener.address)
    expect((await request(connection.remote, 'Ls')).args).toEqual(['listener'])
  })
})
