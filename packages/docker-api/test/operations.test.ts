import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { ErrorCode, isVerb } from '@libswarm/core'
import { DOCKER_OPERATIONS, UNMAPPED_OPERATION, operationSpec, operationUrl, verbForMethod } from '../src/index.js'

const specs = [...DOCKER_OPERATIONS.values()]

describe('the operation table', () => {
  it('names each operation once, by its key', () => {
    for (const [name, spec] of DOCKER_OPERATIONS) expect(spec.operation).toBe(name)
    expect(DOCKER_OPERATIONS.has(UNMAPPED_OPERATION)).toBe(false)
    expect(operationSpec('ContainerList')?.path).toBe('/containers/json')
    expect(operationSpec('NoSuchOperation')).toBeUndefined()
  })

  it('gives every operation a real verb, method and path template with at most one parameter', () => {
    for (const spec of specs) {
      expect(isVerb(spec.verb), spec.operation).toBe(true)
      expect(['GET', 'HEAD', 'POST', 'PUT', 'DELETE']).toContain(spec.method)
      expect(spec.path.startsWith('/'), spec.operation).toBe(true)
      expect((spec.path.match(/\{/g) ?? []).length, spec.operation).toBeLessThanOrEqual(1)
      expect(spec.path, spec.operation).toMatch(/^(\/[a-z_]+|\/\{(id|name)\*?\})+$/)
    }
  })

  it('has no two operations on the same method and path', () => {
    const seen = new Set<string>()
    for (const spec of specs) {
      const key = `${spec.method} ${spec.path.replace(/\{[^}]+\}/g, '{}')}`
      expect(seen.has(key), key).toBe(false)
      seen.add(key)
    }
  })

  it('marks the interactive operations as hijacked and the transfers as streams', () => {
    expect(specs.filter((spec) => spec.response === 'hijack').map((spec) => spec.operation).sort())
      .toEqual(['ContainerAttach', 'ContainerAttachWebsocket', 'ExecStart', 'Grpc', 'Session'])
    for (const name of ['ContainerLogs', 'SystemEvents', 'ContainerStats', 'ImageBuild', 'ImageCreate', 'ContainerArchive', 'ImageGet', 'ContainerWait']) {
      expect(operationSpec(name)?.response, name).toBe('stream')
    }
    for (const name of ['ImageBuild', 'PutContainerArchive', 'ImageLoad', 'PluginCreate']) expect(operationSpec(name)?.body, name).toBe('stream')
  })

  it('maps an unmapped request\'s method onto a verb', () => {
    expect(verbForMethod('GET')).toBe('Get')
    expect(verbForMethod('head')).toBe('Get')
    expect(verbForMethod('DELETE')).toBe('Stop')
    expect(verbForMethod('POST')).toBe('Set')
    expect(verbForMethod('PUT')).toBe('Set')
    expect(verbForMethod('PATCH')).toBe('Set')
  })
})

describe('operationUrl', () => {
  it('fills one-segment and many-segment parameters', () => {
    expect(operationUrl(operationSpec('ContainerInspect')!, 'abc')).toBe('/containers/abc/json')
    expect(operationUrl(operationSpec('ContainerInspect')!, 'a b/c')).toBe('/containers/a%20b/c/json')
    expect(operationUrl(operationSpec('NodeInspect')!, 'a/b')).toBe('/nodes/a%2Fb')
    expect(operationUrl(operationSpec('ImageInspect')!, 'localhost:5000/a/b:tag')).toBe('/images/localhost%3A5000/a/b%3Atag/json')
    expect(operationUrl(operationSpec('ImageDelete')!, 'busybox')).toBe('/images/busybox')
    expect(operationUrl(operationSpec('ContainerList')!, '')).toBe('/containers/json')
    expect(operationUrl(operationSpec('VolumeInspect')!, 'x', { name: 'v1' })).toBe('/volumes/v1')
  })
})

describe('the README', () => {
  it('lists every operation with its method, path, verb, body and response', () => {
    const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8')
    for (const spec of specs) {
      const row = new RegExp(`^\\| \`${spec.operation}\` \\| ${spec.method} \\| \`${spec.path.replace(/[{}*]/g, '\\$&')}\` \\| ${spec.verb} \\| ${spec.body}[^|]* \\| ${spec.response}[^|]* \\|$`, 'm')
      expect(readme, spec.operation).toMatch(row)
    }
    expect(readme).toContain(`\`${UNMAPPED_OPERATION}\``)
    expect(Object.values(ErrorCode).every((code) => readme.includes(`\`${code}\``))).toBe(true)
  })
})
