import net from 'node:net'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { jsonLogger } from '@libswarm/core'
import { httpRequest, startHarness, type Harness } from './harness.js'

/*
 * Item 8 of issue 9 (dockerserver's part): every error answer is Docker-shaped, with the
 * status dockerd 20.10 gives (checked by hand against one, see test/e2e/engine.test.ts).
 */
let harness: Harness
const logged: string[] = []
beforeAll(async () => { harness = await startHarness({ log: jsonLogger({ level: 'error', write: (line) => { logged.push(line) } }) }) })
afterAll(async () => { await harness.close() })
beforeEach(() => {
  harness.backend.override = undefined
  harness.backend.requests.length = 0
})

/** Sends raw bytes and returns everything until the server closes (or 3 s, or `until` arrives). */
async function raw (text: string, until?: string): Promise<string> {
  return await new Promise((resolve) => {
    const socket = net.connect(harness.socket)
    let received = ''
    socket.on('data', (chunk: Buffer) => {
      received += chunk.toString('latin1')
      if (until !== undefined && received.includes(until)) socket.destroy()
    })
    socket.on('error', () => {})
    const timer = setTimeout(() => socket.destroy(), 3000)
    socket.on('close', () => { clearTimeout(timer); resolve(received) })
    socket.write(text)
  })
}

function parse (text: string): { status: number, contentType: string | undefined, body: unknown } {
  const end = text.indexOf('\r\n\r\n')
  const head = text.slice(0, end)
  const contentType = /\r\ncontent-type: ([^\r]*)/i.exec(head)?.[1]
  const length = Number(/\r\ncontent-length: (\d+)/i.exec(head)?.[1] ?? '0')
  return { status: Number(head.split(' ')[1]), contentType, body: JSON.parse(text.slice(end + 4, end + 4 + length)) }
}

describe("node:http's own refusals are Docker-shaped", () => {
  it.each([
    ['a garbage request line', 'GARBAGE\r\n\r\n', 400, /malformed HTTP request/],
    ['an unknown HTTP version', 'GET /_ping HTTP/9.9\r\nHost: x\r\n\r\n', 505, /unsupported protocol version/],
    ['headers over 1 MiB', `GET /_ping HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(1024 * 1024 + 10)}\r\n\r\n`, 431, /header fields too large/],
    ['a bad chunk', 'POST /containers/create HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n', 400, /malformed HTTP request/]
  ])('%s', async (_name, text, status, message) => {
    const answer = parse(await raw(text))
    expect(answer.status).toBe(status)
    expect(answer.contentType).toBe('application/json')
    expect(answer.body).toEqual({ message: expect.stringMatching(message) })
  })
})

describe('JSON bodies', () => {
  it('answers nesting deeper than the chain can carry with a 400, without bothering the backend', async () => {
    const deep = '{"Image":"busybox","Labels":' + '{"a":'.repeat(20_000) + '1' + '}'.repeat(20_000) + '}'
    const answer = await httpRequest({ socket: harness.socket }, 'POST', '/containers/create', { body: deep, headers: { 'Content-Type': 'application/json' } })
    expect(answer.status).toBe(400)
    expect(answer.headers['content-type']).toBe('application/json')
    expect(JSON.parse(answer.body)).toEqual({ message: 'invalid JSON body: exceeded max depth of 512' })
    expect(harness.backend.requests).toEqual([])
  })

  it('passes reasonable nesting and deep strings that only look nested', async () => {
    const body = JSON.stringify({ Image: 'busybox', Labels: { a: '['.repeat(5000) }, HostConfig: { LogConfig: { Config: { a: 'b' } } } })
    const answer = await httpRequest({ socket: harness.socket }, 'POST', '/containers/create', { body, headers: { 'Content-Type': 'application/json' } })
    expect(answer.status).toBe(201)
  })

  it('never shows a JavaScript error of a service below: a generic 500, the details logged', async () => {
    harness.backend.override = () => { throw new TypeError('bind.split is not a function') }
    const answer = await httpRequest({ socket: harness.socket }, 'POST', '/containers/create', { body: '{"Image":"busybox","HostConfig":{"Binds":[5]}}', headers: { 'Content-Type': 'application/json' } })
    expect(answer.status).toBe(500)
    expect(answer.headers['content-type']).toBe('application/json')
    expect(answer.body).not.toMatch(/split|function/)
    expect(JSON.parse(answer.body)).toEqual({ message: expect.stringMatching(/^internal server error/) })
    expect(logged.some((line) => line.includes('bind.split is not a function'))).toBe(true)
  })

  it("keeps an engine's own 500 message", async () => {
    harness.backend.override = () => { throw Object.assign(new Error('driver failed programming external connectivity on endpoint web'), { name: 'SwarmError', code: 'INTERNAL' }) }
    const answer = await httpRequest({ socket: harness.socket }, 'POST', '/containers/c1/start')
    expect(answer.status).toBe(500)
    expect(JSON.parse(answer.body)).toEqual({ message: 'driver failed programming external connectivity on endpoint web' })
  })
})

describe("Content-Type, as dockerd 20.10's CheckForJSON", () => {
  const create = async (headers: Record<string, string>, body = '{"Image":"busybox"}'): Promise<{ status: number, body: string }> =>
    await httpRequest({ socket: harness.socket }, 'POST', '/v1.41/containers/create', { body, headers })

  it.each([
    ['text/plain', { 'Content-Type': 'text/plain' }, 'Content-Type specified (text/plain) must be \'application/json\''],
    ['none, with a body', {}, 'Content-Type specified () must be \'application/json\''],
    ['a malformed one', { 'Content-Type': 'application/json;;;x' }, 'Content-Type specified (application/json;;;x) must be \'application/json\'']
  ])('refuses %s on create with 400', async (_name, headers, message) => {
    const answer = await create(headers)
    expect(answer.status).toBe(400)
    expect(JSON.parse(answer.body)).toEqual({ message })
    expect(harness.backend.requests).toEqual([])
  })

  it.each([
    ['application/json', { 'Content-Type': 'application/json' }, '{"Image":"busybox"}'],
    ['with a charset', { 'Content-Type': 'Application/JSON; charset=utf-8' }, '{"Image":"busybox"}'],
    ['none, without a body', {}, '']
  ])('accepts %s', async (_name, headers, body) => {
    const answer = await create(headers, body)
    expect(answer.status).toBe(201)
  })

  it('checks exec start from API 1.22 on, on the upgrade path too', async () => {
    const start = (version: string): string => `POST ${version}/exec/e1/start HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: tcp\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\n{}`
    const refused = parse(await raw(start('/v1.41')))
    expect(refused.status).toBe(400)
    expect(refused.body).toEqual({ message: 'Content-Type specified (text/plain) must be \'application/json\'' })
    expect(await raw(start('/v1.21'), '\r\n\r\n')).toMatch(/^HTTP\/1\.1 101 UPGRADED/)
  })

  it('leaves endpoints dockerd does not check alone', async () => {
    const answer = await httpRequest({ socket: harness.socket }, 'POST', '/containers/c1/wait', { body: '{}', headers: { 'Content-Type': 'text/plain' } })
    expect(answer.status).not.toBe(400)
  })
})
