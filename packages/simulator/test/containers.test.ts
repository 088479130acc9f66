import { isSwarmError } from '@libswarm/core'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { createSimulator, type Simulator } from '../src/index.js'
import { call, createContainer, runContainer } from './call.js'

let sim: Simulator

beforeEach(() => { sim = createSimulator({ name: 'sim-test', seed: 7 }) })
afterEach(async () => { await sim.close() })

async function failure (promise: Promise<unknown>): Promise<{ code: string, message: string }> {
  try {
    await promise
  } catch (error) {
    if (isSwarmError(error)) return { code: error.code, message: error.message }
    throw error
  }
  throw new Error('expected the request to fail')
}

async function inspect (id: string): Promise<any> {
  return (await call(sim, 'ContainerInspect', id)).json()
}

describe('container lifecycle', () => {
  it('creates, starts, pauses, stops, restarts and removes with dockerd statuses and exit codes', async () => {
    const id = await createContainer(sim, { Cmd: ['sleep', '1000'] }, 'web')
    expect(id).toMatch(/^[0-9a-f]{64}$/)
    expect((await inspect('web')).State.Status).toBe('created')
    expect((await call(sim, 'ContainerStart', 'web')).status).toBe(204)
    expect((await call(sim, 'ContainerStart', 'web')).status).toBe(304)
    const running = await inspect(id)
    expect(running.State).toMatchObject({ Status: 'running', Running: true, Paused: false, ExitCode: 0 })
    expect(running.State.Pid).toBeGreaterThan(0)
    expect(running.NetworkSettings.IPAddress).toMatch(/^172\.17\.0\.\d+$/)
    expect(running.NetworkSettings.Networks.bridge.IPAddress).toBe(running.NetworkSettings.IPAddress)

    await call(sim, 'ContainerPause', id)
    expect((await inspect(id)).State).toMatchObject({ Status: 'paused', Paused: true, Running: true })
    expect(await failure(call(sim, 'ContainerPause', id))).toEqual({ code: 'CONFLICT', message: `Container ${id} is already paused` })
    expect(sim.snapshot()).toMatchObject({ running: 0, paused: 1 })
    await call(sim, 'ContainerUnpause', id)

    expect((await call(sim, 'ContainerStop', id)).status).toBe(204)
    const stopped = await inspect(id)
    expect(stopped.State).toMatchObject({ Status: 'exited', Running: false, ExitCode: 143, Pid: 0 })
    expect(stopped.State.FinishedAt).not.toBe('0001-01-01T00:00:00Z')
    expect(stopped.NetworkSettings.IPAddress).toBe('')
    expect((await call(sim, 'ContainerStop', id)).status).toBe(304)

    await call(sim, 'ContainerRestart', id)
    expect((await inspect(id)).State.Status).toBe('running')
    await call(sim, 'ContainerKill', id)
    expect((await inspect(id)).State.ExitCode).toBe(137)
    expect(await failure(call(sim, 'ContainerKill', id))).toEqual({ code: 'CONFLICT', message: `Cannot kill container: ${id}: Container ${id} is not running` })

    expect((await call(sim, 'ContainerDelete', id)).status).toBe(204)
    expect(await failure(call(sim, 'ContainerInspect', id))).toEqual({ code: 'NOT_FOUND', message: `No such container: ${id}` })
    expect(sim.snapshot().containers).toBe(0)
  })

  it('refuses to remove a running container without force, and removes it with force', async () => {
    const id = await runContainer(sim, { Cmd: ['top'] })
    expect(await failure(call(sim, 'ContainerDelete', id))).toEqual({
      code: 'CONFLICT',
      message: `You cannot remove a running container ${id}. Stop the container before attempting removal or force remove`
    })
    await call(sim, 'ContainerDelete', id, { query: { force: '1' } })
    expect(sim.snapshot()).toMatchObject({ containers: 0, running: 0 })
  })

  it('removes an AutoRemove container when its process exits', async () => {
    const id = await createContainer(sim, { Cmd: ['true'], HostConfig: { AutoRemove: true } })
    await call(sim, 'ContainerStart', id)
    expect(await failure(call(sim, 'ContainerInspect', id))).toMatchObject({ code: 'NOT_FOUND' })
  })

  it('validates names and reports conflicts with dockerd texts', async () => {
    const id = await createContainer(sim, {}, 'taken')
    expect(await failure(createContainer(sim, {}, 'taken'))).toEqual({
      code: 'CONFLICT',
      message: `Conflict. The container name "/taken" is already in use by container "${id}". You have to remove (or rename) that container to be able to reuse that name.`
    })
    expect(await failure(createContainer(sim, {}, 'bad name!'))).toEqual({
      code: 'BAD_REQUEST',
      message: 'Invalid container name (bad name!), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed'
    })
    expect(await failure(createContainer(sim, { Image: 'nginx' }))).toEqual({ code: 'NOT_FOUND', message: 'No such image: nginx:latest' })
    const generated = await inspect(await createContainer(sim, {}))
    expect(generated.Name).toMatch(/^\/[a-z]+_[a-z]+\d?$/)
  })

  it('resolves full ids, unique prefixes and names with or without the slash, and reports ambiguous prefixes', async () => {
    const ids: string[] = []
    for (let i = 0; i < 20; i++) ids.push(await createContainer(sim, {}, `c${i}`))
    const [first] = ids as [string]
    expect((await inspect(first)).Id).toBe(first)
    expect((await inspect(first.slice(0, 12))).Id).toBe(first)
    expect((await inspect('/c0')).Id).toBe(first)
    expect((await inspect('c0')).Id).toBe(first)
    // 20 ids over 16 hex digits: two share a first digit.
    const shared = ids.map((id) => id[0]).find((digit, index, all) => all.indexOf(digit) !== index) as string
    expect(await failure(call(sim, 'ContainerInspect', shared))).toEqual({ code: 'INTERNAL', message: `multiple IDs found with provided prefix: ${shared}` })
    expect(await failure(call(sim, 'ContainerInspect', 'nope'))).toEqual({ code: 'NOT_FOUND', message: 'No such container: nope' })
  })

  it('keeps Config and HostConfig, merges the image defaults and records reservations', async () => {
    const id = await createContainer(sim, {
      Cmd: ['sleep', '5'],
      Env: ['A=1'],
      Labels: { tier: 'web' },
      HostConfig: { NanoCpus: 1_500_000_000, Memory: 256 * 1024 * 1024, CpuShares: 512, Binds: null, Dns: [], RestartPolicy: { Name: '', MaximumRetryCount: 0 } }
    })
    const container = await inspect(id)
    expect(container.Config).toMatchObject({
      Cmd: ['sleep', '5'],
      Image: 'busybox',
      Labels: { tier: 'web' },
      Hostname: id.slice(0, 12),
      Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'A=1']
    })
    expect(container.HostConfig).toMatchObject({ NanoCpus: 1_500_000_000, Memory: 268435456, CpuShares: 512, NetworkMode: 'default', RestartPolicy: { Name: 'no', MaximumRetryCount: 0 } })
    expect(container.Path).toBe('sleep')
    expect(container.Args).toEqual(['5'])
    expect(container.Name).toBe('/' + container.Name.slice(1))
    expect(container.Image).toMatch(/^sha256:[0-9a-f]{64}$/)
    expect(sim.snapshot()).toMatchObject({ reservedNanoCpus: 1_500_000_000, reservedMemory: 268435456 })
    await call(sim, 'ContainerUpdate', id, { body: { Memory: 512 * 1024 * 1024 } })
    expect((await inspect(id)).HostConfig.Memory).toBe(536870912)
    expect(sim.snapshot().reservedMemory).toBe(536870912)
    await call(sim, 'ContainerDelete', id)
    expect(sim.snapshot()).toMatchObject({ reservedNanoCpus: 0, reservedMemory: 0 })
    expect(await failure(createContainer(sim, { HostConfig: { NanoCpus: 8e9 } }))).toMatchObject({ code: 'BAD_REQUEST' })
  })

  it('renames, with dockerd errors for empty, same and taken names', async () => {
    const id = await createContainer(sim, {}, 'old')
    await createContainer(sim, {}, 'other')
    await call(sim, 'ContainerRename', 'old', { query: { name: 'new' } })
    expect((await inspect(id)).Name).toBe('/new')
    expect(await failure(call(sim, 'ContainerInspect', 'old'))).toMatchObject({ code: 'NOT_FOUND' })
    expect(await failure(call(sim, 'ContainerRename', 'new', { query: { name: 'new' } }))).toMatchObject({ code: 'BAD_REQUEST', message: 'Renaming a container with the same name as its current name' })
    expect(await failure(call(sim, 'ContainerRename', 'new', { query: { name: 'other' } }))).toMatchObject({ code: 'CONFLICT' })
    expect(await failure(call(sim, 'ContainerRename', 'new', { query: { name: '' } }))).toMatchObject({ code: 'BAD_REQUEST' })
  })

  it('prunes stopped containers only', async () => {
    const running = await runContainer(sim, { Cmd: ['top'] })
    const stopped = await runContainer(sim, { Cmd: ['true'] })
    const created = await createContainer(sim, {})
    const pruned = (await call(sim, 'ContainerPrune')).json()
    expect(pruned.ContainersDeleted.sort()).toEqual([stopped, created].sort())
    expect(sim.snapshot().containers).toBe(1)
    expect((await inspect(running)).State.Running).toBe(true)
  })

  it('answers top, changes, stats and resize like dockerd', async () => {
    const id = await runContainer(sim, { Cmd: ['sleep', '100'], HostConfig: { Memory: 64 * 1024 * 1024 } })
    const top = (await call(sim, 'ContainerTop', id)).json()
    expect(top.Titles).toEqual(['UID', 'PID', 'PPID', 'C', 'STIME', 'TTY', 'TIME', 'CMD'])
    expect(top.Processes[0][7]).toBe('sleep 100')
    const stats = (await call(sim, 'ContainerStats', id, { query: { stream: '0' } })).json()
    expect(stats).toMatchObject({ id, name: expect.stringMatching(/^\//), memory_stats: { limit: 64 * 1024 * 1024 }, cpu_stats: { online_cpus: 4 } })
    expect(stats.cpu_stats.system_cpu_usage).toBeGreaterThan(stats.precpu_stats.system_cpu_usage)
    const streamed = await (await import('./call.js')).open(sim, 'ContainerStats', id)
    const iterator = streamed.stream![Symbol.asyncIterator]()
    const first = JSON.parse(Buffer.from((await iterator.next()).value).toString())
    expect(first.id).toBe(id)
    await iterator.return?.()
    expect((await call(sim, 'ContainerResize', id, { query: { h: '40', w: '120' } })).status).toBe(200)
    await call(sim, 'ContainerStop', id)
    expect(await failure(call(sim, 'ContainerTop', id))).toEqual({ code: 'CONFLICT', message: `Container ${id} is not running` })
  })

  it('applies a restart policy with back-off until stopped', async () => {
    const id = await runContainer(sim, { Cmd: ['false'], HostConfig: { RestartPolicy: { Name: 'on-failure', MaximumRetryCount: 2 } } })
    expect((await inspect(id)).State.Status).toBe('restarting')
    await new Promise((resolve) => setTimeout(resolve, 500))
    const state = await inspect(id)
    expect(state.RestartCount).toBe(2)
    expect(state.State).toMatchObject({ Status: 'exited', ExitCode: 1 })
  })
})

describe('container list', () => {
  it('lists running containers newest first, all with all=1, and dockerd summary fields', async () => {
    const a = await runContainer(sim, { Cmd: ['top'], Labels: { app: 'a' } }, 'alpha')
    const b = await createContainer(sim, { Labels: { app: 'b' } }, 'beta')
    const c = await runContainer(sim, { Cmd: ['top'], HostConfig: { PortBindings: { '80/tcp': [{ HostPort: '8080' }] } } }, 'gamma')
    const running = (await call(sim, 'ContainerList')).json()
    expect(running.map((entry: any) => entry.Id)).toEqual([c, a])
    const all = (await call(sim, 'ContainerList', '', { query: { all: '1' } })).json()
    expect(all.map((entry: any) => entry.Names[0])).toEqual(['/gamma', '/beta', '/alpha'])
    expect(all[0]).toMatchObject({ Image: 'busybox', Command: 'top', State: 'running', Ports: [{ IP: '0.0.0.0', PrivatePort: 80, PublicPort: 8080, Type: 'tcp' }] })
    expect(all[0].Status).toMatch(/^Up /)
    expect(all[1]).toMatchObject({ State: 'created', Status: 'Created', Labels: { app: 'b' } })
    expect(all[0].NetworkSettings.Networks.bridge.IPAddress).toMatch(/^172\.17\./)
    expect(b).toBeTruthy()
  })

  it('filters by status, label, name, id, ancestor, before, since, exited and limit', async () => {
    const a = await runContainer(sim, { Cmd: ['top'], Labels: { app: 'a', tier: 'front' } }, 'alpha')
    const b = await runContainer(sim, { Cmd: ['sh', '-c', 'exit 3'], Labels: { app: 'b' } }, 'beta')
    const c = await createContainer(sim, { Labels: { app: 'c' } }, 'gamma')
    const ids = async (filters: Record<string, string[]>, query: Record<string, string> = {}): Promise<string[]> =>
      (await call(sim, 'ContainerList', '', { query: { all: '1', ...query, filters: JSON.stringify(filters) } })).json().map((entry: any) => entry.Id)
    expect(await ids({ status: ['running'] })).toEqual([a])
    expect(await ids({ status: ['exited'] })).toEqual([b])
    expect(await ids({ status: ['created'] })).toEqual([c])
    expect(await ids({ label: ['app=b'] })).toEqual([b])
    expect(await ids({ label: ['tier'] })).toEqual([a])
    expect(await ids({ name: ['^/alp'] })).toEqual([a])
    expect(await ids({ name: ['a'] })).toEqual([c, b, a])
    expect(await ids({ id: [b.slice(0, 6)] })).toEqual([b])
    expect(await ids({ ancestor: ['busybox'] })).toEqual([c, b, a])
    expect(await ids({ ancestor: ['alpine'] })).toEqual([])
    expect(await ids({ before: ['gamma'] })).toEqual([b, a])
    expect(await ids({ since: ['alpha'] })).toEqual([c, b])
    expect(await ids({ exited: ['3'] })).toEqual([b])
    expect(await ids({}, { limit: '1' })).toEqual([c])
    const checked = await runContainer(sim, { Cmd: ['top'], Healthcheck: { Test: ['CMD', 'true'] }, ExposedPorts: { '80/tcp': {} }, HostConfig: { PortBindings: { '80/tcp': [{ HostPort: '8088' }] } } }, 'checked')
    expect(await ids({ health: ['healthy'] })).toEqual([checked])
    expect(await ids({ health: ['none'] })).toEqual([c, b, a])
    expect(await ids({ publish: ['8088'] })).toEqual([checked])
    expect(await ids({ expose: ['79-81/tcp'] })).toEqual([checked])
    expect(await ids({ expose: ['80/udp'] })).toEqual([])
    const inspected = (await call(sim, 'ContainerInspect', checked)).json()
    expect(inspected.State.Health).toMatchObject({ Status: 'healthy', FailingStreak: 0 })
    expect((await call(sim, 'ContainerList', '', { query: { filters: JSON.stringify({ id: [checked] }) } })).json()[0].Status).toMatch(/^Up .* \(healthy\)$/)
    await expect(call(sim, 'ContainerList', '', { query: { filters: JSON.stringify({ colour: ['red'] }) } })).rejects.toMatchObject({ code: 'BAD_REQUEST', message: "Invalid filter 'colour'" })
    await expect(call(sim, 'ContainerList', '', { query: { filters: JSON.stringify({ status: ['sleeping'] }) } })).rejects.toMatchObject({ code: 'BAD_REQUEST' })
  })
})
