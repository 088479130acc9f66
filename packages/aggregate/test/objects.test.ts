import { request, type Sender } from '@libswarm/core'
import { encodeDockerRequest } from '@libswarm/docker-api'
import { createSimulator, type Simulator } from '@libswarm/simulator'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { createAggregate } from '../src/index.js'
import { docker, failure } from './harness.js'

let engines: Simulator[]
let swarm: Sender

beforeEach(async () => {
  engines = [createSimulator({ name: 'node-0' }), createSimulator({ name: 'node-1' })]
  swarm = await createAggregate({ children: engines.map((engine) => ({ service: engine })) }, { spawn: async () => { throw new Error('unused') } })
})

afterEach(async () => {
  await swarm.close()
})

describe('images, networks and volumes across nodes', () => {
  it('pulls on every node, or on the one named, and lists images with their nodes', async () => {
    const pull = await docker(swarm, 'ImageCreate', '', { query: { fromImage: 'alpine', tag: '3' } })
    expect(pull.text).toMatch(/"status":"node-0: Status: Downloaded newer image for alpine:3"/)
    expect(pull.text).toMatch(/"status":"node-1: Status: Downloaded newer image for alpine:3"/)
    await docker(swarm, 'ImageCreate', '', { query: { fromImage: 'node-1/redis', tag: '7' } })
    expect(engines.map((engine) => engine.snapshot().images)).toEqual([2, 3])
    const images = (await docker(swarm, 'ImageList')).json as Array<{ RepoTags: string[], Nodes: string[] }>
    expect(images.find((image) => image.RepoTags.includes('alpine:3'))?.Nodes).toEqual(['node-0', 'node-1'])
    expect(images.find((image) => image.RepoTags.includes('redis:7'))?.Nodes).toEqual(['node-1'])
    const onZero = (await docker(swarm, 'ImageList', '', { query: { filters: JSON.stringify({ node: ['node-0'] }) } })).json as Array<{ RepoTags: string[] }>
    expect(onZero.flatMap((image) => image.RepoTags).sort()).toEqual(['alpine:3', 'busybox:latest'])
    expect((await docker(swarm, 'ImageInspect', 'redis:7')).json.RepoTags).toEqual(['redis:7'])
    await expect(docker(swarm, 'ImageInspect', 'node-0/redis:7')).rejects.toMatchObject({ code: 'NOT_FOUND' })
    // a container wanting redis goes where redis is
    const created = await docker(swarm, 'ContainerCreate', '', { body: { Image: 'redis:7' } })
    expect((await docker(swarm, 'ContainerInspect', created.json.Id)).json.Node.Name).toBe('node-1')
    await docker(swarm, 'ContainerDelete', created.json.Id)
    const removed = await docker(swarm, 'ImageDelete', 'alpine:3')
    expect(removed.json.filter((entry: Record<string, string>) => entry.Untagged === 'alpine:3').length).toBe(2)
    await docker(swarm, 'ImageDelete', 'node-1/redis:7')
    expect(engines.map((engine) => engine.snapshot().images)).toEqual([1, 1])
    await expect(docker(swarm, 'ImageDelete', 'nothing:1')).rejects.toMatchObject({ code: 'NOT_FOUND' })
  })

  it('creates a network on one node and named volumes on every node, and shows them as NODE/NAME', async () => {
    const network = await docker(swarm, 'NetworkCreate', '', { body: { Name: 'appnet', Driver: 'bridge' } })
    expect(network.status).toBe(201)
    const names = ((await docker(swarm, 'NetworkList')).json as Array<{ Name: string }>).map((entry) => entry.Name)
    const holders = names.filter((name) => name.endsWith('/appnet'))
    expect(holders).toHaveLength(1)
    expect(names).toContain('node-1/bridge')
    const holder = (holders[0] as string).split('/')[0] as string
    expect((await docker(swarm, 'NetworkInspect', `${holder}/appnet`)).json.Name).toBe('appnet')
    const web = await docker(swarm, 'ContainerCreate', '', { query: { name: 'web' }, body: { Image: 'busybox', Cmd: ['sleep', '100'], Env: [`constraint:node==${holder}`] } })
    await docker(swarm, 'NetworkConnect', 'appnet', { body: { Container: 'web' } })
    const networks = (await docker(swarm, 'ContainerInspect', 'web')).json.NetworkSettings.Networks
    expect(Object.keys(networks)).toContain('appnet')
    await docker(swarm, 'NetworkDisconnect', 'appnet', { body: { Container: 'web' } })
    await docker(swarm, 'ContainerDelete', web.json.Id)
    await docker(swarm, 'NetworkDelete', 'appnet')
    expect(((await docker(swarm, 'NetworkList')).json as Array<{ Name: string }>).some((entry) => entry.Name.endsWith('/appnet'))).toBe(false)
    await expect(docker(swarm, 'NetworkDelete', 'appnet')).rejects.toMatchObject({ code: 'NOT_FOUND' })

    await docker(swarm, 'VolumeCreate', '', { body: { Name: 'data' } })
    await docker(swarm, 'VolumeCreate', '', { body: { Name: 'node-1/only' } })
    const volumes = ((await docker(swarm, 'VolumeList')).json.Volumes as Array<{ Name: string }>).map((entry) => entry.Name).sort()
    expect(volumes).toEqual(['node-0/data', 'node-1/data', 'node-1/only'])
    expect((await docker(swarm, 'VolumeInspect', 'node-1/only')).json.Name).toBe('only')
    await docker(swarm, 'VolumeDelete', 'node-0/data')
    expect(((await docker(swarm, 'VolumeList')).json.Volumes as Array<{ Name: string }>).map((entry) => entry.Name).sort()).toEqual(['node-1/data', 'node-1/only'])
    const error = await failure(docker(swarm, 'VolumeInspect', 'node-0/only'))
    expect(error.code).toBe('NOT_FOUND')
  })

  it('finds a NODE/NAME container on that node only, and prunes every node', async () => {
    const created = await docker(swarm, 'ContainerCreate', '', { query: { name: 'web' }, body: { Image: 'busybox', Cmd: ['true'], Env: ['constraint:node==node-1'] } })
    const inspect = await docker(swarm, 'ContainerInspect', 'node-1/web')
    expect(inspect.json.Id).toBe(created.json.Id)
    await expect(docker(swarm, 'ContainerInspect', 'node-0/web')).rejects.toMatchObject({ code: 'NOT_FOUND' })
    await docker(swarm, 'ContainerCreate', '', { query: { name: 'other' }, body: { Image: 'busybox', Cmd: ['true'], Env: ['constraint:node==node-0'] } })
    const pruned = await docker(swarm, 'ContainerPrune')
    expect(pruned.json.ContainersDeleted.length).toBe(2)
    expect((await docker(swarm, 'ContainerList', '', { query: { all: '1' } })).json).toEqual([])
  })

  it('replays past events of every node in time order, tagged with the node', async () => {
    const since = String(Math.floor(Date.now() / 1000) - 1)
    await docker(swarm, 'ContainerCreate', '', { query: { name: 'one' }, body: { Image: 'busybox', Env: ['constraint:node==node-1'] } })
    await docker(swarm, 'ContainerCreate', '', { query: { name: 'two' }, body: { Image: 'busybox', Env: ['constraint:node==node-0'] } })
    const until = String(Math.floor(Date.now() / 1000) + 1)
    const answer = await docker(swarm, 'SystemEvents', '', { query: { since, until, filters: JSON.stringify({ event: ['create'] }) } })
    let text = ''
    for await (const chunk of answer.message.stream ?? []) text += new TextDecoder().decode(chunk)
    const events = text.trim().split('\n').map((line) => JSON.parse(line) as { node: { Name: string }, Actor: { Attributes: Record<string, string> } })
    expect(events.map((event) => [event.node.Name, event.Actor.Attributes.name])).toEqual([['node-1', 'one'], ['node-0', 'two']])
  })
})

