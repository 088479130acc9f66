import { describe, expect, it } from 'vitest'
import { parseAggregateArgs } from '../src/index.js'
import { breakEvents, type FakeEngine } from './fake-engine.js'
import { docker, eventually, fakeCluster, run } from './harness.js'
import type { Sender } from '@libswarm/core'

/** A node's `Status` and `Error` lines in `docker info`. */
async function nodeStatus (service: Sender, node: string): Promise<{ status: string, error: string }> {
  const lines = (await docker(service, 'SystemInfo')).json.SystemStatus as string[][]
  const at = lines.findIndex(([key = '']) => key.trim() === node)
  const after = lines.slice(at + 1)
  const value = (name: string): string => after.find(([key = '']) => key.includes(name))?.[1] ?? ''
  return { status: value('Status'), error: value('Error') }
}

/** When the engine received each call of `operation`. */
function timesOf (engine: FakeEngine, operation: string): number[] {
  return engine.calls.flatMap((call, index) => call.split(' ')[0] === operation ? [engine.callTimes[index] as number] : [])
}

const sleep = async (ms: number): Promise<void> => { await new Promise((resolve) => setTimeout(resolve, ms)) }

// the harness pings every 200 ms with a 500 ms timeout; refreshes are kept out of the way
const quiet = { refreshIntervalMs: 3_600_000 }

