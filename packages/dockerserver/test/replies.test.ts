import net from 'node:net'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { ErrorCode, SwarmError, type Sender } from '@libswarm/core'
import { statusForCode } from '@libswarm/docker-api'
import { createDockerServer } from '../src/index.js'
import { httpRequest, startHarness, type Harness } from './harness.js'

let harness: Harness
beforeEach(async () => { harness = await startHarness() })
afterEach(async () => { await harness.close() })

const send = async (method: string, path: string, options: { body?: string, headers?: Record<string, string> } = {}) =>
  await httpRequest({ socket: harness.socket }, method, path, options)

describe('ping and version negotiation', () => {
  it('GET /_ping relays the backend and carries the negotiation headers', async () => {
    const answer = await send('GET', '/_ping')
    expect(answer.status).toBe(200)
    expect(answer.body).toBe('OK')
    expect(answer.headers).toMatchObject({
      'api-version': '1.41', ostype: 'linux', 'docker-experimental': 'false', 'builder-version': '1',
      'cache-control': 'no-cache, no-store, must-revalidate', pragma: 'no-cache'
    })
    expect(harness.backend.requests[0]?.operation).toBe('SystemPing')
  })

  it('HEAD /_ping answers the headers without a body', async () => {
    const answer = await send('HEAD', '/_ping')
    expect(answer.status).toBe(200)
    expect(answer.body).toBe('')
    expect(answer.headers['api-version']).toBe('1.41')
    expect(harness.backend.requests[0]?.operation).toBe('SystemPingHead')
  })

  it('fills dockerd\'s ping headers in for a backend that sends none', async () => {
    harness.backend.override = () => ({ status: 200 })
    const answer = await send('GET', '/_ping')
    expect(answer.body).toBe('OK')
    expect(answer.headers).toMatchObject({ 'api-version': '1.47', ostype: 'linux', 'docker-experimental': 'false', pragma: 'no-cache' })
  })

  it('answers the backend\'s error to a ping', async () => {
    harness.backend.override = () => { throw new SwarmError(ErrorCode.Unavailable, 'engine is down') }
    const answer = await send('GET', '/_ping')
    expect(answer.status).toBe(503)
    expect(answer.body).toBe('{"message":"engine is down"}\n')
  })

  it('refuses versions below 1.12 and above the maximum with dockerd\'s text', async () => {
    const old = await send('GET', '/v1.11/info')
    expect(old.status).toBe(400)
    expect(old.headers['content-type']).toBe('application/json')
    expect(JSON.parse(old.body)).toEqual({ message: 'client version 1.11 is too old. Minimum supported API version is 1.12, please upgrade your client to a newer version' })
    const tooNew = await send('GET', '/v1.48/info')
    expect(JSON.parse(tooNew.body)).toEqual({ message: 'client version 1.48 is too new. Maximum supported API version is 1.47' })
    expect(harness.backend.requests).toHaveLength(0)
    expect((await send('GET', '/v1.47/version')).status).toBe(200)
  })

  it('learns the backend\'s maximum from its ping and version replies', async () => {
    expect((await send('GET', '/v1.45/containers/json')).status).toBe(200)
    await send('HEAD', '/_ping')
    const refused = await send('GET', '/v1.45/containers/json')
    expect(refused.status).toBe(400)
    expect(JSON.parse(refused.body).message).toBe('client version 1.45 is too new. Maximum supported API version is 1.41')
    expect((await send('GET', '/v1.41/containers/json')).status).toBe(200)
    expect((await send('GET', '/v1.12/containers/json')).status).toBe(200)
  })

  it('learns from the version body when the headers say nothing', async () => {
    harness.backend.override = (request) => request.operation === 'SystemVersion' ? { status: 200, body: '{"ApiVersion":"1.40"}' } : undefined
    await send('GET', '/version')
    expect(JSON.parse((await send('GET', '/v1.41/info')).body).message).toBe('client version 1.41 is too new. Maximum supported API version is 1.40')
  })
})