describe('listings the cache cannot answer', () => {
  it('passes --size and the publish filter to the nodes and merges their answers with node names', async () => {
    const web = await docker(swarm, 'ContainerCreate', '', { query: { name: 'web' }, body: { Image: 'busybox', Cmd: ['sleep', '100'], ExposedPorts: { '80/tcp': {} }, HostConfig: { PortBindings: { '80/tcp': [{ HostPort: '8080' }] } }, Env: ['constraint:node==node-1'] } })
    await docker(swarm, 'ContainerStart', web.json.Id)
    await docker(swarm, 'ContainerCreate', '', { query: { name: 'db' }, body: { Image: 'busybox', Env: ['constraint:node==node-0'] } })
    const sized = (await docker(swarm, 'ContainerList', '', { query: { all: '1', size: '1' } })).json as Array<{ Names: string[], SizeRw?: number }>
    expect(sized.map((row) => row.Names[0]).sort()).toEqual(['/node-0/db', '/node-1/web'])
    expect(sized.every((row) => typeof row.SizeRw === 'number')).toBe(true)
    const published = (await docker(swarm, 'ContainerList', '', { query: { filters: JSON.stringify({ publish: ['8080'] }) } })).json as Array<{ Names: string[] }>
    expect(published.map((row) => row.Names[0])).toEqual(['/node-1/web'])
    const onlyZero = (await docker(swarm, 'ContainerList', '', { query: { all: '1', size: '1', filters: JSON.stringify({ node: ['node-0'] }) } })).json as Array<{ Names: string[] }>
    expect(onlyZero.map((row) => row.Names[0])).toEqual(['/node-0/db'])
  })
})

