import { describe, expect, it } from 'vitest'
import { patternMatcher } from '../src/container-filters.js'
import { docker, failure, fakeCluster, run } from './harness.js'

const LONG = 'a'.repeat(4000)

/** What `work` resolved to and how long it took, in milliseconds. */
async function timed<T> (work: () => Promise<T>): Promise<{ value: T, ms: number }> {
  const start = performance.now()
  const value = await work()
  return { value, ms: performance.now() - start }
}

// Each pattern here pins a core for minutes (or for ever) on JavaScript's backtracking RegExp.
describe('client regexes in aggregate run in linear time', () => {
  it('docker ps --filter name= answered from the cache', async () => {
    await using cluster = await fakeCluster([{}, {}], {}, ([e0]) => { e0!.add(LONG, { running: true }) })
    const list = async (filters: Record<string, string[]>): Promise<{ value: any, ms: number }> =>
      await timed(async () => (await docker(cluster.service, 'ContainerList', '', { query: { all: '1', filters: JSON.stringify(filters) } })).json)
    const missed = await list({ name: ['(a|aa)+-$'] })
    expect(missed.value).toEqual([])
    expect(missed.ms).toBeLessThan(1000)
    const found = await list({ name: ['^(a|aa)+$'], node: ['/^(node-[0-9]|n|no)+$/'] })
    expect(found.value.map((row: any) => row.Names[0])).toEqual([`/node-0/${LONG}`])
    expect(found.ms).toBeLessThan(1000)
  })

  it('constraints and affinities with regexes and globs, and a rule padded with spaces', async () => {
    await using cluster = await fakeCluster([{ labels: [`zone=${LONG}`] }, {}], {}, ([e0]) => { e0!.add(`front${LONG}`, { running: true }) })
    const place = async (body: Record<string, unknown>): Promise<{ value: { code: string, message: string }, ms: number }> =>
      await timed(async () => await failure(run(cluster.service, undefined, body, false)))
    for (const rule of ['constraint:zone==/^(a|aa)+b$/', `constraint:zone==${'*a'.repeat(12)}*b`, 'affinity:container==/(a|aa)+-$/', `constraint:node==node-1${' '.repeat(100_000)}!`]) {
      const refused = await place({ Env: [rule] })
      expect(refused.value.code).toBe('NO_SUITABLE_NODE')
      expect(refused.ms).toBeLessThan(1000)
    }
    expect((await run(cluster.service, 'z', { Env: ['constraint:zone==/^(a|aa)+$/'] }, false)).node).toBe('node-0')
  })
})

describe('node and placement patterns', () => {
  it('are globs, /regexes/ in RE2 syntax, or plain values, without regard to case', () => {
    expect(patternMatcher('node-*')('Node-12')).toBe(true)
    expect(patternMatcher('node-?')('node-12')).toBe(false)
    expect(patternMatcher('node.1')('node-1')).toBe(false)
    expect(patternMatcher('/^node-[12]$/')('NODE-2')).toBe(true)
    expect(patternMatcher('/node/')('my-node-2')).toBe(true)
    expect(patternMatcher('/(n)\\1/')('nn')).toBe(false)
    expect(patternMatcher('SSD')('ssd')).toBe(true)
  })
})
