import { describe, expect, it } from 'vitest'
import { IdPrefixIndex } from '../src/id-index.js'

describe('IdPrefixIndex', () => {
  it('resolves unique prefixes of any length and refuses ambiguous ones', () => {
    const index = new IdPrefixIndex()
    for (const id of ['a1ff', 'a1f0', 'b234', 'c000', 'c0ff']) index.add(id)
    expect(index.size).toBe(5)
    expect(index.find('b')).toBe('b234')
    expect(index.find('b2')).toBe('b234')
    expect(index.find('a1ff')).toBe('a1ff')
    expect(index.find('d')).toBeUndefined()
    expect(index.find('b3')).toBeUndefined()
    expect(index.find('zz')).toBeUndefined()
    expect(() => index.find('a')).toThrow('multiple IDs found with provided prefix: a')
    expect(() => index.find('a1f')).toThrow('multiple IDs found with provided prefix: a1f')
    expect(() => index.find('c')).toThrow(/multiple IDs/)
    index.delete('c0ff')
    expect(index.find('c')).toBe('c000')
    index.delete('a1f0')
    expect(index.find('a')).toBe('a1ff')
    expect(index.size).toBe(3)
  })

  it('keeps every id findable through many inserts and removals', () => {
    const index = new IdPrefixIndex()
    const ids = Array.from({ length: 3000 }, (_, i) => (i * 2654435761 % 4294967296).toString(16).padStart(8, '0') + i.toString(16).padStart(8, '0'))
    for (const id of ids) index.add(id)
    for (const id of ids.filter((_, i) => i % 3 === 0)) index.delete(id)
    for (const [i, id] of ids.entries()) expect(index.find(id)).toBe(i % 3 === 0 ? undefined : id)
    expect(index.size).toBe(2000)
  })
})
