import { describe, expect, it } from 'vitest'
import { docker, failure, fakeCluster, run } from './harness.js'

describe('compact cache', () => {
  it('answers docker inspect from the node (the cache keeps no whole inspect), with the Node object', async () => {
    await using cluster = await fakeCluster([{}, {}])
    const { id, node } = await run(cluster.service, 'web', { Env: ['constraint:node==node-1', 'A=1'] })
    expect(node).toBe('node-1')
    const engine = cluster.engines[1]!
    const from = engine.calls.length
    const inspect = (await docker(cluster.service, 'ContainerInspect', 'web')).json
    expect(engine.calls.slice(from)).toEqual([`ContainerInspect ${id}`])
    expect(inspect).toMatchObject({ Id: id, Name: '/web', Config: { Env: ['A=1'] }, State: { Running: true }, Node: { Name: 'node-1', Addr: '127.0.0.1:2402' } })
    // a change the cache was not told of shows in inspect at once
    engine.containers.get(id)!.Config.Env = ['A=2']
    expect((await docker(cluster.service, 'ContainerInspect', id)).json.Config.Env).toEqual(['A=2'])
    // gone behind aggregate's back (no event): NOT_FOUND, and dropped from the cache
    engine.containers.delete(id)
    expect((await failure(docker(cluster.service, 'ContainerInspect', 'web'))).code).toBe('NOT_FOUND')
    expect((await docker(cluster.service, 'ContainerList', '', { query: { all: '1' } })).json).toEqual([])
  })
})
