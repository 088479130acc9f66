import { describe, expect, it } from 'vitest'
import { ErrorCode, SwarmError, isSwarmError, pipe, type ByteStream } from '@libswarm/core'
import {
  codeForStatus, decodeDockerReply, decodeDockerRequest, encodeDockerReply, encodeDockerRequest, engineError,
  isDockerRequest, jsonReply, parseFilters, queryFlag, queryValue, replyJson, statusForCode, type DockerRequest
} from '../src/index.js'

const stream: ByteStream = { async * [Symbol.asyncIterator] () { yield new Uint8Array([1, 2, 3]) } }

describe('requests as messages', () => {
  it('encodes VERB [operation, target, params] with the verb of the table and decodes it back', () => {
    const request: DockerRequest = {
      operation: 'ContainerCreate',
      target: '',
      query: { name: 'web', label: ['a', 'b'] },
      body: { Image: 'busybox' },
      headers: { 'Content-Type': 'application/json' },
      version: '1.41'
    }
    const [, ret] = pipe()
    const message = encodeDockerRequest(request, ret)
    expect(message.verb).toBe('Spawn')
    expect(message.args[0]).toBe('ContainerCreate')
    expect(message.args[1]).toBe('')
    expect(JSON.parse(message.args[2] ?? '')).toEqual({ query: request.query, body: request.body, headers: request.headers, version: '1.41' })
    expect(message.ret).toBe(ret)
    const decoded = decodeDockerRequest(message)
    expect(decoded).toMatchObject(request)
    expect(isDockerRequest(message)).toBe(true)
  })

  it('leaves empty parts out and carries the stream', () => {
    const message = encodeDockerRequest({ operation: 'ImageLoad', target: '', path: {}, query: {}, headers: {}, stream })
    expect(message.verb).toBe('File')
    expect(message.args[2]).toBe('{}')
    expect(message.stream).toBe(stream)
    expect(decodeDockerRequest(message).stream).toBe(stream)
  })

  it('carries the message\'s caller both ways, outside the params, and none when there is none', () => {
    const caller = { listener: 'ci', uid: 1000, certificate: { subject: 'CN=ci', sans: ['DNS:ci'] } }
    const message = encodeDockerRequest({ operation: 'ContainerList', target: '', caller })
    expect(message.caller).toBe(caller)
    expect(message.args[2]).toBe('{}')
    expect(decodeDockerRequest(message).caller).toBe(caller)
    expect(encodeDockerRequest({ ...decodeDockerRequest(message), target: 'x' }).caller).toBe(caller)
    expect(encodeDockerRequest({ operation: 'ContainerList', target: '' })).not.toHaveProperty('caller')
    expect(decodeDockerRequest({ verb: 'Ls', args: ['ContainerList'] }).caller).toBeUndefined()
  })

  it('carries an unmapped request\'s method and path, with the verb its method implies', () => {
    const message = encodeDockerRequest({ operation: 'Unmapped', target: '', method: 'DELETE', url: '/future/x', query: { force: '1' } })
    expect(message.verb).toBe('Stop')
    expect(decodeDockerRequest(message)).toMatchObject({ operation: 'Unmapped', method: 'DELETE', url: '/future/x', query: { force: '1' } })
    expect(isDockerRequest(message)).toBe(true)
  })

  it('refuses a message that is not a Docker request', () => {
    expect(() => decodeDockerRequest({ verb: 'Ls', args: [] })).toThrow(SwarmError)
    expect(() => decodeDockerRequest({ verb: 'Get', args: ['SystemInfo', '', '{bad'] })).toThrow(/parameters are not JSON/)
    expect(isDockerRequest({ verb: 'Ls', args: ['hello'] })).toBe(false)
    expect(decodeDockerRequest({ verb: 'Get', args: ['SystemInfo'] })).toMatchObject({ operation: 'SystemInfo', target: '' })
  })
})

