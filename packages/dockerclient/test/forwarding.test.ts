import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { message, pipe, request, type Message, type Sender } from '@libswarm/core'
import { encodeDockerRequest } from '@libswarm/docker-api'
import { createDockerClient } from '../src/index.js'
import { call, collect, FakeEngine, FeedStream } from './fake-engine.js'

let engine: FakeEngine
let client: ReturnType<typeof createDockerClient>

beforeEach(async () => {
  engine = await FakeEngine.start()
  client = createDockerClient({ address: engine.address })
})

afterEach(async () => {
  await client.close()
  await engine.close()
})

const ENGINE_HEADERS = { 'Api-Version': '1.41', 'Docker-Experimental': 'false', Ostype: 'linux', Server: 'Docker/20.10.24 (linux)' }

describe('plain requests', () => {
  it('builds the request from the table and forwards status, body and meaningful headers', async () => {
    engine.handler = (_req, res) => {
      res.writeHead(201, { ...ENGINE_HEADERS, 'Content-Type': 'application/json', 'X-Ignored': 'yes' })
      res.end('{"Id":"abc","Warnings":[]}\n')
    }
    const reply = await call(client, {
      operation: 'ContainerCreate', target: '', version: '1.41', query: { name: 'web', platform: ['a', 'b'] },
      body: { Image: 'busybox', Cmd: ['true'] }
    })
    expect(reply.status).toBe(201)
    expect(reply.body).toBe('{"Id":"abc","Warnings":[]}\n')
    expect(reply.headers).toEqual({ ...ENGINE_HEADERS, 'Content-Type': 'application/json' })
    const seen = engine.seen[0]!
    expect(seen.method).toBe('POST')
    expect(seen.url).toBe('/v1.41/containers/create?name=web&platform=a&platform=b')
    expect(seen.headers['content-type']).toBe('application/json')
    expect(JSON.parse(seen.body.toString())).toEqual({ Image: 'busybox', Cmd: ['true'] })
  })

  it('passes registry headers, keeps slashes of image names and omits the version prefix when none was given', async () => {
    engine.handler = (_req, res) => { res.writeHead(200, { 'Content-Type': 'application/json' }).end('[]') }
    await call(client, { operation: 'ImageInspect', target: 'registry:5000/team/app:1' })
    await call(client, { operation: 'ImagePush', target: 'registry:5000/team/app', query: { tag: '1' }, headers: { 'X-Registry-Auth': 'e30=' } })
    expect(engine.seen.map((seen) => `${seen.method} ${seen.url}`)).toEqual([
      'GET /images/registry%3A5000/team/app%3A1/json',
      'POST /images/registry%3A5000/team/app/push?tag=1'
    ])
    expect(engine.seen[1]!.headers['x-registry-auth']).toBe('e30=')
  })

  it('forwards the ping version headers and 204/304 answers', async () => {
    engine.handler = (req, res) => {
      if (req.url === '/_ping') res.writeHead(200, { ...ENGINE_HEADERS, 'Builder-Version': '2', Swarm: 'inactive', 'Cache-Control': 'no-cache' }).end('OK')
      else res.writeHead(304, ENGINE_HEADERS).end()
    }
    const ping = await call(client, { operation: 'SystemPing', target: '' })
    expect(ping).toMatchObject({ status: 200, body: 'OK', headers: { 'Api-Version': '1.41', 'Builder-Version': '2', Swarm: 'inactive', Ostype: 'linux', 'Cache-Control': 'no-cache' } })
    const start = await call(client, { operation: 'ContainerStart', target: 'abc' })
    expect(start.status).toBe(304)
    expect(start.body).toBe('')
  })

  it('forwards Unmapped requests with their method and url', async () => {
    engine.handler = (_req, res) => { res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': '2' }).end('{}') }
    const reply = await call(client, { operation: 'Unmapped', target: '', method: 'POST', url: '/future/thing', query: { x: '1' }, body: { a: 1 }, version: '1.45' })
    expect(reply.body).toBe('{}')
    expect(engine.seen[0]).toMatchObject({ method: 'POST', url: '/v1.45/future/thing?x=1' })
    expect(engine.seen[0]!.body.toString()).toBe('{"a":1}')
  })

  it('hands messages that are not Docker requests to next', async () => {
    const seen: Message[] = []
    const next = { send: async (m: Message) => { seen.push(m); await m.ret?.send(message('Ack', ['from next'])); await m.ret?.close() }, close: async () => {} }
    const chained = createDockerClient({ address: engine.address }, next)
    const reply = await request(chained, 'Ls', ['something'])
    expect(reply.args).toEqual(['from next'])
    expect(seen).toHaveLength(1)
    await chained.close()
    await expect(request(client, 'Ls', ['something'])).rejects.toMatchObject({ code: 'NOT_IMPLEMENTED' })
  })
})

describe('errors', () => {
  it('maps engine HTTP errors to SwarmErrors with the JSON message', async () => {
    engine.handler = (req, res) => {
      if (req.url?.includes('missing') === true) res.writeHead(404, { 'Content-Type': 'application/json' }).end('{"message":"No such container: missing"}\n')
      else if (req.url?.includes('create') === true) res.writeHead(409, { 'Content-Type': 'application/json' }).end('{"message":"Conflict. The container name \\"/a\\" is already in use"}')
      else res.writeHead(500, { 'Content-Type': 'text/plain' }).end('plain failure\n')
    }
    await expect(call(client, { operation: 'ContainerInspect', target: 'missing' })).rejects.toMatchObject({ code: 'NOT_FOUND', message: 'No such container: missing' })
    await expect(call(client, { operation: 'ContainerCreate', target: '', body: {} })).rejects.toMatchObject({ code: 'CONFLICT', message: 'Conflict. The container name "/a" is already in use' })
    await expect(call(client, { operation: 'SystemInfo', target: '' })).rejects.toMatchObject({ code: 'INTERNAL', message: 'plain failure' })
  })

  it('maps an error answer of a streaming operation too', async () => {
    engine.handler = (_req, res) => { res.writeHead(404, { 'Content-Type': 'application/json' }).end('{"message":"pull access denied"}') }
    await expect(call(client, { operation: 'ImageCreate', target: '', query: { fromImage: 'nope' } })).rejects.toMatchObject({ code: 'NOT_FOUND', message: 'pull access denied' })
  })

  it('says UNAVAILABLE with the address when the engine is not there', async () => {
    await engine.stop()
    await expect(call(client, { operation: 'SystemPing', target: '' })).rejects.toMatchObject({
      code: 'UNAVAILABLE', message: `cannot reach engine at ${engine.address}: ENOENT`
    })
  })

  it('works again after the engine restarts, without a stale kept-alive connection', async () => {
    engine.handler = (_req, res) => { res.writeHead(200, { 'Content-Type': 'text/plain' }).end('OK') }
    expect((await call(client, { operation: 'SystemPing', target: '' })).body).toBe('OK')
    await engine.stop()
    await expect(call(client, { operation: 'SystemPing', target: '' })).rejects.toMatchObject({ code: 'UNAVAILABLE' })
    await engine.listen()
    expect((await call(client, { operation: 'SystemPing', target: '' })).body).toBe('OK')
    expect((await call(client, { operation: 'SystemPing', target: '' })).body).toBe('OK')
  })
})

describe('streams', () => {
  it('replies at once with the headers and streams the body as the engine sends it', async () => {
    let write: ((text: string) => void) | undefined
    let finish: (() => void) | undefined
    engine.handler = (_req, res) => {
      res.writeHead(200, { 'Content-Type': 'application/json' })
      res.flushHeaders()
      write = (text) => res.write(text)
      finish = () => res.end()
    }
    const reply = await call(client, { operation: 'SystemEvents', target: '' })
    expect(reply.status).toBe(200)
    expect(reply.body).toBe('')
    const iterator = reply.stream![Symbol.asyncIterator]()
    write!('{"status":"create"}\n')
    expect(Buffer.from((await iterator.next()).value!).toString()).toBe('{"status":"create"}\n')
    write!('{"status":"start"}\n')
    expect(Buffer.from((await iterator.next()).value!).toString()).toBe('{"status":"start"}\n')
    finish!()
    expect((await iterator.next()).done).toBe(true)
  })

  it('reads the engine only as fast as the consumer pulls, and abandoning the stream aborts the request', async () => {
    let written = 0
    let engineSawClose = false
    const total = 256 * 1024 * 1024
    engine.handler = (req, res) => {
      res.writeHead(200, { 'Content-Type': 'application/octet-stream' })
      const chunk = Buffer.alloc(64 * 1024, 7)
      const pump = (): void => {
        while (written < total && !res.destroyed) {
          written += chunk.length
          if (!res.write(chunk)) { res.once('drain', pump); return }
        }
        if (written >= total) res.end()
      }
      req.socket.on('close', () => { engineSawClose = true })
      pump()
    }
    const reply = await call(client, { operation: 'ImageGetAll', target: '' })
    const iterator = reply.stream![Symbol.asyncIterator]()
    await iterator.next()
    await new Promise((resolve) => setTimeout(resolve, 300))
    const before = written
    await new Promise((resolve) => setTimeout(resolve, 300))
    // the engine stalls: only socket buffers and one highWaterMark are in flight
    expect(written).toBe(before)
    expect(written).toBeLessThan(32 * 1024 * 1024)
    await iterator.return!()
    for (let i = 0; i < 50 && !engineSawClose; i++) await new Promise((resolve) => setTimeout(resolve, 20))
    expect(engineSawClose).toBe(true)
  })

  it('ends a pending read cleanly when the stream is abandoned meanwhile', async () => {
    engine.handler = (_req, res) => { res.writeHead(200, { 'Content-Type': 'application/json' }); res.flushHeaders() }
    const reply = await call(client, { operation: 'ContainerWait', target: 'abc' })
    const iterator = reply.stream![Symbol.asyncIterator]()
    const pending = iterator.next()
    await new Promise((resolve) => setTimeout(resolve, 50))
    await iterator.return!()
    await expect(pending).resolves.toEqual({ done: true, value: undefined })
  })

  it('does not ask the engine at all when the requester closed its return channel already', async () => {
    let asked = false
    engine.raw = (req) => { asked = true; req.resume() }
    const [replies, ret] = pipe()
    await replies.close()
    const docker = encodeDockerRequest({ operation: 'SystemEvents', target: '' }, ret)
    await client.send(docker)
    await new Promise((resolve) => setTimeout(resolve, 200))
    expect(asked).toBe(false)
  })

  it('aborts the engine request when the requester stops listening while the answer streams', async () => {
    let engineSawClose = false
    engine.handler = (req, res) => {
      res.writeHead(200, { 'Content-Type': 'application/json' })
      res.write('{"status":"x"}\n')
      req.socket.on('close', () => { engineSawClose = true })
    }
    // a return channel whose receiver leaves once the reply arrived, without reading its stream
    const controller = new AbortController()
    const ret: Sender = { send: async () => { controller.abort() }, close: async () => {}, abandoned: controller.signal }
    await client.send(encodeDockerRequest({ operation: 'SystemEvents', target: '' }, ret))
    for (let i = 0; i < 100 && !engineSawClose; i++) await new Promise((resolve) => setTimeout(resolve, 20))
    expect(engineSawClose).toBe(true)
  })

  it.each([
    ['SystemEvents', {}],
    ['ContainerLogs', { query: { follow: '1', stdout: '1' } }],
    ['ContainerWait', {}],
    ['ImageCreate', { query: { fromImage: 'busybox' } }],
    ['ImageBuild', { stream: (() => { const context = new FeedStream(); context.push('tar bytes'); return context })() }],
    ['ContainerAttach', { query: { stream: '1', stdout: '1' }, stream: new FeedStream() }]
  ] as const)('aborts %s at the engine when the requester stops listening before the answer', async (operation, extra) => {
    let engineSawClose = false
    // an upgraded server socket is half-open: the client's hang-up shows as 'end'
    const hold = (socket: import('node:net').Socket): void => { for (const event of ['end', 'close']) socket.on(event, () => { engineSawClose = true }) }
    // the engine takes the request and says nothing yet (a wait, a pull resolving, an attach starting)
    engine.raw = (req) => { req.resume(); hold(req.socket) }
    engine.upgrade = (_req, socket) => { socket.on('error', () => {}); hold(socket) }
    const [replies, ret] = pipe()
    await client.send(encodeDockerRequest({ operation, target: operation.startsWith('Container') ? 'abc' : '', ...extra }, ret))
    await new Promise((resolve) => setTimeout(resolve, 100))
    expect(engineSawClose).toBe(false)
    await replies.close()
    for (let i = 0; i < 50 && !engineSawClose; i++) await new Promise((resolve) => setTimeout(resolve, 20))
    expect(engineSawClose).toBe(true)
  })

  it('streams a request body with backpressure (image load)', async () => {
    const received: Buffer[] = []
    engine.raw = (req, res) => {
      engine.seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: Buffer.alloc(0) })
      req.on('data', (chunk: Buffer) => received.push(chunk))
      req.on('end', () => { res.writeHead(200, { 'Content-Type': 'application/json' }).end('{"stream":"Loaded image: busybox:latest\\n"}\n') })
    }
    async function * tarball (): AsyncGenerator<Uint8Array> {
      for (let i = 0; i < 64; i++) yield Buffer.alloc(16 * 1024, i)
    }
    const reply = await call(client, { operation: 'ImageLoad', target: '', query: { quiet: '1' }, stream: tarball() })
    expect((await collect(reply.stream)).toString()).toContain('Loaded image')
    const body = Buffer.concat(received)
    expect(body.length).toBe(64 * 16 * 1024)
    expect(body[16 * 1024 * 63]).toBe(63)
    expect(engine.seen[0]!.headers['content-type']).toBe('application/x-tar')
    expect(engine.seen[0]!.headers['transfer-encoding']).toBe('chunked')
  })
})