describe('errors', () => {
  it.each(Object.values(ErrorCode))('Error [%s, ...] becomes its status and dockerd\'s JSON body', async (code) => {
    harness.backend.override = () => { throw new SwarmError(code, `failure with code ${code}: "quoted"`) }
    const answer = await send('GET', '/containers/x/json')
    expect(answer.status).toBe(statusForCode(code))
    expect(answer.headers['content-type']).toBe('application/json')
    expect(answer.body).toBe(JSON.stringify({ message: `failure with code ${code}: "quoted"` }) + '\n')
  })

  it('answers the engine\'s 404 text as the engine did', async () => {
    const answer = await send('GET', '/v1.41/containers/nosuch/json')
    expect(answer.status).toBe(404)
    expect(answer.body).toBe('{"message":"No such container: nosuch"}\n')
  })

  it('answers 400 to malformed JSON without bothering the backend', async () => {
    const answer = await send('POST', '/containers/create', { body: '{"Image": bus', headers: { 'Content-Type': 'application/json' } })
    expect(answer.status).toBe(400)
    expect(JSON.parse(answer.body).message).toMatch(/^invalid JSON body: /)
    expect(harness.backend.requests).toHaveLength(0)
  })

  it('answers 502 when the chain closes the reply channel without a reply', async () => {
    const silent: Sender = { send: async (message) => { await message.ret?.close() }, close: async () => {} }
    await using server = createDockerServer({ addresses: [`unix://${harness.dir}/silent.sock`], next: silent })
    await server.start()
    const answer = await httpRequest({ socket: `${harness.dir}/silent.sock` }, 'GET', '/info')
    expect(answer.status).toBe(502)
    expect(JSON.parse(answer.body).message).toBe('the chain closed the reply channel of SystemInfo without a reply')
  })

  it('closes the reply channel when the client leaves before the reply', async () => {
    let outcome: string | undefined
    const slow: Sender = {
      send: async (message) => {
        setTimeout(() => {
          message.ret?.send({ verb: 'Ack', args: ['200', '{}'] }).then(() => { outcome = 'accepted' }, (error: SwarmError) => { outcome = error.code })
        }, 300)
      },
      close: async () => {}
    }
    await using server = createDockerServer({ addresses: [`unix://${harness.dir}/slow.sock`], next: slow })
    await server.start()
    const socket = net.connect(`${harness.dir}/slow.sock`)
    socket.on('error', () => {})
    socket.write('GET /containers/json HTTP/1.1\r\nHost: x\r\n\r\n')
    await new Promise((resolve) => setTimeout(resolve, 50))
    socket.destroy()
    await new Promise((resolve) => setTimeout(resolve, 500))
    expect(outcome).toBe(ErrorCode.ChannelClosed)
  })

  it('answers 503 when the chain refuses the message', async () => {
    const closed: Sender = { send: async () => { throw new SwarmError(ErrorCode.ChannelClosed, 'service is closed') }, close: async () => {} }
    await using server = createDockerServer({ addresses: [`unix://${harness.dir}/closed.sock`], next: closed })
    await server.start()
    const answer = await httpRequest({ socket: `${harness.dir}/closed.sock` }, 'GET', '/info')
    expect(answer.status).toBe(503)
    expect(answer.body).toBe('{"message":"service is closed"}\n')
  })

  it('answers 502 to a reply with an impossible status', async () => {
    harness.backend.override = () => ({ status: 42 })
    expect((await send('GET', '/info')).status).toBe(502)
  })

  it('survives garbage bytes, huge headers and broken requests', async () => {
    const raw = async (bytes: Buffer | string): Promise<string> => await new Promise((resolve) => {
      const socket = net.connect(harness.socket)
      const chunks: Buffer[] = []
      socket.on('data', (chunk: Buffer) => chunks.push(chunk))
      socket.on('error', () => {})
      socket.on('close', () => resolve(Buffer.concat(chunks).toString('latin1')))
      socket.end(bytes)
      setTimeout(() => socket.destroy(), 3000)
    })
    const random = Buffer.alloc(4096)
    for (let index = 0; index < random.length; index++) random[index] = (index * 7919 + 13) % 256
    expect(await raw(random)).toMatch(/^(HTTP\/1\.1 400|$)/)
    expect(await raw(`GET /info HTTP/1.1\r\nHost: x\r\nConnection: close\r\nX-Registry-Config: ${'a'.repeat(200_000)}\r\n\r\n`)).toMatch(/^HTTP\/1\.1 200/)
    expect(harness.backend.requests.at(-1)?.headers?.['X-Registry-Config']).toHaveLength(200_000)
    expect(await raw(`GET /info HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(1_100_000)}\r\n\r\n`)).toMatch(/^HTTP\/1\.1 431/)
    expect(await raw('GET /info HTTP/1.1\r\nContent-Length: abc\r\n\r\n')).toMatch(/^HTTP\/1\.1 400/)
    expect(await raw('POST /containers/create HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"a"')).toBeDefined()
    expect(await raw('GET /_ping HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n')).toMatch(/^HTTP\/1\.1 200 OK[\s\S]*\r\n\r\nOK$/)
    expect(await raw('HEAD /info HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n')).toMatch(/^HTTP\/1\.1 404 Not Found\r\n[\s\S]*Content-Length: 29\r\n\r\n$/)
    expect(await raw('\x00\x01\x02\r\n\r\n')).toMatch(/^(HTTP\/1\.1 400|$)/)
    expect((await send('GET', '/_ping')).status).toBe(200)
  })
})