describe('replies as messages', () => {
  it('encodes Ack [status, body, headers] and decodes it back', () => {
    const message = encodeDockerReply({ status: 201, body: '{"Id":"x"}', headers: { 'Content-Type': 'application/json' }, stream })
    expect(message).toMatchObject({ verb: 'Ack', args: ['201', '{"Id":"x"}', '{"Content-Type":"application/json"}'], stream })
    expect(decodeDockerReply(message)).toEqual({ status: 201, body: '{"Id":"x"}', headers: { 'Content-Type': 'application/json' }, stream })
    expect(decodeDockerReply({ verb: 'Ack', args: [] })).toEqual({ status: 200, body: '', headers: undefined, stream: undefined })
  })

  it('builds JSON replies and reads them', () => {
    const reply = decodeDockerReply(jsonReply([{ Id: 'a' }]))
    expect(reply.status).toBe(200)
    expect(reply.headers?.['Content-Type']).toBe('application/json')
    expect(replyJson(reply)).toEqual([{ Id: 'a' }])
    expect(replyJson(decodeDockerReply(jsonReply(undefined, 204)))).toBeUndefined()
  })

  it('turns an Error reply into its typed error', () => {
    let caught: unknown
    try {
      decodeDockerReply({ verb: 'Error', args: [ErrorCode.NotFound, 'No such container: x'] })
    } catch (error) {
      caught = error
    }
    expect(isSwarmError(caught)).toBe(true)
    expect(caught).toMatchObject({ code: ErrorCode.NotFound, message: 'No such container: x' })
  })
})

describe('statuses', () => {
  it('maps every core code to a status and the engine\'s statuses back to codes', () => {
    expect(statusForCode(ErrorCode.BadRequest)).toBe(400)
    expect(statusForCode(ErrorCode.NotFound)).toBe(404)
    expect(statusForCode(ErrorCode.Conflict)).toBe(409)
    expect(statusForCode(ErrorCode.NotImplemented)).toBe(501)
    expect(statusForCode(ErrorCode.Unavailable)).toBe(503)
    expect(statusForCode(ErrorCode.Protocol)).toBe(502)
    expect(statusForCode('SOMETHING_ELSE')).toBe(500)
    for (const code of Object.values(ErrorCode)) expect(statusForCode(code)).toBeGreaterThanOrEqual(400)
    for (const status of [400, 401, 403, 404, 406, 409, 413, 501, 503, 504]) expect(statusForCode(codeForStatus(status))).toBe(status)
    expect(codeForStatus(500)).toBe(ErrorCode.Internal)
    expect(codeForStatus(418)).toBe(ErrorCode.Internal)
  })

  it('keeps an engine error\'s status and text', () => {
    const error = engineError(404, 'No such image: busybox:nope')
    expect(error.code).toBe(ErrorCode.NotFound)
    expect(error.message).toBe('No such image: busybox:nope')
    expect(statusForCode(error.code)).toBe(404)
  })
})

describe('queries', () => {
  it('parses both forms of filters', () => {
    expect(parseFilters({ filters: '{"status":["running"],"label":["a=b","c"]}' })).toEqual({ status: ['running'], label: ['a=b', 'c'] })
    expect(parseFilters({ filters: '{"status":{"running":true,"exited":false}}' })).toEqual({ status: ['running'] })
    expect(parseFilters({ filters: ['{"id":["x"]}', 'ignored'] })).toEqual({ id: ['x'] })
    expect(parseFilters({})).toEqual({})
    expect(parseFilters(undefined)).toEqual({})
    expect(() => parseFilters({ filters: '{bad' })).toThrow("invalid filter '{bad'")
    expect(() => parseFilters({ filters: '{"a":1}' })).toThrow(/invalid filter/)
    expect(() => parseFilters({ filters: '3' })).toThrow(/invalid filter/)
  })

  it('reads values and Docker booleans', () => {
    expect(queryValue({ a: ['1', '2'] }, 'a')).toBe('1')
    expect(queryValue({ a: 'x' }, 'a')).toBe('x')
    expect(queryValue(undefined, 'a')).toBeUndefined()
    for (const value of ['1', 'true', 'True', 'yes']) expect(queryFlag({ all: value }, 'all')).toBe(true)
    for (const value of ['0', 'false', 'False', '']) expect(queryFlag({ all: value }, 'all')).toBe(false)
    expect(queryFlag({}, 'all')).toBe(false)
  })
})
