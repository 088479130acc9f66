import { engineErrors } from './errors.js'

/**
 * Full ids in sorted order, so that a prefix resolves by binary search (O(log n)) as
 * dockerd's truncindex does; inserting and removing move the tail of one array of
 * pointers, which stays cheap well beyond the containers one engine holds.
 */
export class IdPrefixIndex {
  private readonly ids: string[] = []

  get size (): number { return this.ids.length }

  add (id: string): void {
    const at = this.lowerBound(id)
    if (this.ids[at] !== id) this.ids.splice(at, 0, id)
  }

  delete (id: string): void {
    const at = this.lowerBound(id)
    if (this.ids[at] === id) this.ids.splice(at, 1)
  }

  /**
   * The one id starting with `prefix`, `undefined` when none does; throws when several
   * do (dockerd's "multiple IDs found with provided prefix").
   */
  find (prefix: string): string | undefined {
    if (prefix === '') return undefined
    const at = this.lowerBound(prefix)
    const first = this.ids[at]
    if (first === undefined || !first.startsWith(prefix)) return undefined
    const second = this.ids[at + 1]
    if (second !== undefined && second.startsWith(prefix) && first !== prefix) throw engineErrors.ambiguousPrefix(prefix)
    return first
  }

  private lowerBound (key: string): number {
    let low = 0
    let high = this.ids.length
    while (low < high) {
      const middle = (low + high) >>> 1
      if ((this.ids[middle] as string) < key) low = middle + 1
      else high = middle
    }
    return low
  }
}
