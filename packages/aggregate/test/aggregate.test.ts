import { describe, expect, it } from 'vitest'
import { parseAggregateArgs } from '../src/index.js'
import { breakEvents } from './fake-engine.js'
import { docker, eventually, failure, fakeCluster, run } from './harness.js'

describe('one engine seen from the client', () => {
  it('merges containers of every node, names them NODE/NAME and filters by node', async () => {
    await using fresh = await fakeCluster([{}, {}, {}], {}, ([e0, e1, e2]) => {
      e0!.add('a', { running: true })
      e1!.add('b', { running: true })
      e2!.add('c')
    })
    const { id } = await run(fresh.service, 'web')
    const ps = await docker(fresh.service, 'ContainerList')
    const names = ps.json.map((row: any) => row.Names[0]).sort()
    expect(names.some((name: string) => /^\/node-\d\/web$/.test(name))).toBe(true)
    expect(ps.json.find((row: any) => row.Id === id).Status).toMatch(/^Up /)
    const all = await docker(fresh.service, 'ContainerList', '', { query: { all: '1' } })
    expect(all.json.length).toBe(ps.json.length + 1)
    const onOne = await docker(fresh.service, 'ContainerList', '', { query: { all: '1', filters: JSON.stringify({ node: ['node-1'] }) } })
    expect(onOne.json.every((row: any) => row.Names[0].startsWith('/node-1/'))).toBe(true)
    const glob = await docker(fresh.service, 'ContainerList', '', { query: { all: '1', filters: JSON.stringify({ node: ['node-*'] }) } })
    expect(glob.json.length).toBe(all.json.length)
    const byName = await docker(fresh.service, 'ContainerList', '', { query: { all: '1', filters: JSON.stringify({ name: ['web'] }) } })
    expect(byName.json.map((row: any) => row.Id)).toEqual([id])
    const exited = await docker(fresh.service, 'ContainerList', '', { query: { filters: JSON.stringify({ status: ['created'] }) } })
    expect(exited.json.map((row: any) => row.Names[0])).toEqual(['/node-2/c'])
    await expect(docker(fresh.service, 'ContainerList', '', { query: { filters: JSON.stringify({ bogus: ['x'] }) } })).rejects.toMatchObject({ code: 'BAD_REQUEST' })
  })

  it('finds containers by id, prefix, name and NODE/NAME, and refuses ambiguous references', async () => {
    let a = ''
    await using fresh = await fakeCluster([{}, {}], {}, ([e0, e1]) => {
      a = e0!.add('web', { running: true })
      e0!.add('twin')
      e1!.add('twin')
    })
    for (const ref of [a, a.slice(0, 12), 'web', '/web', 'node-0/web']) {
      const inspect = await docker(fresh.service, 'ContainerInspect', ref)
      expect(inspect.json.Id).toBe(a)
      expect(inspect.json.Node.Name).toBe('node-0')
    }
    const ambiguous = await failure(docker(fresh.service, 'ContainerInspect', 'twin'))
    expect(ambiguous.code).toBe('BAD_REQUEST')
    expect(ambiguous.message).toMatch(/node-0\/twin, node-1\/twin/)
    expect((await docker(fresh.service, 'ContainerInspect', 'node-1/twin')).json.Node.Name).toBe('node-1')
    const missing = await failure(docker(fresh.service, 'ContainerInspect', 'nope'))
    expect(missing).toMatchObject({ code: 'NOT_FOUND', message: 'No such container: nope' })
  })

  it('routes every container operation to the node that holds the container', async () => {
    // Names that are not hex: dockerd (and the fake) also match a name against id prefixes.
    let mine: string[] = []
    await using again = await fakeCluster([{}, {}, {}], {}, (engines) => { mine = engines.map((engine, index) => engine.add(`box${index}`, { running: true })) })
    for (const operation of ['ContainerTop', 'ContainerChanges', 'ContainerResize', 'ContainerKill', 'ContainerPause', 'ContainerUnpause', 'ContainerRestart',
      'ContainerArchiveInfo', 'ContainerArchive', 'PutContainerArchive', 'ContainerUpdate', 'ContainerRename', 'ContainerStats', 'ContainerWait',
      'ContainerExport', 'ContainerAttach', 'ContainerAttachWebsocket']) {
      const answer = await docker(again.service, operation, 'box2')
      expect(answer.json).toMatchObject({ node: 'node-2', operation, target: mine[2] })
    }
    const logs = await docker(again.service, 'ContainerLogs', 'node-1/box1')
    expect(logs.text).toBe('logs of /box1 on node-1')
    const exec = await docker(again.service, 'ContainerExec', 'box0', { body: { Cmd: ['true'] } })
    const started = await docker(again.service, 'ExecStart', exec.json.Id)
    expect(started.json).toMatchObject({ node: 'node-0', ContainerID: mine[0] })
    expect(again.engines[0]!.calls).toContain(`ExecStart ${exec.json.Id as string}`)
    expect(again.engines[1]!.calls.some((call) => call.startsWith('Exec'))).toBe(false)
    await docker(again.service, 'ContainerDelete', 'box1')
    await expect(docker(again.service, 'ContainerInspect', 'box1')).rejects.toMatchObject({ code: 'NOT_FOUND' })
  })

  it('sums info over the nodes and lists each node as classic Swarm did', async () => {
    await using fresh = await fakeCluster([{ ncpu: 4, labels: ['storage=ssd'] }, { ncpu: 2, memTotal: 2 * 1024 ** 3 }], {}, ([e0, e1]) => {
      e0!.add('x', { running: true })
      e1!.add('y')
    })
    await run(fresh.service, 'r', { HostConfig: { NanoCpus: 1e9, Memory: 256 * 1024 ** 2 } }, false)
    const info = (await docker(fresh.service, 'SystemInfo')).json
    expect(info.NCPU).toBe(6)
    expect(info.MemTotal).toBe(10 * 1024 ** 3)
    expect(info.Containers).toBe(3)
    expect(info.ContainersRunning).toBe(1)
    expect(info.ContainersStopped).toBe(2)
    const status = new Map<string, string>()
    let current = ''
    for (const [key, value] of info.SystemStatus as Array<[string, string]>) {
      if (!key.includes('└')) current = key.trim()
      status.set(key.includes('└') ? `${current}.${key.replace('└', '').trim()}` : key.trim(), value)
    }
    expect(status.get('Nodes')).toBe('2')
    expect(status.get('Strategy')).toBe('spread')
    expect(status.get('node-0')).toBe('127.0.0.1:2401')
    expect(status.get('node-0.Status')).toBe('Healthy')
    expect(status.get('node-0.Labels')).toBe('kernelversion=6.1.0, operatingsystem=Fake Linux, storage=ssd, storagedriver=overlay2')
    expect(status.get('node-0.ServerVersion')).toBe('20.10.24')
    // spread: equal load (one container each, nothing reserved), so the first node takes it
    expect(status.get('node-0.Reserved CPUs')).toBe('1 / 4')
    expect(status.get('node-1.Reserved CPUs')).toBe('0 / 2')
    expect(status.get('node-0.Reserved Memory')).toBe('256 MiB / 8 GiB')
    expect(status.get('node-1.Containers')).toMatch(/\(\d Running, 0 Paused, \d Stopped\)/)
    const version = (await docker(fresh.service, 'SystemVersion')).json
    expect(version.ApiVersion).toBe('1.41')
  })

  it('answers ping and version with the lowest API version of the nodes', async () => {
    await using cluster = await fakeCluster([{ apiVersion: '1.41' }, { apiVersion: '1.40' }])
    const ping = await docker(cluster.service, 'SystemPing')
    expect(ping.text).toBe('OK')
    expect(JSON.parse(ping.message.args[2] as string)['Api-Version']).toBe('1.40')
    expect((await docker(cluster.service, 'SystemVersion')).json.ApiVersion).toBe('1.40')
  })

  it('merges events into one stream that names the node', async () => {
    await using cluster = await fakeCluster([{}, {}])
    const events = await docker(cluster.service, 'SystemEvents', '', { query: { filters: JSON.stringify({ type: ['container'] }) } })
    const stream = events.message.stream![Symbol.asyncIterator]()
    cluster.engines[1]!.emit({ Type: 'container', Action: 'start', Actor: { ID: 'abc', Attributes: { name: 'x' } } })
    cluster.engines[0]!.emit({ Type: 'image', Action: 'pull', Actor: { ID: 'busybox', Attributes: {} } })
    cluster.engines[0]!.emit({ Type: 'container', Action: 'die', Actor: { ID: 'def', Attributes: { name: 'y' } } })
    const decoder = new TextDecoder()
    let text = ''
    while (text.split('\n').length < 3) text += decoder.decode((await stream.next()).value)
    const [first, second] = text.trim().split('\n').map((line) => JSON.parse(line))
    expect(first).toMatchObject({ Action: 'start', node: { Name: 'node-1', Addr: '127.0.0.1:2402', Ip: '127.0.0.1' } })
    expect(first.Actor.Attributes['node.name']).toBe('node-1')
    expect(second).toMatchObject({ Action: 'die', node: { Name: 'node-0' } })
    await stream.return?.()
  })
})

