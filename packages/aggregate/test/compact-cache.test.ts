import { describe, expect, it } from 'vitest'
import { breakEvents, type FakeEngine } from './fake-engine.js'
import { docker, eventually, fakeCluster, run } from './harness.js'

const inspectsOf = (engine: FakeEngine, id: string): number => engine.calls.filter((call) => call === `ContainerInspect ${id}`).length

describe('inspect cache', () => {
  it('answers docker inspect from memory once the node has answered it, with the Node object', async () => {
    await using cluster = await fakeCluster([{}, {}])
    const { id, node } = await run(cluster.service, 'web', { Env: ['constraint:node==node-1', 'A=1'] })
    expect(node).toBe('node-1')
    const engine = cluster.engines[1]!
    // an event drops what run()'s own inspect left in the cache
    engine.emit({ Type: 'container', Action: 'attach', id, Actor: { ID: id, Attributes: { name: 'web' } } })
    await eventually(async () => {
      const from = engine.calls.length
      await docker(cluster.service, 'ContainerInspect', id)
      return engine.calls.length > from
    })
    engine.containers.get(id)!.Config.Env = ['A=1']
    engine.emit({ Type: 'container', Action: 'update', id, Actor: { ID: id, Attributes: { name: 'web' } } })
    await eventually(async () => ((await docker(cluster.service, 'ContainerInspect', id)).json.Config.Env as string[])[0] === 'A=1')
    engine.emit({ Type: 'container', Action: 'attach', id, Actor: { ID: id, Attributes: { name: 'web' } } })
    await new Promise((resolve) => setTimeout(resolve, 50))
    const from = engine.calls.length
    const inspect = (await docker(cluster.service, 'ContainerInspect', 'web')).json
    expect(engine.calls.slice(from)).toEqual([`ContainerInspect ${id}`])
    expect(inspect).toMatchObject({ Id: id, Name: '/web', Config: { Env: ['A=1'] }, State: { Running: true }, Node: { Name: 'node-1', Addr: '127.0.0.1:2402' } })
    const again = await docker(cluster.service, 'ContainerInspect', id.slice(0, 12))
    expect(engine.calls.slice(from)).toEqual([`ContainerInspect ${id}`])
    expect(again.json).toEqual(inspect)
  })

  it('asks the node again after any event of the container, and after any request routed to it', async () => {
    await using cluster = await fakeCluster([{}])
    const { id } = await run(cluster.service, 'web', { Env: ['A=1'] })
    const engine = cluster.engines[0]!
    await docker(cluster.service, 'ContainerInspect', id)
    const before = inspectsOf(engine, id)
    // a change made behind aggregate's back, which the engine announces
    engine.containers.get(id)!.Config.Env = ['A=2']
    engine.emit({ Type: 'container', Action: 'exec_create: sh', id, Actor: { ID: id, Attributes: { name: 'web' } } })
    await eventually(async () => ((await docker(cluster.service, 'ContainerInspect', id)).json.Config.Env as string[])[0] === 'A=2')
    // a network's event names the container in its attributes
    engine.containers.get(id)!.Config.Env = ['A=3']
    engine.emit({ Type: 'network', Action: 'disconnect', id: 'n1', Actor: { ID: 'n1', Attributes: { container: id, name: 'appnet' } } })
    await eventually(async () => ((await docker(cluster.service, 'ContainerInspect', id)).json.Config.Env as string[])[0] === 'A=3')
    // a request through aggregate: seen by the next inspect even before any event
    engine.containers.get(id)!.Config.Env = ['A=4']
    await docker(cluster.service, 'ContainerTop', id)
    expect((await docker(cluster.service, 'ContainerInspect', id)).json.Config.Env).toEqual(['A=4'])
    expect(inspectsOf(engine, id)).toBeGreaterThan(before)
  })

  it('does not keep a document fetched while an event of the container arrived', async () => {
    await using cluster = await fakeCluster([{}])
    const { id } = await run(cluster.service, 'web', { Env: ['A=1'] })
    const engine = cluster.engines[0]!
    engine.emit({ Type: 'container', Action: 'attach', id, Actor: { ID: id, Attributes: { name: 'web' } } })
    await new Promise((resolve) => setTimeout(resolve, 50))
    // the event comes while the inspect is on its way: the answer it spoils is passed on, not kept
    const release = engine.hold('ContainerInspect')
    const before = inspectsOf(engine, id)
    const pending = docker(cluster.service, 'ContainerInspect', id)
    await eventually(() => inspectsOf(engine, id) > before)
    engine.emit({ Type: 'container', Action: 'update', id, Actor: { ID: id, Attributes: { name: 'web' } } })
    // the engine's own refresh after the update comes in too (the state cache's)
    await eventually(() => inspectsOf(engine, id) > before + 1)
    release()
    expect((await pending).json.Config.Env).toEqual(['A=1'])
    engine.containers.get(id)!.Config.Env = ['A=2']
    const count = inspectsOf(engine, id)
    expect((await docker(cluster.service, 'ContainerInspect', id)).json.Config.Env).toEqual(['A=2'])
    expect(inspectsOf(engine, id)).toBe(count + 1)
  })

  it('forgets what a node told it when the node fails, and answers a gone container NOT_FOUND', async () => {
    await using cluster = await fakeCluster([{}])
    const { id } = await run(cluster.service, 'web', { Env: ['A=1'] })
    const engine = cluster.engines[0]!
    await docker(cluster.service, 'ContainerInspect', id)
    // events lost while the node was away: the document is not trusted after it returns
    engine.containers.get(id)!.Config.Env = ['A=2']
    breakEvents(engine)
    await eventually(async () => ((await docker(cluster.service, 'ContainerInspect', id).catch(() => ({ json: {} }))).json.Config?.Env as string[] | undefined)?.[0] === 'A=2')
    // gone behind aggregate's back (no event) once the document is dropped: NOT_FOUND, and dropped from the state cache
    engine.containers.delete(id)
    engine.emit({ Type: 'container', Action: 'exec_die', id, Actor: { ID: id, Attributes: {} } })
    await eventually(async () => await docker(cluster.service, 'ContainerInspect', 'web').then(() => '', (error: { code?: string }) => error.code) === 'NOT_FOUND')
    expect((await docker(cluster.service, 'ContainerList', '', { query: { all: '1' } })).json).toEqual([])
  })

  it('keeps no document older than the refresh interval, nor any with --inspect-cache 0', async () => {
    await using aged = await fakeCluster([{}], { refreshIntervalMs: 300 })
    const { id } = await run(aged.service, 'web')
    await docker(aged.service, 'ContainerInspect', id)
    aged.engines[0]!.containers.get(id)!.Config.Env = ['A=2']
    await new Promise((resolve) => setTimeout(resolve, 400))
    expect((await docker(aged.service, 'ContainerInspect', id)).json.Config.Env).toEqual(['A=2'])

    await using none = await fakeCluster([{}], { inspectCacheBytes: 0 })
    const web = await run(none.service, 'web')
    await new Promise((resolve) => setTimeout(resolve, 50))
    const before = inspectsOf(none.engines[0]!, web.id)
    for (let round = 0; round < 3; round++) await docker(none.service, 'ContainerInspect', web.id)
    expect(inspectsOf(none.engines[0]!, web.id)).toBe(before + 3)
  })
})

