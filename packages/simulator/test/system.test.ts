import { request } from '@libswarm/core'
import { afterEach, describe, expect, it } from 'vitest'
import { createSimulator, parseSimulatorArgs, simulator, type Simulator } from '../src/index.js'
import { call, createContainer, open, runContainer } from './call.js'

const sims: Simulator[] = []
function start (options: Parameters<typeof createSimulator>[0] = {}): Simulator {
  const sim = createSimulator(options)
  sims.push(sim)
  return sim
}
afterEach(async () => { for (const sim of sims.splice(0)) await sim.close() })

describe('system', () => {
  it('answers ping with dockerd headers, and version with API 1.41', async () => {
    const sim = start()
    const ping = await call(sim, 'SystemPing')
    expect(ping.body).toBe('OK')
    expect(ping.headers).toMatchObject({ 'API-Version': '1.41', OSType: 'linux', 'Docker-Experimental': 'false' })
    expect((await call(sim, 'SystemPingHead')).body).toBe('')
    expect((await call(sim, 'SystemVersion')).json()).toMatchObject({ ApiVersion: '1.41', MinAPIVersion: '1.12', Os: 'linux', Arch: 'amd64', Components: [{ Name: 'Engine' }] })
  })

  it('reports its name, size, labels and counts in info', async () => {
    const sim = start({ name: 'sim-7', cpus: 16, memory: '4g', labels: ['zone=a', 'disk=ssd'] })
    await runContainer(sim, { Cmd: ['top'] })
    await runContainer(sim, { Cmd: ['true'] })
    const paused = await runContainer(sim, { Cmd: ['top'] })
    await call(sim, 'ContainerPause', paused)
    await createContainer(sim, {})
    expect((await call(sim, 'SystemInfo')).json()).toMatchObject({
      Name: 'sim-7',
      NCPU: 16,
      MemTotal: 4 * 1024 ** 3,
      Labels: ['zone=a', 'disk=ssd'],
      Containers: 4,
      ContainersRunning: 1,
      ContainersPaused: 1,
      ContainersStopped: 2,
      Images: 1,
      OperatingSystem: 'libswarm simulator',
      ServerVersion: '20.10.24',
      OSType: 'linux',
      Swarm: { LocalNodeState: 'inactive' }
    })
  })

  it('answers system df with images, containers and volumes', async () => {
    const sim = start()
    await runContainer(sim, { Cmd: ['top'], HostConfig: { Binds: ['data:/data'] } })
    const usage = (await call(sim, 'SystemDataUsage')).json()
    expect(usage.Images).toHaveLength(1)
    expect(usage.Images[0].Containers).toBe(1)
    expect(usage.Containers).toHaveLength(1)
    expect(usage.Volumes[0]).toMatchObject({ Name: 'data', UsageData: { RefCount: 1 } })
  })

  it('answers NOT_IMPLEMENTED for what it does not simulate, and 503 for swarm', async () => {
    const sim = start()
    await expect(call(sim, 'ImageBuild')).rejects.toMatchObject({ code: 'NOT_IMPLEMENTED', message: 'the simulator does not implement ImageBuild' })
    await expect(call(sim, 'Unmapped', '', { })).rejects.toMatchObject({ code: 'NOT_IMPLEMENTED', message: 'the simulator does not implement GET /' })
    await expect(call(sim, 'SwarmInspect')).rejects.toMatchObject({ code: 'UNAVAILABLE' })
    await expect(request(sim, 'Get', [])).rejects.toMatchObject({ code: 'BAD_REQUEST' })
  })

  it('fails the seeded fraction of requests, the same ones for the same seed', async () => {
    const outcomes = async (seed: number): Promise<string> => {
      const sim = start({ failureRate: 0.5, seed })
      let text = ''
      for (let i = 0; i < 40; i++) {
        text += await call(sim, 'SystemPing').then(() => '.', (error: { code: string, message: string }) => {
          expect(error).toMatchObject({ code: 'INTERNAL', message: 'simulated failure of SystemPing' })
          return 'x'
        })
      }
      return text
    }
    const first = await outcomes(3)
    expect(first).toBe(await outcomes(3))
    expect(first).toContain('x')
    expect(first).toContain('.')
    expect(await outcomes(4)).not.toBe(first)
  })

  it('delays every reply by the latency', async () => {
    const sim = start({ latency: 60 })
    const began = performance.now()
    await call(sim, 'SystemPing')
    expect(performance.now() - began).toBeGreaterThanOrEqual(55)
  })

  it('parses its swarmd arguments and spawns as a service', async () => {
    expect(parseSimulatorArgs(['--name', 'sim-0', '--cpus=2', '--memory', '512m', '--label', 'a=b', '--label', 'c=d', '--image', 'alpine', '--latency', '5', '--failure-rate', '0.1', '--seed', '9', '--event-history', '16'])).toEqual({
      name: 'sim-0', cpus: 2, memory: 512 * 1024 * 1024, labels: ['a=b', 'c=d'], images: ['alpine'], latency: 5, failureRate: 0.1, seed: 9, eventHistory: 16
    })
    expect(() => parseSimulatorArgs(['--failure-rate', '2'])).toThrow(/--failure-rate/)
    expect(() => parseSimulatorArgs(['--bogus'])).toThrow(/unknown argument/)
    expect(() => parseSimulatorArgs(['--memory', 'lots'])).toThrow(/invalid size/)
    const instance = await simulator.spawn(['--name', 'spawned', '--image', 'alpine:3.19'], { next: undefined as never, log: undefined as never, spawn: undefined as never })
    try {
      const info = (await call(instance, 'SystemInfo')).json()
      expect(info.Name).toBe('spawned')
      const images = (await call(instance, 'ImageList')).json()
      expect(images.map((image: any) => image.RepoTags[0])).toEqual(['alpine:3.19'])
    } finally {
      await instance.close()
    }
  })
})