describe('network-aware placement', () => {
  it('puts a container on the node that has its network, and NODE/NET pins the node', async () => {
    await docker(swarm, 'NetworkCreate', '', { body: { Name: 'node-1/backend' } })
    const created = await docker(swarm, 'ContainerCreate', '', { query: { name: 'api' }, body: { Image: 'busybox', HostConfig: { NetworkMode: 'backend' } } })
    expect((await docker(swarm, 'ContainerInspect', created.json.Id)).json.Node.Name).toBe('node-1')
    const pinned = await docker(swarm, 'ContainerCreate', '', { query: { name: 'worker' }, body: { Image: 'busybox', HostConfig: { NetworkMode: 'node-1/backend' }, NetworkingConfig: { EndpointsConfig: { 'node-1/backend': { Aliases: ['w'] } } } } })
    const inspect = (await docker(swarm, 'ContainerInspect', pinned.json.Id)).json
    expect(inspect.Node.Name).toBe('node-1')
    expect(inspect.HostConfig.NetworkMode).toBe('backend')
    const error = await failure(docker(swarm, 'ContainerCreate', '', { body: { Image: 'busybox', HostConfig: { NetworkMode: 'nowhere' } } }))
    expect(error.message).toBe('Unable to find a node that satisfies the following conditions [network nowhere] (excluded: node-0, node-1)')
  })
})

describe('image load', () => {
  it('loads one tar on every node, reading it once', async () => {
    await docker(swarm, 'ImageCreate', '', { query: { fromImage: 'node-1/alpine', tag: '3' } })
    const save = encodeDockerRequest({ operation: 'ImageGet', target: 'node-1/alpine:3' })
    const saved = await request(swarm, save.verb, save.args)
    const chunks: Uint8Array[] = []
    for await (const chunk of saved.stream ?? []) chunks.push(chunk)
    await docker(swarm, 'ImageDelete', 'node-1/alpine:3')
    expect(engines.map((engine) => engine.snapshot().images)).toEqual([1, 1])
    const loaded = await docker(swarm, 'ImageLoad', '', { query: { quiet: '1' }, stream: (async function * () { yield * chunks })() })
    expect(loaded.text).toMatch(/Loaded image: alpine:3/)
    expect(engines.map((engine) => engine.snapshot().images)).toEqual([2, 2])
  })
})
