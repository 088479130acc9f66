import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { DOCKER_OPERATIONS, operationUrl } from '@libswarm/docker-api'
import { httpRequest, startHarness, type Harness } from './harness.js'

const IMAGE = 'localhost:5000/team/app:1.0'

let harness: Harness
beforeAll(async () => { harness = await startHarness() })
afterAll(async () => { await harness.close() })
beforeEach(() => {
  harness.backend.requests.length = 0
  harness.backend.override = () => ({ status: 200, body: '{"ok":true}', headers: { 'Content-Type': 'application/json' } })
})

const send = async (method: string, path: string, options: { body?: string, headers?: Record<string, string | string[]> } = {}) =>
  await httpRequest({ socket: harness.socket }, method, path, options)

describe('routing every operation of the table', () => {
  const routable = [...DOCKER_OPERATIONS.values()].filter((spec) => spec.response !== 'hijack')
  it.each(routable.map((spec) => [spec.operation, spec]))('%s', async (_name, spec) => {
    const target = spec.path.includes('*}') ? IMAGE : 'target1'
    const url = '/v1.41' + operationUrl(spec, target).replace(/%3A/g, ':')
    const answer = await send(spec.method, url + '?all=1&label=a&label=b', spec.body === 'json' ? { body: '{"Image":"busybox"}', headers: { 'Content-Type': 'application/json' } } : {})
    expect(answer.status).toBe(200)
    const [recorded] = harness.backend.requests
    expect(recorded?.operation).toBe(spec.operation)
    expect(recorded?.verb).toBe(spec.verb)
    expect(recorded?.target).toBe(spec.path.includes('{') ? target : '')
    expect(recorded?.version).toBe('1.41')
    expect(recorded?.query).toEqual({ all: '1', label: ['a', 'b'] })
    if (spec.body === 'json') expect(recorded?.body).toEqual({ Image: 'busybox' })
    expect(harness.backend.requests).toHaveLength(1)
  })
})

describe('image and plugin names', () => {
  it.each([
    ['GET', `/images/${IMAGE}/json`, 'ImageInspect', IMAGE],
    ['GET', `/v1.41/images/${IMAGE}/history`, 'ImageHistory', IMAGE],
    ['GET', `/images/${IMAGE}/get`, 'ImageGet', IMAGE],
    ['POST', `/images/${IMAGE}/push?tag=1.0`, 'ImagePush', IMAGE],
    ['POST', `/images/${IMAGE}/tag?repo=x`, 'ImageTag', IMAGE],
    ['DELETE', `/images/${IMAGE}`, 'ImageDelete', IMAGE],
    ['DELETE', '/images/sha256:abcdef', 'ImageDelete', 'sha256:abcdef'],
    ['GET', '/images/localhost%3A5000%2Fteam%2Fapp%3A1.0/json', 'ImageInspect', IMAGE],
    ['GET', '/images/busybox/json', 'ImageInspect', 'busybox'],
    ['GET', '/images/a/history/json', 'ImageInspect', 'a/history'],
    ['GET', '/images/json', 'ImageList', ''],
    ['GET', '/images/get?names=busybox', 'ImageGetAll', ''],
    ['GET', '/distribution/docker.io/library/busybox:latest/json', 'DistributionInspect', 'docker.io/library/busybox:latest'],
    ['POST', '/plugins/vieux/sshfs:latest/enable', 'PluginEnable', 'vieux/sshfs:latest'],
    ['GET', '/plugins/privileges?remote=x', 'GetPluginPrivileges', ''],
    ['GET', '/containers/abc/json/', 'ContainerInspect', 'abc']
  ])('%s %s is %s of %s', async (method, path, operation, target) => {
    expect((await send(method, path)).status).toBe(200)
    expect(harness.backend.requests[0]).toMatchObject({ operation, target })
  })
})

describe('request headers', () => {
  it('keeps a repeated header as a list, as BuildKit repeats its session methods', async () => {
    harness.backend.override = () => ({ status: 200, body: '{}' })
    await send('GET', '/v1.41/info', { headers: { 'X-Docker-Expose-Session-Grpc-Method': ['/a.A/One', '/a.A/Two'], 'X-Registry-Auth': 'e30=' } })
    expect(harness.backend.requests[0]?.headers).toMatchObject({ 'X-Docker-Expose-Session-Grpc-Method': ['/a.A/One', '/a.A/Two'], 'X-Registry-Auth': 'e30=' })
  })
})