describe('events', () => {
  it('replays stored events between since and until, with dockerd fields', async () => {
    const sim = start()
    const before = Date.now() / 1000 - 1
    const id = await runContainer(sim, { Cmd: ['true'], Labels: { team: 'x' } }, 'evt')
    await call(sim, 'ContainerDelete', id)
    const until = String(Date.now() / 1000 + 0.02)
    const lines = (await call(sim, 'SystemEvents', '', { query: { since: String(before), until, filters: JSON.stringify({ type: ['container'] }) } })).text.trim().split('\n').map((line) => JSON.parse(line))
    expect(lines.map((event) => event.Action)).toEqual(['create', 'start', 'die', 'destroy'])
    expect(lines[2]).toMatchObject({ status: 'die', id, from: 'busybox', Type: 'container', Actor: { ID: id, Attributes: { exitCode: '0', image: 'busybox', name: 'evt', team: 'x' } }, scope: 'local' })
    expect(typeof lines[0].time).toBe('number')
    expect(String(lines[0].timeNano)).toMatch(/^\d{19}$/)
    const network = (await call(sim, 'SystemEvents', '', { query: { since: String(before), until, filters: JSON.stringify({ type: ['network'], event: ['connect'] }) } })).text.trim().split('\n')
    expect(network).toHaveLength(1)
    await expect(call(sim, 'SystemEvents', '', { query: { filters: JSON.stringify({ colour: ['x'] }) } })).rejects.toMatchObject({ code: 'BAD_REQUEST' })
  })

  it('follows new events matching the filters until the reader stops', async () => {
    const sim = start()
    const followed = await open(sim, 'SystemEvents', '', { query: { filters: JSON.stringify({ container: ['watched'], event: ['start', 'stop'] }) } })
    await runContainer(sim, { Cmd: ['top'] }, 'ignored')
    const id = await runContainer(sim, { Cmd: ['top'] }, 'watched')
    await call(sim, 'ContainerStop', 'watched')
    const iterator = followed.stream![Symbol.asyncIterator]()
    const first = JSON.parse(Buffer.from((await iterator.next()).value).toString())
    const second = JSON.parse(Buffer.from((await iterator.next()).value).toString())
    expect([first.Action, first.id, second.Action]).toEqual(['start', id, 'stop'])
    expect((await call(sim, 'SystemInfo')).json().NEventsListener).toBe(1)
    await iterator.return?.()
    expect((await call(sim, 'SystemInfo')).json().NEventsListener).toBe(0)
  })

  it('keeps only the last eventHistory events for since', async () => {
    const sim = start({ eventHistory: 4 })
    await runContainer(sim, { Cmd: ['true'] }, 'short')
    const replay = (await call(sim, 'SystemEvents', '', { query: { since: '0', until: String(Date.now() / 1000 + 0.02) } })).text.trim().split('\n').map((line) => JSON.parse(line))
    expect(replay.map((event) => `${event.Type} ${event.Action}`)).toEqual(['network connect', 'container start', 'container die', 'network disconnect'])
  })

  it('reports image, volume and network events', async () => {
    const sim = start()
    const since = String(Date.now() / 1000 - 1)
    await call(sim, 'ImageCreate', '', { query: { fromImage: 'alpine', tag: '3.19' } })
    await call(sim, 'ImageTag', 'alpine:3.19', { query: { repo: 'mine', tag: 'v1' } })
    await call(sim, 'VolumeCreate', '', { body: { Name: 'vol1' } })
    await call(sim, 'NetworkCreate', '', { body: { Name: 'net1' } })
    await call(sim, 'NetworkDelete', 'net1')
    await call(sim, 'VolumeDelete', 'vol1')
    const events = (await call(sim, 'SystemEvents', '', { query: { since, until: String(Date.now() / 1000 + 0.02) } })).text.trim().split('\n').map((line) => JSON.parse(line))
    expect(events.map((event) => `${event.Type} ${event.Action}`)).toEqual(['image pull', 'image tag', 'volume create', 'network create', 'network destroy', 'volume destroy'])
    expect(events[0]).toMatchObject({ id: 'alpine:3.19', Actor: { Attributes: { name: 'alpine' } } })
  })
})
