import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { createSimulator, type Simulator } from '../src/index.js'
import { call, createContainer } from './call.js'

let sim: Simulator

beforeEach(() => { sim = createSimulator({ name: 'sim-regex', seed: 11 }) })
afterEach(async () => { await sim.close() })

/** The reply of a list with these filters and how long it took, in milliseconds. */
async function timedList (operation: string, filters: Record<string, string[]>): Promise<{ json: any, ms: number }> {
  const start = performance.now()
  const reply = await call(sim, operation, '', { query: { all: '1', filters: JSON.stringify(filters) } })
  return { json: reply.json(), ms: performance.now() - start }
}

// Each of these pins a core for minutes (or for ever) on a backtracking RegExp; dockerd's RE2 answers at once.
describe('client regexes run in linear time, as on the engine', () => {
  it('docker ps --filter id= and name= with catastrophic patterns', async () => {
    const long = 'a'.repeat(4000)
    const id = await createContainer(sim, {}, long)
    const byId = await timedList('ContainerList', { id: ['^([0-9a-f]+)+z$'] })
    expect(byId.json).toEqual([])
    expect(byId.ms).toBeLessThan(1000)
    const byName = await timedList('ContainerList', { name: ['^/(a+)+$', '^(a|aa)+-$'] })
    expect(byName.json.map((row: any) => row.Id)).toEqual([id])
    expect(byName.ms).toBeLessThan(1000)
    const missed = await timedList('ContainerList', { name: ['^/?(a+)+-$'] })
    expect(missed.json).toEqual([])
    expect(missed.ms).toBeLessThan(1000)
  })

  it('docker network ls --filter name= and id=', async () => {
    await call(sim, 'NetworkCreate', '', { body: { Name: 'a'.repeat(2000) } })
    const listed = await timedList('NetworkList', { name: ['^(a+)+-$'], id: ['^([0-9a-f]+)+z$'] })
    expect(listed.json).toEqual([])
    expect(listed.ms).toBeLessThan(1000)
  })

  it('docker images --filter reference= with many stars', async () => {
    await call(sim, 'ImageTag', 'busybox', { query: { repo: 'a'.repeat(200), tag: 'v1' } })
    const listed = await timedList('ImageList', { reference: ['*a'.repeat(12) + '*b'] })
    expect(listed.json).toEqual([])
    expect(listed.ms).toBeLessThan(1000)
    expect((await timedList('ImageList', { reference: ['a*a:v?'] })).json.map((row: any) => row.RepoTags)).toEqual([[`${'a'.repeat(200)}:v1`]])
  })
})

describe('filter semantics are Go\'s regexp and dockerd\'s filters.Args.Match', () => {
  it('matches names with and without the slash, unanchored, RE2 syntax; an invalid regexp matches only itself', async () => {
    const web = await createContainer(sim, {}, 'web-1')
    const db = await createContainer(sim, {}, 'db')
    const names = async (...values: string[]): Promise<string[]> =>
      (await timedList('ContainerList', { name: values })).json.map((row: any) => row.Id)
    expect(await names('^web-[0-9]+$')).toEqual([web])
    expect(await names('^/db$')).toEqual([db])
    expect(await names('b')).toEqual([db, web])
    expect(await names('^(web|db)')).toEqual([db, web])
    expect(await names('[[:digit:]]')).toEqual([web])
    expect(await names('(?i)^WEB')).toEqual([web])
    expect(await names('^WEB')).toEqual([])
    expect(await names('(w)\\1', '(?=db)')).toEqual([])
    expect(await names('(w)\\1', 'db')).toEqual([db])
    const ids = async (value: string): Promise<string[]> => (await timedList('ContainerList', { id: [value] })).json.map((row: any) => row.Id)
    expect(await ids(web.slice(0, 8))).toEqual([web])
    expect(await ids(`^${db.slice(0, 4)}`)).toEqual([db])
  })
})