describe('references that name their node, as aggregate shows them', () => {
  it.each([
    ['GET', '/containers/node-0/web/json', 'ContainerInspect', 'node-0/web'],
    ['POST', '/containers/node-0/web/attach', 'ContainerAttach', 'node-0/web'],
    ['DELETE', '/containers/node-0/web', 'ContainerDelete', 'node-0/web'],
    ['GET', '/networks/node-1/appnet', 'NetworkInspect', 'node-1/appnet'],
    ['POST', '/networks/node-1/appnet/connect', 'NetworkConnect', 'node-1/appnet'],
    ['DELETE', '/volumes/node-1/data', 'VolumeDelete', 'node-1/data']
  ])('%s %s is %s of %s', async (method, path, operation, target) => {
    harness.backend.override = () => ({ status: 200, body: '{}' })
    await send(method, `/v1.41${path}`)
    expect(harness.backend.requests[0]).toMatchObject({ operation, target })
  })
})

describe('requests the table does not name', () => {
  it.each([['GET', 'Get'], ['HEAD', 'Get'], ['POST', 'Set'], ['PUT', 'Set'], ['DELETE', 'Stop']])('%s travels as Unmapped with verb %s', async (method, verb) => {
    harness.backend.override = () => ({ status: 418, body: method === 'HEAD' ? '' : '{"teapot":true}' })
    const answer = await send(method, '/v1.44/teapots/abc/x?dir=%2Ftmp')
    expect(answer.status).toBe(418)
    expect(harness.backend.requests[0]).toMatchObject({ operation: 'Unmapped', verb, method, url: '/teapots/abc/x', query: { dir: '/tmp' }, version: '1.44', target: '' })
  })

  it('carries a JSON body as body and anything else as a stream', async () => {
    harness.backend.override = async (request) => {
      const chunks: Buffer[] = []
      for await (const chunk of request.stream ?? []) chunks.push(Buffer.from(chunk))
      return { status: 200, body: JSON.stringify({ body: request.body ?? null, stream: Buffer.concat(chunks).toString() }) }
    }
    const asJson = await send('POST', '/future/thing', { body: '{"a":1}', headers: { 'Content-Type': 'application/json' } })
    expect(JSON.parse(asJson.body)).toEqual({ body: { a: 1 }, stream: '' })
    const asStream = await send('POST', '/future/thing', { body: 'raw bytes', headers: { 'Content-Type': 'application/octet-stream' } })
    expect(JSON.parse(asStream.body)).toEqual({ body: null, stream: 'raw bytes' })
  })

  it('answers the backend\'s 404 for an unknown path, not its own', async () => {
    harness.backend.override = undefined
    const answer = await send('GET', '/nothing/here')
    expect(answer.status).toBe(404)
    expect(answer.body).toBe('{"message":"page not found"}\n')
    expect(harness.backend.requests[0]?.operation).toBe('Unmapped')
  })
})

describe('headers and queries', () => {
  it('passes the meaningful request headers with canonical names, and not hop-by-hop ones', async () => {
    await send('POST', '/images/create?fromImage=busybox&tag=latest', { headers: { 'X-Registry-Auth': 'eyJ1c2VyIjoiYSJ9', 'x-registry-config': 'e30=', 'User-Agent': 'Docker-Client/28' } })
    const headers = harness.backend.requests[0]?.headers ?? {}
    expect(headers['X-Registry-Auth']).toBe('eyJ1c2VyIjoiYSJ9')
    expect(headers['X-Registry-Config']).toBe('e30=')
    expect(headers['User-Agent']).toBe('Docker-Client/28')
    expect(Object.keys(headers).map((name) => name.toLowerCase())).not.toContain('host')
    expect(harness.backend.requests[0]?.query).toEqual({ fromImage: 'busybox', tag: 'latest' })
  })

  it('relays the reply headers and status of the backend', async () => {
    harness.backend.override = () => ({ status: 201, body: '{"Id":"x"}', headers: { 'Content-Type': 'application/json', 'X-Custom': 'yes', 'Api-Version': '1.41' } })
    const answer = await send('POST', '/containers/create', { body: '{}', headers: { 'Content-Type': 'application/json' } })
    expect(answer.status).toBe(201)
    expect(answer.headers['x-custom']).toBe('yes')
    expect(answer.headers['content-type']).toBe('application/json')
    expect(answer.body).toBe('{"Id":"x"}')
    expect(answer.headers['content-length']).toBe('10')
    expect(answer.headers['transfer-encoding']).toBeUndefined()
  })

  it('survives odd query strings and paths', async () => {
    for (const path of ['/containers/json?filters=%zz&&=&a', '/containers/%zz/json', '/%', '/v1.41', '//containers//json', '/v/x']) {
      const answer = await send('GET', path)
      expect(answer.status).toBeGreaterThanOrEqual(200)
    }
    expect((await send('GET', '/_ping')).status).toBe(200)
  })
})
