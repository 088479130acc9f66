import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { CONTAINER_CREATE_BODY, type GoType } from '@libswarm/docker-api'
import { createSimulator, type Simulator } from '../src/index.js'
import { call, runContainer } from './call.js'
import { ENGINE_ANSWERS, PORT_ANSWERS, unmarshal } from './engine-answers.js'

let sim: Simulator

beforeEach(() => { sim = createSimulator({ name: 'sim-bodies', seed: 5 }) })
afterEach(async () => { await sim.close() })

/** The status and message a request is answered with (errors included). */
async function answer (operation: string, target: string, body: unknown, query?: Record<string, string>): Promise<{ status: number, message?: string }> {
  try {
    const reply = await call(sim, operation, target, { body, query })
    return { status: reply.status }
  } catch (error) {
    const { code, message } = error as { code: string, message: string }
    return { status: code === 'BAD_REQUEST' ? 400 : code === 'INTERNAL' ? 500 : code === 'NOT_FOUND' ? 404 : 0, message }
  }
}

async function listWorks (): Promise<void> {
  expect((await call(sim, 'ContainerList', '', { query: { all: '1' } })).status).toBe(200)
  expect((await call(sim, 'SystemInfo')).status).toBe(200)
}

describe('request bodies are decoded as dockerd 20.10 decodes them', () => {
  it('refuses a wrongly typed body with the engine\'s status and message, and stores nothing', async () => {
    const running = await runContainer(sim, { Cmd: ['top'] }, 'running')
    const exec = (await call(sim, 'ContainerExec', running, { body: { Cmd: ['true'] } })).json<{ Id: string }>().Id
    const targets: Record<string, string> = { NetworkConnect: 'bridge', NetworkDisconnect: 'bridge', ContainerExec: running, ContainerUpdate: running, ExecStart: exec }
    for (const [operation, body, status, message] of ENGINE_ANSWERS) {
      const full = operation === 'ContainerCreate' && typeof body === 'object' && !Array.isArray(body) ? { Image: 'busybox', Cmd: ['true'], ...body } : body
      expect([operation, body, await answer(operation, targets[operation] ?? '', full)]).toEqual([operation, body, { status, message: unmarshal(message) }])
    }
    const listed = (await call(sim, 'ContainerList', '', { query: { all: '1' } })).json<Array<{ Id: string }>>()
    expect(listed.map((row) => row.Id)).toEqual([running])
    expect((await call(sim, 'NetworkList')).json<unknown[]>().length).toBe(3)
    expect((await call(sim, 'VolumeList')).json<{ Volumes: unknown[] }>().Volumes).toEqual([])
    await listWorks()
  })

  it('refuses host ports as dockerd does', async () => {
    for (const [bindings, message] of PORT_ANSWERS) {
      expect(await answer('ContainerCreate', '', { Image: 'busybox', Cmd: ['true'], HostConfig: { PortBindings: bindings } })).toEqual({ status: 400, message })
    }
    expect(await answer('ContainerCreate', '', { Image: 'busybox', Cmd: ['true'], HostConfig: { PortBindings: { '80/tcp': [{ HostPort: '20000-20001' }] } } })).toEqual({ status: 201 })
  })

  it('keeps docker ps working after a create with "Entrypoint": 0', async () => {
    expect(await answer('ContainerCreate', '', { Image: 'busybox', Entrypoint: 0 })).toMatchObject({ status: 500 })
    await listWorks()
  })

  it('an update changes only UpdateConfig\'s fields, as dockerd ignores the others', async () => {
    const id = await runContainer(sim, { Cmd: ['top'] }, 'web')
    expect(await answer('ContainerUpdate', id, { Binds: 5, Memory: 64 * 1024 * 1024, Privileged: 'yes' })).toEqual({ status: 200 })
    const { HostConfig } = (await call(sim, 'ContainerInspect', id)).json<{ HostConfig: Record<string, unknown> }>()
    expect(HostConfig).toMatchObject({ Memory: 64 * 1024 * 1024, Binds: null, Privileged: false })
    await listWorks()
  })
})

/** Every field of a struct type, with its path and Go's names for it: a table the tests below walk. */
function fieldsOf (type: GoType, struct: string, path: string[], depth = 0): Array<{ path: string[], struct: string, type: GoType }> {
  if (type.kind !== 'struct' || depth > 4) return []
  const short = type.name.slice(type.name.lastIndexOf('.') + 1)
  const found: Array<{ path: string[], struct: string, type: GoType }> = []
  for (const [name, field] of Object.entries(type.fields)) {
    found.push({ path: [...path, name], struct: depth === 0 ? struct : short, type: field })
    const inner = field.kind === 'slice' ? field.element : field.kind === 'map' ? field.value : field
    // a struct in a list or map keeps the path of the field that holds it
    found.push(...fieldsOf(inner, struct, [...path, name], depth + 1))
  }
  return found
}