describe('health', () => {
  it('keeps a node healthy when its pings are late fewer than healthRetries times in a row', async () => {
    await using cluster = await fakeCluster([{}, {}], quiet)
    const engine = cluster.engines[1]!
    const before = timesOf(engine, 'SystemPing').length
    engine.slowPings(2, 700)
    const seen = new Set<string>()
    const until = Date.now() + 2500
    while (Date.now() < until) {
      seen.add((await nodeStatus(cluster.service, 'node-1')).status)
      await sleep(25)
    }
    // two pings timed out, then it answered again: never unhealthy
    expect(timesOf(engine, 'SystemPing').length - before).toBeGreaterThanOrEqual(3)
    expect([...seen]).toEqual(['Healthy'])
  })

  it('marks a node unhealthy after healthRetries timed-out pings in a row, and takes it back', async () => {
    await using cluster = await fakeCluster([{}, {}], quiet)
    const engine = cluster.engines[1]!
    engine.slowPings(3, 700)
    const started = Date.now()
    await eventually(async () => (await nodeStatus(cluster.service, 'node-1')).status === 'Unhealthy', 4000)
    // three 500 ms timeouts, retried at once
    expect(Date.now() - started).toBeGreaterThanOrEqual(1400)
    expect((await nodeStatus(cluster.service, 'node-1')).error).toMatch(/SystemPing timed out after 500 ms/)
    await eventually(async () => (await nodeStatus(cluster.service, 'node-1')).status === 'Healthy', 4000)
  })

  it('marks a node unhealthy after one failed ping when healthRetries is 1', async () => {
    await using cluster = await fakeCluster([{}, {}], { ...quiet, healthRetries: 1 })
    cluster.engines[1]!.slowPings(1, 700)
    await eventually(async () => (await nodeStatus(cluster.service, 'node-1')).status === 'Unhealthy', 2000)
  })

  it('pings and refreshes each node at its own phase', async () => {
    const count = 12
    const spread = (times: number[]): number => Math.max(...times) - Math.min(...times)
    // uniform phases over 1 s: twelve nodes all within 300 ms of each other has a chance of about 1e-5
    {
      await using cluster = await fakeCluster(Array.from({ length: count }, () => ({})), { healthIntervalMs: 1000, refreshIntervalMs: 3_600_000 })
      await eventually(() => cluster.engines.every((engine) => timesOf(engine, 'SystemPing').length >= 2), 5000)
      expect(spread(cluster.engines.map((engine) => timesOf(engine, 'SystemPing')[0]!))).toBeGreaterThan(300)
      expect(spread(cluster.engines.map((engine) => timesOf(engine, 'SystemPing')[1]!))).toBeGreaterThan(300)
    }
    await using cluster = await fakeCluster(Array.from({ length: count }, () => ({})), { healthIntervalMs: 3_600_000, refreshIntervalMs: 1000 })
    await eventually(() => cluster.engines.every((engine) => timesOf(engine, 'SystemInfo').length >= 2), 5000)
    // the first SystemInfo is the connection's; the second is the first periodic refresh
    expect(spread(cluster.engines.map((engine) => timesOf(engine, 'SystemInfo')[1]!))).toBeGreaterThan(300)
  })

  it('resyncs a rejoining node incrementally: only new or changed containers are inspected', async () => {
    await using cluster = await fakeCluster([{}, {}], quiet)
    const engine = cluster.engines[1]!
    for (const name of ['a', 'b', 'c']) await run(cluster.service, name, { Env: ['constraint:node==node-1'] })
    engine.mode = 'down'
    breakEvents(engine)
    await eventually(async () => (await nodeStatus(cluster.service, 'node-1')).status === 'Unhealthy')
    const late = engine.add('late')
    const from = engine.calls.length
    engine.mode = 'up'
    await eventually(async () => (await nodeStatus(cluster.service, 'node-1')).status === 'Healthy', 5000)
    const ps = await docker(cluster.service, 'ContainerList', '', { query: { all: '1' } })
    expect(ps.json.map((row: any) => row.Names[0]).sort()).toEqual(['/node-1/a', '/node-1/b', '/node-1/c', '/node-1/late'])
    expect(engine.calls.slice(from).filter((call) => call.startsWith('ContainerInspect'))).toEqual([`ContainerInspect ${late}`])
  })

  it('refreshes by the engine\'s info: lists containers only when its counts disagree with the cache, or at every tenth refresh', async () => {
    await using cluster = await fakeCluster([{ withCounts: true }], { refreshIntervalMs: 100, healthIntervalMs: 3_600_000 })
    const engine = cluster.engines[0]!
    await run(cluster.service, 'web')
    const lists = (): number => timesOf(engine, 'ContainerList').length
    const infos = (): number => timesOf(engine, 'SystemInfo').length
    const from = { lists: lists(), infos: infos() }
    await eventually(() => infos() - from.infos >= 5, 3000)
    // counts agree: info alone, no version, no listing (unless the tenth refresh came in between)
    expect(lists() - from.lists).toBeLessThanOrEqual(1)
    expect(timesOf(engine, 'SystemVersion').length).toBe(1)
    // every tenth refresh lists anyway
    const before = lists()
    await eventually(() => lists() > before, 3000)
    // a container the events did not announce, just after that tenth: the next refresh's counts disagree, and it lists
    engine.add('unannounced', { running: true })
    const added = { lists: lists(), infos: infos() }
    await eventually(() => lists() > added.lists, 3000)
    expect(infos() - added.infos).toBeLessThanOrEqual(2)
    expect(((await docker(cluster.service, 'ContainerList', '', { query: { all: '1' } })).json as unknown[]).length).toBe(2)
  })

  it('does not ping a node it heard from within the interval, and paces the pings of many nodes', async () => {
    await using cluster = await fakeCluster([{}, {}], { ...quiet, healthIntervalMs: 300 })
    const [talking, silent] = cluster.engines as [FakeEngine, FakeEngine]
    await sleep(600)
    const from = { talking: timesOf(talking, 'SystemPing').length, silent: timesOf(silent, 'SystemPing').length }
    const until = Date.now() + 2000
    while (Date.now() < until) {
      talking.emit({ Type: 'image', Action: 'tag', id: 'x', Actor: { ID: 'x', Attributes: {} } })
      await sleep(30)
    }
    expect(timesOf(talking, 'SystemPing').length - from.talking).toBeLessThanOrEqual(1)
    expect(timesOf(silent, 'SystemPing').length - from.silent).toBeGreaterThanOrEqual(2)

    // 10 nodes at most 10 pings a second: each every second, not every 100 ms (after the first
    // interval, in which each was heard from at its connection)
    await using paced = await fakeCluster(Array.from({ length: 10 }, () => ({})), { ...quiet, healthIntervalMs: 100, maxPingsPerSecond: 10 })
    await sleep(1200)
    const before = paced.engines.map((engine) => timesOf(engine, 'SystemPing').length)
    await sleep(3000)
    const pings = paced.engines.reduce((sum, engine, index) => sum + timesOf(engine, 'SystemPing').length - (before[index] as number), 0)
    expect(pings).toBeGreaterThanOrEqual(12)
    expect(pings).toBeLessThanOrEqual(60)
  })

  it('parses --health-retries', () => {
    expect(parseAggregateArgs(['--health-retries', '5', 'x']).healthRetries).toBe(5)
    expect(() => parseAggregateArgs(['--health-retries', '0', 'x'])).toThrow(/at least 1/)
  })
})