describe('streams', () => {
  it('passes a request body as a pulled byte stream', async () => {
    const context = Buffer.alloc(3 * 1024 * 1024, 'x')
    const answer = await send('POST', '/build?t=x', { body: context.toString(), headers: { 'Content-Type': 'application/x-tar' } })
    expect(answer.status).toBe(200)
    expect(harness.backend.bodies.get('ImageBuild')?.equals(context)).toBe(true)
  })

  it('writes each chunk of a reply stream as it comes', async () => {
    let release!: () => void
    const released = new Promise<void>((resolve) => { release = resolve })
    harness.backend.override = () => ({
      status: 200,
      headers: { 'Content-Type': 'application/json' },
      stream: (async function * () {
        yield Buffer.from('{"line":1}\n')
        await released
        yield Buffer.from('{"line":2}\n')
      })()
    })
    const first = await new Promise<string>((resolve, reject) => {
      const socket = net.connect(harness.socket)
      socket.on('error', reject)
      let text = ''
      socket.on('data', (chunk: Buffer) => {
        text += chunk.toString()
        if (text.includes('{"line":1}')) {
          resolve(text)
          release()
          socket.destroy()
        }
      })
      socket.write('GET /containers/x/logs?follow=1 HTTP/1.1\r\nHost: x\r\n\r\n')
    })
    expect(first).toMatch(/^HTTP\/1\.1 200 OK/)
    expect(first).toContain('Transfer-Encoding: chunked')
  })

  it('stops pulling the reply stream when the client goes away', async () => {
    let finished!: () => void
    const stopped = new Promise<void>((resolve) => { finished = resolve })
    let pulled = 0
    const iterator: AsyncIterator<Uint8Array> = {
      next: async () => {
        pulled++
        await new Promise((resolve) => setTimeout(resolve, 20))
        return { done: false, value: Buffer.from(`{"n":${pulled}}\n`) }
      },
      return: async () => { finished(); return { done: true, value: undefined } }
    }
    harness.backend.override = () => ({ status: 200, headers: { 'Content-Type': 'application/json' }, stream: { [Symbol.asyncIterator]: () => iterator } })
    await new Promise<void>((resolve) => {
      const socket = net.connect(harness.socket)
      socket.once('data', () => { socket.destroy(); resolve() })
      socket.write('GET /events HTTP/1.1\r\nHost: x\r\n\r\n')
    })
    await stopped
    const count = pulled
    await new Promise((resolve) => setTimeout(resolve, 100))
    expect(pulled).toBe(count)
  })

  it('ends a JSON progress stream that fails with an error line', async () => {
    harness.backend.override = () => ({
      status: 200,
      headers: { 'Content-Type': 'application/json' },
      stream: (async function * () {
        yield Buffer.from('{"status":"Pulling"}\n')
        throw new SwarmError(ErrorCode.Unavailable, 'registry went away')
      })()
    })
    const answer = await send('POST', '/images/create?fromImage=busybox')
    expect(answer.body).toBe('{"status":"Pulling"}\n{"errorDetail":{"message":"registry went away"},"error":"registry went away"}\n')
  })
})
