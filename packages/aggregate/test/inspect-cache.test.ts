import { describe, expect, it } from 'vitest'
import { parseAggregateArgs } from '../src/aggregate-options.js'
import { InspectCache } from '../src/inspect-cache.js'

describe('InspectCache', () => {
  const node = {}
  const keep = (cache: InspectCache<object>, id: string, body: string): void => { cache.store(cache.begin(node, id), body) }

  it('holds at most its budget of text, letting the least recently used go first', () => {
    const cache = new InspectCache<object>(30, 60_000)
    keep(cache, 'a', '{"Id":"a",  "x":1}') // 18 characters
    keep(cache, 'b', '{"Id":"b"}') // 10
    expect(cache.size).toEqual({ documents: 2, bytes: 28 })
    expect(cache.get(node, 'a')).toBe('{"Id":"a",  "x":1}')
    keep(cache, 'c', '{"Id":"c"}') // 38 > 30: b, the least recently used, goes
    expect(cache.get(node, 'b')).toBeUndefined()
    expect(cache.get(node, 'a')).toBeDefined()
    expect(cache.size).toEqual({ documents: 2, bytes: 28 })
    keep(cache, 'huge', 'x'.repeat(31))
    expect(cache.get(node, 'huge')).toBeUndefined()
    expect(cache.size.documents).toBe(2)
  })

  it('answers only for the node that stored a document, and forgets it after maxAgeMs', () => {
    let now = 1000
    const cache = new InspectCache<object>(1000, 500, () => now)
    keep(cache, 'a', '{}')
    expect(cache.get({}, 'a')).toBeUndefined()
    keep(cache, 'a', '{}')
    now += 501
    expect(cache.get(node, 'a')).toBeUndefined()
    expect(cache.size).toEqual({ documents: 0, bytes: 0 })
  })
})

describe('--inspect-cache', () => {
  it('takes MiB, 0 for none, and refuses anything else', () => {
    expect(parseAggregateArgs(['--inspect-cache', '8', 'x']).inspectCacheBytes).toBe(8 * 1024 * 1024)
    expect(parseAggregateArgs(['--inspect-cache=0', 'x']).inspectCacheBytes).toBe(0)
    expect(() => parseAggregateArgs(['--inspect-cache', 'lots', 'x'])).toThrow(/--inspect-cache wants a size in MiB/)
    expect(() => parseAggregateArgs(['--inspect-cache', '-1', 'x'])).toThrow(/--inspect-cache wants a size in MiB/)
  })
})