describe('state cache refresh', () => {
  it('inspects a container at most twice for a burst of its events, and a stop waits for one inspect after it', async () => {
    await using cluster = await fakeCluster([{}])
    const { id } = await run(cluster.service, 'web')
    const engine = cluster.engines[0]!
    await new Promise((resolve) => setTimeout(resolve, 50))
    const before = inspectsOf(engine, id)
    const release = engine.hold('ContainerInspect')
    for (const action of ['die', 'start', 'die', 'start', 'update']) engine.emit({ Type: 'container', Action: action, id, Actor: { ID: id, Attributes: { name: 'web' } } })
    await eventually(() => inspectsOf(engine, id) === before + 1)
    await new Promise((resolve) => setTimeout(resolve, 50))
    release()
    await eventually(() => inspectsOf(engine, id) === before + 2)
    await new Promise((resolve) => setTimeout(resolve, 100))
    expect(inspectsOf(engine, id)).toBe(before + 2)
    // the state a stop leaves is what the next ps shows
    await docker(cluster.service, 'ContainerStop', id)
    const ps = (await docker(cluster.service, 'ContainerList', '', { query: { all: '1' } })).json as Array<{ State: string }>
    expect(ps[0]?.State).toBe('exited')
  })
})

describe('inspect cache and callers', () => {
  it('answers a caller only with a document fetched for the same identity, whatever its connection', async () => {
    await using cluster = await fakeCluster([{}])
    const { id } = await run(cluster.service, 'web')
    const engine = cluster.engines[0]!
    const ci = { listener: 'ci', address: '127.0.0.1:40001' }
    await docker(cluster.service, 'ContainerInspect', id, { caller: ci })
    const count = inspectsOf(engine, id)
    // the same identity on another connection: from memory
    await docker(cluster.service, 'ContainerInspect', id, { caller: { listener: 'ci', address: '127.0.0.1:40002' } })
    expect(inspectsOf(engine, id)).toBe(count)
    // another identity: asked of the node, which (a policy below, say) may answer it otherwise
    await docker(cluster.service, 'ContainerInspect', id, { caller: { listener: 'other' } })
    expect(inspectsOf(engine, id)).toBe(count + 1)
  })
})
