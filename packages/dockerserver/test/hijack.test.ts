import net from 'node:net'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import type { ByteStream } from '@libswarm/core'
import { startHarness, type Harness } from './harness.js'

let harness: Harness
beforeEach(async () => { harness = await startHarness() })
afterEach(async () => { await harness.close() })

/** A raw client connection that collects everything the server writes. */
function connect (): { socket: net.Socket, received: () => string, waitFor: (text: string) => Promise<string>, closed: Promise<string> } {
  const socket = net.connect(harness.socket)
  let text = ''
  const waiters: Array<() => void> = []
  socket.on('data', (chunk: Buffer) => {
    text += chunk.toString('latin1')
    for (const waiter of waiters.splice(0)) waiter()
  })
  socket.on('error', () => {})
  const closed = new Promise<string>((resolve) => socket.on('close', () => { resolve(text); for (const waiter of waiters.splice(0)) waiter() }))
  const waitFor = async (wanted: string): Promise<string> => {
    const deadline = Date.now() + 5000
    while (!text.includes(wanted)) {
      if (socket.destroyed || Date.now() > deadline) throw new Error(`never received ${JSON.stringify(wanted)}; got ${JSON.stringify(text)}`)
      await new Promise<void>((resolve) => { waiters.push(resolve); setTimeout(resolve, 200) })
    }
    return text
  }
  return { socket, received: () => text, waitFor, closed }
}

/** Echoes stdin, then after stdin ended writes `got:<everything>`: proves output goes on after the client's half-close. */
function echoThenSummary (input: ByteStream | undefined): AsyncIterable<Uint8Array> {
  return (async function * () {
    let all = ''
    for await (const chunk of input ?? []) {
      all += Buffer.from(chunk).toString()
      yield chunk
    }
    await new Promise((resolve) => setTimeout(resolve, 50))
    yield Buffer.from(`|got:${all}`)
  })()
}

const execStart = (body: string, extra = ''): string =>
  'POST /v1.41/exec/exec1/start HTTP/1.1\r\nHost: docker\r\nConnection: Upgrade\r\nUpgrade: tcp\r\nContent-Type: application/json\r\n' +
  `Content-Length: ${Buffer.byteLength(body)}\r\n${extra}\r\n${body}`

