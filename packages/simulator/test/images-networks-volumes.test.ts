import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { createSimulator, type Simulator } from '../src/index.js'
import { call, createContainer, runContainer } from './call.js'

let sim: Simulator

beforeEach(() => { sim = createSimulator({ seed: 5 }) })
afterEach(async () => { await sim.close() })

const tags = async (filters?: Record<string, string[]>): Promise<string[]> =>
  (await call(sim, 'ImageList', '', { query: filters === undefined ? undefined : { filters: JSON.stringify(filters) } })).json().flatMap((image: any) => image.RepoTags).sort()

describe('images', () => {
  it('pulls with dockerd progress lines, lists, inspects and shows history', async () => {
    const pull = await call(sim, 'ImageCreate', '', { query: { fromImage: 'docker.io/library/alpine', tag: '3.19' } })
    const lines = pull.text.trim().split('\r\n').map((line) => JSON.parse(line))
    expect(lines[0]).toEqual({ status: 'Pulling from library/alpine', id: '3.19' })
    expect(lines.at(-1)).toEqual({ status: 'Status: Downloaded newer image for alpine:3.19' })
    const again = await call(sim, 'ImageCreate', '', { query: { fromImage: 'alpine', tag: '3.19' } })
    expect(again.text).toContain('Status: Image is up to date for alpine:3.19')
    expect(await tags()).toEqual(['alpine:3.19', 'busybox:latest'])
    const inspected = (await call(sim, 'ImageInspect', 'alpine:3.19')).json()
    expect(inspected).toMatchObject({ RepoTags: ['alpine:3.19'], Os: 'linux', Architecture: 'amd64', Config: { Cmd: ['sh'] }, RootFS: { Type: 'layers' } })
    expect(inspected.RepoDigests[0]).toMatch(/^alpine@sha256:[0-9a-f]{64}$/)
    expect((await call(sim, 'ImageInspect', inspected.Id.slice(7, 19))).json().Id).toBe(inspected.Id)
    expect((await call(sim, 'ImageHistory', 'alpine:3.19')).json()[0].Id).toBe(inspected.Id)
    await expect(call(sim, 'ImageInspect', 'nginx')).rejects.toMatchObject({ code: 'NOT_FOUND', message: 'No such image: nginx' })
    await expect(call(sim, 'ImageCreate', '', { query: { fromImage: 'UPPER' } })).rejects.toMatchObject({ code: 'BAD_REQUEST' })
  })

  it('gives the same image the same id on every simulator', async () => {
    const other = createSimulator({ seed: 99 })
    try {
      const a = (await call(sim, 'ImageInspect', 'busybox')).json().Id
      const b = (await call(other, 'ImageInspect', 'busybox:latest')).json().Id
      expect(a).toBe(b)
    } finally {
      await other.close()
    }
  })

  it('tags, filters by reference and dangling, and deletes with dockerd conflicts', async () => {
    await call(sim, 'ImageTag', 'busybox', { query: { repo: 'registry.local:5000/team/box', tag: 'v1' } })
    expect(await tags()).toEqual(['busybox:latest', 'registry.local:5000/team/box:v1'])
    expect(await tags({ reference: ['busy*'] })).toEqual(['busybox:latest'])
    expect(await tags({ reference: ['*/team/box:v1'] })).toEqual(['registry.local:5000/team/box:v1'])
    expect(await tags({ reference: ['team/*'] })).toEqual([])
    expect(await tags({ reference: ['registry.local:5000/team/*'] })).toEqual(['registry.local:5000/team/box:v1'])
    expect(await tags({ dangling: ['true'] })).toEqual([])

    const removed = (await call(sim, 'ImageDelete', 'registry.local:5000/team/box:v1')).json()
    expect(removed).toEqual([{ Untagged: 'registry.local:5000/team/box:v1' }])
    const id = await createContainer(sim, {})
    await expect(call(sim, 'ImageDelete', 'busybox')).rejects.toMatchObject({
      code: 'CONFLICT',
      message: expect.stringMatching(/^conflict: unable to remove repository reference "busybox" \(must force\) - container [0-9a-f]{12} is using its referenced image [0-9a-f]{12}$/)
    })
    await call(sim, 'ContainerDelete', id)
    const deleted = (await call(sim, 'ImageDelete', 'busybox')).json()
    expect(deleted[0]).toEqual({ Untagged: 'busybox:latest' })
    expect(deleted.some((entry: any) => entry.Deleted?.startsWith('sha256:'))).toBe(true)
    expect(sim.snapshot().images).toBe(0)
  })

  it('saves and loads images through a tar', async () => {
    const saved = await call(sim, 'ImageGet', 'busybox')
    expect(saved.headers?.['Content-Type']).toBe('application/x-tar')
    await call(sim, 'ImageDelete', 'busybox')
    const archive = new Uint8Array(saved.bytes)
    const loaded = await call(sim, 'ImageLoad', '', { stream: (async function * () { yield archive.subarray(0, 700); yield archive.subarray(700) })() })
    expect(loaded.text).toContain('Loaded image: busybox:latest')
    expect(await tags()).toEqual(['busybox:latest'])
  })

  it('prunes dangling images only by default', async () => {
    await call(sim, 'ImageCreate', '', { query: { fromImage: 'alpine' } })
    await call(sim, 'ImageTag', 'alpine', { query: { repo: 'busybox', tag: 'latest' } })
    expect(await tags({ dangling: ['true'] })).toEqual(['<none>:<none>'])
    const pruned = (await call(sim, 'ImagePrune')).json()
    expect(pruned.ImagesDeleted).toHaveLength(1)
    expect(await tags()).toEqual(['alpine:latest', 'busybox:latest'])
  })
})