describe('placement', () => {
  it('spreads by default and packs with binpack', async () => {
    await using spread = await fakeCluster([{}, {}, {}])
    const spreadNodes = []
    for (let index = 0; index < 6; index++) spreadNodes.push((await run(spread.service, `s${index}`)).node)
    expect(spreadNodes.sort()).toEqual(['node-0', 'node-0', 'node-1', 'node-1', 'node-2', 'node-2'])
    await using packed = await fakeCluster([{}, {}, {}], { strategy: 'binpack' }, (engines) => { engines[1]!.add('already', { running: true }) })
    const nodes = []
    for (let index = 0; index < 4; index++) nodes.push((await run(packed.service, `b${index}`)).node)
    expect(nodes).toEqual(['node-1', 'node-1', 'node-1', 'node-1'])
  })

  it('binpack fills a node up to its memory, then moves on; spread balances reserved load', async () => {
    await using packed = await fakeCluster([{ memTotal: 1024 ** 3 }, { memTotal: 1024 ** 3 }], { strategy: 'binpack' })
    const half = { HostConfig: { Memory: 512 * 1024 ** 2 } }
    const nodes = []
    for (let index = 0; index < 4; index++) nodes.push((await run(packed.service, `m${index}`, half)).node)
    expect(nodes).toEqual(['node-0', 'node-0', 'node-1', 'node-1'])
    const full = await failure(run(packed.service, 'm4', half))
    expect(full.code).toBe('NO_SUITABLE_NODE')
    expect(full.message).toMatch(/no resources available to schedule container/)
    await using spread = await fakeCluster([{ ncpu: 8 }, { ncpu: 2 }])
    const a = await run(spread.service, 'a', { HostConfig: { NanoCpus: 2e9 } })
    const b = await run(spread.service, 'b', { HostConfig: { NanoCpus: 2e9 } })
    // node-1 would be 100% busy after one; node-0 stays at 25%, then 50%
    expect([a.node, b.node]).toEqual(['node-0', 'node-0'])
  })

  it('honours the containerslots engine label', async () => {
    await using cluster = await fakeCluster([{ labels: ['containerslots=1'] }, { labels: ['containerslots=2'] }], { strategy: 'binpack' })
    const nodes = []
    for (let index = 0; index < 3; index++) nodes.push((await run(cluster.service, `slot${index}`, {}, false)).node)
    expect(nodes.sort()).toEqual(['node-0', 'node-1', 'node-1'])
    const error = await failure(run(cluster.service, 'slot3', {}, false))
    expect(error.message).toBe('Unable to find a node that satisfies the following conditions [available container slots] (excluded: node-0, node-1)')
  })

  it('random uses the random source among the nodes that fit', async () => {
    let next = 0.99
    await using cluster = await fakeCluster([{}, {}, {}], { strategy: 'random', random: () => next })
    expect((await run(cluster.service, 'r1')).node).toBe('node-2')
    next = 0
    expect((await run(cluster.service, 'r2')).node).toBe('node-0')
  })

  it('counts creates in flight, so concurrent creates do not overbook a node', async () => {
    await using cluster = await fakeCluster([{ memTotal: 4 * 1024 ** 3 }, { memTotal: 4 * 1024 ** 3 }], { strategy: 'binpack' })
    const body = { Image: 'busybox', HostConfig: { Memory: 2 * 1024 ** 3 } }
    const results = await Promise.allSettled([0, 1, 2, 3, 4].map(async (index) =>
      await docker(cluster.service, 'ContainerCreate', '', { query: { name: `p${index}` }, body })))
    expect(results.filter((result) => result.status === 'fulfilled').length).toBe(4)
    const rejected = results.find((result) => result.status === 'rejected') as PromiseRejectedResult
    expect(rejected.reason.message).toMatch(/no resources available/)
    expect(cluster.engines[0]!.containers.size).toBe(2)
    expect(cluster.engines[1]!.containers.size).toBe(2)
  })

  it('applies constraints from env and labels: ==, !=, globs, regexes, engine labels, soft rules', async () => {
    await using cluster = await fakeCluster([{ labels: ['storage=ssd'] }, { labels: ['storage=disk'] }, { labels: ['storage=ssd', 'zone=b'] }])
    const on = async (name: string, body: Record<string, unknown>): Promise<string> => (await run(cluster.service, name, body, false)).node
    expect(await on('a', { Env: ['constraint:node==node-1'] })).toBe('node-1')
    expect(await on('b', { Env: ['constraint:storage==disk'] })).toBe('node-1')
    expect(await on('c', { Env: ['constraint:storage!=ssd'] })).toBe('node-1')
    expect(await on('d', { Env: ['constraint:node==/node-[2]/'] })).toBe('node-2')
    expect(await on('e', { Env: ['constraint:zone==b*'] })).toBe('node-2')
    expect(await on('f', { Labels: { 'com.docker.swarm.constraints': '["node==node-0"]' } })).toBe('node-0')
    expect(await on('g', { Env: ['constraint:node==~node-9'] })).toMatch(/^node-\d$/)
    const error = await failure(on('h', { Env: ['constraint:node==node-9'] }))
    expect(error).toMatchObject({ code: 'NO_SUITABLE_NODE' })
    expect(error.message).toMatch(/^Unable to find a node that satisfies the following conditions \[node==node-9\]/)
    const invalid = await failure(on('i', { Env: ['constraint:node=node-1'] }))
    expect(invalid.code).toBe('BAD_REQUEST')
    // the rules leave Env and stay as a label
    const created = [...cluster.engines[1]!.containers.values()].find((c) => c.Name === '/a')!
    expect(created.Config.Env).toEqual([])
    expect(JSON.parse(created.Config.Labels['com.docker.swarm.constraints'])).toEqual(['node==node-1'])
  })

  it('applies container and image affinities', async () => {
    await using fresh = await fakeCluster([{}, { images: ['busybox:latest', 'redis:7'] }, {}], {}, (engines) => { engines[2]!.add('front', { running: true }) })
    const on = async (name: string, body: Record<string, unknown>): Promise<string> => (await run(fresh.service, name, body, false)).node
    expect(await on('a', { Env: ['affinity:container==front'] })).toBe('node-2')
    expect(await on('b', { Env: ['affinity:image==redis'] })).toBe('node-1')
    expect(await on('c', { Env: ['affinity:container!=front', 'constraint:node!=node-0'] })).toBe('node-1')
    expect(await on('d', { Labels: { 'com.docker.swarm.affinities': '["container==fr*"]' } })).toBe('node-2')
    expect(await on('e', { Env: ['affinity:container==~nothing'] })).toMatch(/^node-\d$/)
    const error = await failure(on('f', { Env: ['affinity:image==postgres'] }))
    expect(error.message).toMatch(/conditions \[image==postgres\]/)
  })

  it('places dependants beside their dependency and says when that is impossible', async () => {
    await using cluster = await fakeCluster([{}, {}, {}])
    const data = await run(cluster.service, 'data', {}, false)
    await run(cluster.service, 'other', {}, false)
    await run(cluster.service, 'third', {}, false)
    for (const hostConfig of [{ VolumesFrom: ['data:ro'] }, { Links: ['/data:db'] }, { NetworkMode: 'container:data' }, { IpcMode: 'container:data' }]) {
      const placed = await run(cluster.service, undefined, { HostConfig: hostConfig }, false)
      expect(placed.node).toBe(data.node)
    }
    const split = await failure(run(cluster.service, 'x', { HostConfig: { VolumesFrom: ['data'], Links: ['other:o'] } }, false))
    expect(split.message).toMatch(/^Unable to find a node fulfilling all dependencies: --volumes-from=data --link=other/)
    const missing = await failure(run(cluster.service, 'y', { HostConfig: { VolumesFrom: ['ghost'] } }, false))
    expect(missing.message).toMatch(/no container ghost/)
  })

  it('avoids nodes whose published host ports would clash', async () => {
    await using cluster = await fakeCluster([{}, {}])
    const port80 = { HostConfig: { PortBindings: { '80/tcp': [{ HostPort: '80' }] } } }
    const first = await run(cluster.service, 'w1', port80)
    const second = await run(cluster.service, 'w2', port80)
    expect(first.node).not.toBe(second.node)
    const error = await failure(run(cluster.service, 'w3', port80))
    expect(error.message).toBe('Unable to find a node that satisfies the following conditions [port 80 (Bridge mode)] (excluded: node-0, node-1)')
    // a random host port never clashes
    await run(cluster.service, 'w4', { HostConfig: { PortBindings: { '80/tcp': [{ HostPort: '' }] } } })
  })

  it('prefers a node that has the image and pulls it when none has', async () => {
    await using cluster = await fakeCluster([{ images: [] }, { images: ['busybox:latest'] }])
    expect((await run(cluster.service, 'a', {}, false)).node).toBe('node-1')
    const pulled = await run(cluster.service, 'b', { Image: 'alpine:3' }, false)
    expect(cluster.engines[pulled.node === 'node-0' ? 0 : 1]!.calls).toContain('ImageCreate')
  })

  it('refuses a name already used on any node', async () => {
    await using cluster = await fakeCluster([{}, {}])
    await run(cluster.service, 'web', {}, false)
    const error = await failure(run(cluster.service, 'web', {}, false))
    expect(error.code).toBe('CONFLICT')
    expect((await run(cluster.service, 'node-1/pinned', {}, false)).node).toBe('node-1')
    const renamed = await failure(docker(cluster.service, 'ContainerRename', 'pinned', { query: { name: 'web' } }))
    expect(renamed.code).toBe('CONFLICT')
  })
})