/** A body with `value` at `path`, lists and maps on the way holding one element. */
function bodyWith (type: GoType, path: readonly string[], value: unknown): unknown {
  if (path.length === 0) return value
  if (type.kind === 'slice') return [bodyWith(type.element, path, value)]
  if (type.kind === 'map') return { k: bodyWith(type.value, path, value) }
  if (type.kind !== 'struct') throw new Error(`no field ${path.join('.')} in ${type.name}`)
  const [name = '', ...rest] = path
  return { [name]: bodyWith(type.fields[name] as GoType, rest, value) }
}

/** A value of the wrong JSON kind for a type, and how Go names that kind. */
function wrongValue (type: GoType): [unknown, string] {
  if (type.kind === 'string' || type.kind === 'strslice') return [true, 'bool']
  if (type.kind === 'bool' || type.kind === 'int' || type.kind === 'float') return ['x', 'string']
  return [7, 'number']
}

/** A value Go decodes whose lists and maps hold nulls: what `fillGoZeros` must make safe. */
function nullish (type: GoType, depth = 0): unknown {
  switch (type.kind) {
    case 'slice': case 'strslice': return [null]
    case 'map': return { '80/tcp': null }
    case 'struct': return depth > 3 ? {} : Object.fromEntries(Object.entries(type.fields).map(([name, field]) => [name, nullish(field, depth + 1)]))
    default: return null
  }
}

describe('every field of the create body, from the table of Go types', () => {
  const fields = fieldsOf(CONTAINER_CREATE_BODY, 'ContainerConfigWrapper', [])

  it(`refuses a wrong type in each of its ${fields.length} fields with Go's message, and ps keeps working`, async () => {
    expect(fields.length).toBeGreaterThan(200)
    for (const { path, struct, type } of fields) {
      const [value, kind] = wrongValue(type)
      const body = { Image: 'busybox', Cmd: ['true'], ...(bodyWith(CONTAINER_CREATE_BODY, path, value) as object) }
      const name = type.kind === 'strslice' ? 'string' : type.name
      expect([path.join('.'), await answer('ContainerCreate', '', body)])
        .toEqual([path.join('.'), { status: 500, message: unmarshal(`${kind} into Go struct field ${struct}.${path.join('.')} of type ${name}`) }])
    }
    expect((await call(sim, 'ContainerList', '', { query: { all: '1' } })).json()).toEqual([])
  })

  it('stores nulls in lists and maps as Go\'s zero values, so a container with them lives and goes', async () => {
    for (const { path, type } of fields.filter((field) => field.path.length === 1)) {
      if (['Image', 'Cmd', 'Entrypoint', 'NetworkMode', 'HostConfig', 'NetworkingConfig'].includes(path[0] as string)) continue
      const body = { Image: 'busybox', Cmd: ['top'], [path[0] as string]: nullish(type) }
      const created = await answer('ContainerCreate', '', body, { name: 'probe' })
      expect([path[0], created.status]).toEqual([path[0], 201])
      for (const operation of ['ContainerStart', 'ContainerInspect', 'ContainerTop', 'ContainerRestart']) {
        const status = (await answer(operation, 'probe', undefined)).status
        expect([path[0], operation, status < 500]).toEqual([path[0], operation, true])
      }
      await listWorks()
      expect((await answer('ContainerDelete', 'probe', undefined, { force: '1', v: '1' })).status).toBe(204)
    }
    const hostConfig = { ...(nullish(CONTAINER_CREATE_BODY.kind === 'struct' ? CONTAINER_CREATE_BODY.fields.HostConfig as GoType : CONTAINER_CREATE_BODY) as object), NetworkMode: null }
    const id = await runContainer(sim, { Cmd: ['top'], Entrypoint: [null, 'sh'], HostConfig: hostConfig, NetworkingConfig: { EndpointsConfig: { bridge: { Aliases: [null] } } } })
    expect((await call(sim, 'ContainerInspect', id)).json<{ State: { Running: boolean } }>().State.Running).toBe(true)
    await listWorks()
  })
})

describe('big bodies', () => {
  it('creates a container with 30,000 Volumes (350 KB) in time linear in their number', async () => {
    const volumes: Record<string, object> = {}
    for (let index = 0; index < 30_000; index++) volumes[`/v${index}`] = {}
    const start = performance.now()
    const created = await call(sim, 'ContainerCreate', '', { body: { Image: 'busybox', Cmd: ['true'], Volumes: volumes } })
    expect(created.status).toBe(201)
    expect(performance.now() - start).toBeLessThan(4000)
    const key = '/' + 'x'.repeat(100_000)
    expect((await call(sim, 'ContainerCreate', '', { body: { Image: 'busybox', Cmd: ['true'], Volumes: { [key]: {} } } })).status).toBe(201)
    await listWorks()
  })
})