describe('networks', () => {
  it('has bridge, host and none, which cannot be removed', async () => {
    const names = (await call(sim, 'NetworkList')).json().map((network: any) => network.Name)
    expect(names).toEqual(['bridge', 'host', 'none'])
    const bridge = (await call(sim, 'NetworkInspect', 'bridge')).json()
    expect(bridge).toMatchObject({ Driver: 'bridge', Scope: 'local', IPAM: { Config: [{ Subnet: '172.17.0.0/16', Gateway: '172.17.0.1' }] } })
    await expect(call(sim, 'NetworkDelete', 'bridge')).rejects.toMatchObject({ code: 'FORBIDDEN', message: 'bridge is a pre-defined network and cannot be removed' })
  })

  it('creates, connects, disconnects, refuses busy deletes and prunes', async () => {
    const created = await call(sim, 'NetworkCreate', '', { body: { Name: 'backend', Labels: { env: 'test' } } })
    expect(created.status).toBe(201)
    const networkId = created.json().Id
    await expect(call(sim, 'NetworkCreate', '', { body: { Name: 'backend' } })).rejects.toMatchObject({ code: 'CONFLICT', message: 'network with name backend already exists' })
    const id = await runContainer(sim, { Cmd: ['top'], HostConfig: { NetworkMode: 'backend' } }, 'svc')
    const inspected = (await call(sim, 'NetworkInspect', networkId.slice(0, 10))).json()
    expect(inspected.IPAM.Config[0]).toEqual({ Subnet: '172.18.0.0/16', Gateway: '172.18.0.1' })
    expect(inspected.Containers[id]).toMatchObject({ Name: 'svc', IPv4Address: '172.18.0.2/16' })
    await expect(call(sim, 'NetworkDelete', 'backend')).rejects.toMatchObject({ code: 'FORBIDDEN' })

    await call(sim, 'NetworkConnect', 'bridge', { body: { Container: 'svc' } })
    const networks = (await call(sim, 'ContainerInspect', id)).json().NetworkSettings.Networks
    expect(Object.keys(networks).sort()).toEqual(['backend', 'bridge'])
    expect(networks.bridge.IPAddress).toMatch(/^172\.17\.0\.\d+$/)
    await call(sim, 'NetworkDisconnect', 'backend', { body: { Container: 'svc' } })
    expect(Object.keys((await call(sim, 'ContainerInspect', id)).json().NetworkSettings.Networks)).toEqual(['bridge'])

    const filtered = (await call(sim, 'NetworkList', '', { query: { filters: JSON.stringify({ label: ['env=test'] }) } })).json()
    expect(filtered.map((network: any) => network.Name)).toEqual(['backend'])
    expect((await call(sim, 'NetworkList', '', { query: { filters: JSON.stringify({ type: ['custom'] }) } })).json()).toHaveLength(1)
    expect((await call(sim, 'NetworkPrune')).json()).toEqual({ NetworksDeleted: ['backend'] })
    await expect(call(sim, 'NetworkInspect', 'backend')).rejects.toMatchObject({ code: 'NOT_FOUND', message: 'network backend not found' })
  })

  it('gives running containers distinct addresses and reuses freed ones', async () => {
    const a = await runContainer(sim, { Cmd: ['top'] })
    const b = await runContainer(sim, { Cmd: ['top'] })
    const ip = async (id: string): Promise<string> => (await call(sim, 'ContainerInspect', id)).json().NetworkSettings.IPAddress
    const first = await ip(a)
    expect(await ip(b)).not.toBe(first)
    await call(sim, 'ContainerStop', a)
    const c = await runContainer(sim, { Cmd: ['top'] })
    expect(await ip(c)).toBe(first)
  })

  it('refuses a host port already in use', async () => {
    const ports = { PortBindings: { '80/tcp': [{ HostPort: '8080' }] } }
    await runContainer(sim, { Cmd: ['top'], HostConfig: ports })
    const second = await createContainer(sim, { Cmd: ['top'], HostConfig: ports })
    await expect(call(sim, 'ContainerStart', second)).rejects.toMatchObject({ code: 'INTERNAL', message: expect.stringContaining('Bind for 0.0.0.0:8080 failed: port is already allocated') })
    expect((await call(sim, 'ContainerInspect', second)).json().State.Status).toBe('created')
  })
})