describe('faults', () => {
  it('drops a failing node at once, keeps answering, and takes it back with its containers', async () => {
    await using cluster = await fakeCluster([{}, {}])
    const kept = await run(cluster.service, 'kept', { Env: ['constraint:node==node-0'] })
    const lost = await run(cluster.service, 'lost', { Env: ['constraint:node==node-1'] })
    const engine = cluster.engines[1]!
    engine.mode = 'down'
    breakEvents(engine)
    await eventually(async () => (await docker(cluster.service, 'SystemInfo')).json.SystemStatus.some(([key = '', value = '']: string[]) => key.includes('Status') && value === 'Unhealthy'))
    const started = Date.now()
    const ps = await docker(cluster.service, 'ContainerList')
    expect(Date.now() - started).toBeLessThan(200)
    expect(ps.json.map((row: any) => row.Id)).toEqual([kept.id])
    const error = await failure(docker(cluster.service, 'ContainerStop', 'lost'))
    expect(error.code).toBe('UNAVAILABLE')
    expect(error.message).toMatch(/^Container lost running on unhealthy node node-1 \(.+\)$/)
    // new containers go elsewhere
    expect((await run(cluster.service, 'meanwhile', {}, false)).node).toBe('node-0')
    engine.mode = 'up'
    await eventually(async () => (await docker(cluster.service, 'ContainerList')).json.some((row: any) => row.Id === lost.id), 5000)
    expect((await docker(cluster.service, 'ContainerStop', 'lost')).status).toBe(204)
  })

  it('marks a node that stops answering unhealthy after the health timeout', async () => {
    await using cluster = await fakeCluster([{}, {}])
    cluster.engines[0]!.mode = 'hang'
    await eventually(async () => (await docker(cluster.service, 'SystemInfo')).json.SystemStatus.some(([key = '', value = '']: string[]) => key.includes('Error') && /timed out/.test(value)), 3000)
    const info = (await docker(cluster.service, 'SystemInfo')).json
    expect(info.NCPU).toBe(4)
    cluster.engines[0]!.mode = 'up'
    await eventually(async () => (await docker(cluster.service, 'SystemInfo')).json.NCPU === 8, 5000)
  })
})

describe('arguments', () => {
  it('parses strategy, durations and named children', () => {
    const options = parseAggregateArgs(['--strategy', 'binpack', '--refresh-interval', '10s', '--health-timeout=500ms', '--name', 'n1=dockerclient tcp://h:1', 'dockerclient tcp://h:2'])
    expect(options).toMatchObject({ strategy: 'binpack', refreshIntervalMs: 10_000, healthTimeoutMs: 500, children: [{ name: 'n1', spec: 'dockerclient tcp://h:1' }, { spec: 'dockerclient tcp://h:2' }] })
    expect(() => parseAggregateArgs([])).toThrow(/at least one child/)
    expect(() => parseAggregateArgs(['--strategy', 'best', 'x'])).toThrow(/unknown strategy/)
  })
})