describe('hijacked connections', () => {
  beforeEach(() => {
    harness.backend.override = (request) => {
      if (!['ExecStart', 'ContainerAttach', 'Session', 'Grpc'].includes(request.operation)) return undefined
      return { status: 101, headers: { 'Content-Type': 'application/vnd.docker.raw-stream', 'Api-Version': '1.41' }, stream: echoThenSummary(request.stream) }
    }
  })

  it('upgrades exec start: JSON body, 101, stdin echoed, output after the half-close, then EOF', async () => {
    const client = connect()
    client.socket.write(execStart('{"Detach":false,"Tty":true}'))
    const head = await client.waitFor('\r\n\r\n')
    expect(head).toMatch(/^HTTP\/1\.1 101 UPGRADED\r\n/)
    expect(head).toMatch(/\r\nContent-Type: application\/vnd\.docker\.raw-stream\r\n/)
    expect(head).toMatch(/\r\nConnection: Upgrade\r\n/)
    expect(head).toMatch(/\r\nUpgrade: tcp\r\n/)
    client.socket.write('hello')
    await client.waitFor('\r\n\r\nhello')
    client.socket.end()
    const all = await client.closed
    expect(all.slice(all.indexOf('\r\n\r\n') + 4)).toBe('hello|got:hello')
    expect(harness.backend.requests[0]).toMatchObject({ operation: 'ExecStart', verb: 'Attach', target: 'exec1', body: { Detach: false, Tty: true }, version: '1.41' })
  })

  it('reads a JSON body that arrives after the headers, and stdin that arrives with it', async () => {
    const client = connect()
    const body = '{"Detach":false,"Tty":false}'
    const request = execStart(body)
    client.socket.write(request.slice(0, request.length - body.length))
    await new Promise((resolve) => setTimeout(resolve, 50))
    client.socket.write(body.slice(0, 10))
    await new Promise((resolve) => setTimeout(resolve, 50))
    client.socket.end(body.slice(10) + 'early-stdin')
    const all = await client.closed
    expect(all).toMatch(/^HTTP\/1\.1 101 UPGRADED/)
    expect(all.slice(all.indexOf('\r\n\r\n') + 4)).toBe('early-stdin|got:early-stdin')
    expect(harness.backend.requests[0]?.body).toEqual({ Detach: false, Tty: false })
  })

  it('hijacks attach without Upgrade (old clients): 200, then the raw stream', async () => {
    const client = connect()
    client.socket.write('POST /v1.20/containers/abc/attach?stream=1&stdin=1&stdout=1 HTTP/1.1\r\nHost: docker\r\n\r\n')
    await client.waitFor('\r\n\r\n')
    client.socket.write('old')
    await client.waitFor('old')
    client.socket.end()
    const all = await client.closed
    expect(all).toMatch(/^HTTP\/1\.1 200 OK\r\n/)
    expect(all).not.toMatch(/\r\nUpgrade:/)
    expect(all.slice(all.indexOf('\r\n\r\n') + 4)).toBe('old|got:old')
    expect(harness.backend.requests[0]).toMatchObject({ operation: 'ContainerAttach', target: 'abc', query: { stream: '1', stdin: '1', stdout: '1' } })
  })

  it('answers the backend\'s error instead of upgrading', async () => {
    harness.backend.override = undefined
    const client = connect()
    client.socket.write('POST /containers/nosuch/attach?stream=1 HTTP/1.1\r\nHost: docker\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n')
    const all = await client.closed
    expect(all).toMatch(/^HTTP\/1\.1 404 Not Found\r\n/)
    expect(all).toMatch(/\r\nContent-Type: application\/json\r\n/)
    expect(all.endsWith('\r\n\r\n{"message":"No such container: nosuch"}\n')).toBe(true)
  })

  it('uses the content type the backend names (multiplexed)', async () => {
    harness.backend.override = (request) => ({ status: 101, headers: { 'Content-Type': 'application/vnd.docker.multiplexed-stream' }, stream: echoThenSummary(request.stream) })
    const client = connect()
    client.socket.write(execStart('{}'))
    const head = await client.waitFor('\r\n\r\n')
    expect(head).toMatch(/\r\nContent-Type: application\/vnd\.docker\.multiplexed-stream\r\n/)
    client.socket.destroy()
  })

  it('upgrades BuildKit\'s session to h2c and passes its headers', async () => {
    const client = connect()
    client.socket.write('POST /session HTTP/1.1\r\nHost: docker\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n' +
      'X-Docker-Expose-Session-Uuid: u1\r\nX-Docker-Expose-Session-Grpc-Method: /a/A\r\nX-Docker-Expose-Session-Grpc-Method: /b/B\r\n\r\n')
    const head = await client.waitFor('\r\n\r\n')
    expect(head).toMatch(/^HTTP\/1\.1 101 UPGRADED\r\n/)
    expect(head).toMatch(/\r\nUpgrade: h2c\r\n/)
    client.socket.end('frames')
    expect(await client.closed).toMatch(/\r\n\r\nframes\|got:frames$/)
    expect(harness.backend.requests[0]).toMatchObject({ operation: 'Session', verb: 'Connect' })
    expect(harness.backend.requests[0]?.headers).toMatchObject({ 'X-Docker-Expose-Session-Uuid': 'u1', 'X-Docker-Expose-Session-Grpc-Method': ['/a/A', '/b/B'], Upgrade: 'h2c' })
  })

  it('stops the backend\'s output when the client disconnects', async () => {
    let returned = false
    harness.backend.override = () => ({
      status: 101,
      headers: {},
      stream: {
        [Symbol.asyncIterator]: () => ({
          next: async () => { await new Promise((resolve) => setTimeout(resolve, 10)); return { done: false, value: Buffer.from('tick') } },
          return: async () => { returned = true; return { done: true, value: undefined } }
        })
      }
    })
    const client = connect()
    client.socket.write(execStart('{}'))
    await client.waitFor('tick')
    client.socket.destroy()
    const deadline = Date.now() + 3000
    while (!returned && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20))
    expect(returned).toBe(true)
  })

  /** A backend output that says nothing until it is told to stop. */
  const silentOutput = (onReturn: () => void): AsyncIterable<Uint8Array> => ({
    [Symbol.asyncIterator]: () => {
      let wake: ((result: IteratorResult<Uint8Array>) => void) | undefined
      return {
        next: async () => await new Promise<IteratorResult<Uint8Array>>((resolve) => { wake = resolve }),
        return: async () => { onReturn(); wake?.({ done: true, value: undefined }); return { done: true, value: undefined } }
      }
    }
  })

  it('lets go of a silent attach whose client half-closed, then left, within a second or two', async () => {
    let returned = false
    harness.backend.override = () => ({ status: 101, headers: {}, stream: silentOutput(() => { returned = true }) })
    const client = connect()
    client.socket.write(execStart('{}'))
    await client.waitFor('\r\n\r\n')
    // the docker CLI half-closes once its stdin ends, and still reads the output: that is no departure
    client.socket.end()
    await new Promise((resolve) => setTimeout(resolve, 1500))
    expect(returned).toBe(false)
    client.socket.destroy()
    const deadline = Date.now() + 3000
    while (!returned && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20))
    expect(returned).toBe(true)
  })

  it('closes at once, not at its timeout, with an attach whose client left', async () => {
    harness.backend.override = () => ({ status: 101, headers: {}, stream: silentOutput(() => {}) })
    const client = connect()
    client.socket.write(execStart('{}'))
    await client.waitFor('\r\n\r\n')
    client.socket.end()
    await new Promise((resolve) => setTimeout(resolve, 50))
    client.socket.destroy()
    const started = Date.now()
    await harness.server.close()
    expect(Date.now() - started).toBeLessThan(1000)
  })

  it('closes at once over TCP too, with an attach whose client closed its side (TCP cannot tell whether it left)', async () => {
    await using tcp = await startHarness({ addresses: ['tcp://127.0.0.1:0'] })
    let returned = false
    tcp.backend.override = () => ({ status: 101, headers: {}, stream: silentOutput(() => { returned = true }) })
    const socket = net.connect(Number(new URL(tcp.server.addresses[0] ?? '').port), '127.0.0.1')
    socket.on('error', () => {})
    let head = ''
    socket.on('data', (chunk: Buffer) => { head += chunk.toString('latin1') })
    socket.write(execStart('{}'))
    for (let i = 0; i < 100 && !head.includes('\r\n\r\n'); i++) await new Promise((resolve) => setTimeout(resolve, 20))
    expect(head).toMatch(/^HTTP\/1.1 101/)
    // its end now sits in FIN_WAIT2, which acknowledges keepalive probes for a minute: nothing shows until then
    socket.end()
    await new Promise((resolve) => setTimeout(resolve, 50))
    socket.destroy()
    const started = Date.now()
    await tcp.server.close()
    expect(Date.now() - started).toBeLessThan(1000)
    expect(returned).toBe(true)
  })

  it('passes a large stdin through with backpressure', async () => {
    const client = connect()
    client.socket.write(execStart('{}'))
    await client.waitFor('\r\n\r\n')
    const payload = 'z'.repeat(2 * 1024 * 1024)
    client.socket.end(payload)
    const all = await client.closed
    expect(all.length).toBeGreaterThan(2 * payload.length)
    expect(all.endsWith(`|got:${payload}`)).toBe(true)
  })
})