describe('volumes', () => {
  it('creates, lists, inspects, refuses to delete one in use, and prunes', async () => {
    const created = await call(sim, 'VolumeCreate', '', { body: { Name: 'data', Labels: { keep: 'no' } } })
    expect(created.json()).toMatchObject({ Name: 'data', Driver: 'local', Mountpoint: '/var/lib/docker/volumes/data/_data', Scope: 'local', Labels: { keep: 'no' } })
    const id = await createContainer(sim, { HostConfig: { Binds: ['data:/data', '/host:/host:ro'] }, Volumes: { '/cache': {} } })
    const mounts = (await call(sim, 'ContainerInspect', id)).json().Mounts
    expect(mounts.map((mount: any) => `${mount.Type} ${mount.Destination} ${mount.RW}`)).toEqual(['volume /data true', 'bind /host false', 'volume /cache true'])
    expect((await call(sim, 'VolumeList')).json().Volumes).toHaveLength(2)
    await expect(call(sim, 'VolumeDelete', 'data')).rejects.toMatchObject({ code: 'CONFLICT', message: `remove data: volume is in use - [${id}]` })
    await call(sim, 'ContainerDelete', id, { query: { v: '1' } })
    expect((await call(sim, 'VolumeList')).json().Volumes.map((volume: any) => volume.Name)).toEqual(['data'])
    expect((await call(sim, 'VolumeList', '', { query: { filters: JSON.stringify({ dangling: ['true'] }) } })).json().Volumes).toHaveLength(1)
    expect((await call(sim, 'VolumePrune')).json().VolumesDeleted).toEqual(['data'])
    await expect(call(sim, 'VolumeInspect', 'data')).rejects.toMatchObject({ code: 'NOT_FOUND', message: 'get data: no such volume' })
  })
})