describe('hijack', () => {
  it('upgrades, pipes stdin, half-closes on its end and passes the output bytes untouched', async () => {
    let seenHead = ''
    engine.upgrade = (req, socket) => {
      seenHead = `${req.method} ${req.url} ${req.headers.connection} ${req.headers.upgrade}`
      socket.write('HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.multiplexed-stream\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n')
      const input: Buffer[] = []
      socket.on('data', (chunk: Buffer) => input.push(chunk))
      socket.on('end', () => {
        const text = Buffer.concat(input)
        const frame = Buffer.alloc(8)
        frame[0] = 1
        frame.writeUInt32BE(text.length, 4)
        socket.end(Buffer.concat([frame, text]))
      })
    }
    const stdin = new FeedStream()
    const reply = await call(client, { operation: 'ContainerAttach', target: 'abc', query: { stream: '1', stdin: '1', stdout: '1' }, stream: stdin })
    expect(reply.status).toBe(101)
    expect(reply.headers?.['Content-Type']).toBe('application/vnd.docker.multiplexed-stream')
    stdin.push('hello ')
    stdin.push('world')
    stdin.end()
    const output = await collect(reply.stream)
    expect(seenHead).toBe('POST /containers/abc/attach?stream=1&stdin=1&stdout=1 Upgrade tcp')
    expect([...output.subarray(0, 8)]).toEqual([1, 0, 0, 0, 0, 0, 0, 11])
    expect(output.subarray(8).toString()).toBe('hello world')
  })

  it('sends the JSON body of ExecStart with the upgrade and honours an h2c Upgrade', async () => {
    const seen: Array<{ upgrade?: string, body: string }> = []
    engine.upgrade = (req, socket, head) => {
      const chunks: Buffer[] = [head]
      const length = Number(req.headers['content-length'] ?? 0)
      const answer = (): void => {
        seen.push({ upgrade: req.headers.upgrade, body: Buffer.concat(chunks).subarray(0, length).toString() })
        socket.write('HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.raw-stream\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n')
        socket.end('raw output')
      }
      if (Buffer.concat(chunks).length >= length) { answer(); return }
      socket.on('data', (chunk: Buffer) => { chunks.push(chunk); if (Buffer.concat(chunks).length >= length) answer() })
    }
    const reply = await call(client, { operation: 'ExecStart', target: 'e1', body: { Detach: false, Tty: true } })
    expect((await collect(reply.stream)).toString()).toBe('raw output')
    const grpc = await call(client, { operation: 'Grpc', target: '', headers: { Upgrade: 'h2c' } })
    await collect(grpc.stream)
    expect(seen).toEqual([{ upgrade: 'tcp', body: '{"Detach":false,"Tty":true}' }, { upgrade: 'h2c', body: '' }])
  })

  it('sends the BuildKit session gRPC methods as repeated headers even when joined into one value', async () => {
    let methods: string[] = []
    engine.upgrade = (req, socket) => {
      methods = req.rawHeaders.filter((_value, index) => req.rawHeaders[index - 1]?.toLowerCase() === 'x-docker-expose-session-grpc-method')
      socket.end('HTTP/1.1 101 UPGRADED\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n')
    }
    const reply = await call(client, {
      operation: 'Session', target: '',
      headers: { Upgrade: 'h2c', 'X-Docker-Expose-Session-Uuid': 'u1', 'X-Docker-Expose-Session-Grpc-Method': ['/moby.filesync.v1.FileSync/DiffCopy', '/moby.filesync.v1.FileSync/TarStream', '/grpc.health.v1.Health/Check'] }
    })
    await collect(reply.stream)
    expect(methods).toEqual(['/moby.filesync.v1.FileSync/DiffCopy', '/moby.filesync.v1.FileSync/TarStream', '/grpc.health.v1.Health/Check'])
  })

  it('maps a refused upgrade (404) to NOT_FOUND', async () => {
    engine.upgrade = (_req, socket) => {
      socket.end('HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\nContent-Length: 35\r\n\r\n{"message":"No such container: zz"}')
    }
    await expect(call(client, { operation: 'ContainerAttach', target: 'zz', stream: new FeedStream() })).rejects.toMatchObject({ code: 'NOT_FOUND', message: 'No such container: zz' })
  })

  it('closes the engine connection when the output stream is abandoned', async () => {
    let closed = false
    engine.upgrade = (_req, socket) => {
      socket.write('HTTP/1.1 101 UPGRADED\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n')
      socket.write('first')
      // the upgraded server socket is half-open: the client's hang-up shows as 'end'
      socket.on('end', () => { closed = true })
      socket.on('close', () => { closed = true })
      socket.on('error', () => {})
    }
    const reply = await call(client, { operation: 'ContainerAttach', target: 'abc', stream: new FeedStream() })
    const iterator = reply.stream![Symbol.asyncIterator]()
    expect(Buffer.from((await iterator.next()).value!).toString()).toBe('first')
    await iterator.return!()
    for (let i = 0; i < 50 && !closed; i++) await new Promise((resolve) => setTimeout(resolve, 20))
    expect(closed).toBe(true)
  })
})
