/**
 * Recently used `docker inspect` documents, as their engines sent them, so that an inspect is
 * answered from memory. Bounded by the bytes of text it holds (least recently used out first).
 *
 * A document is kept only while nothing can have changed it unseen: any event of its
 * container drops it (and spoils a fetch under way, so a document older than the event is
 * never stored), as does any request aggregate routes to the container, the failure of its
 * node (whose events may then be lost), and age past `maxAgeMs`, for what an engine changes
 * without an event (a health check's log).
 */
export class InspectCache<Owner extends object> {
  private readonly entries = new Map<string, { owner: Owner, caller: string, body: string, storedAt: number }>()
  private readonly fetches = new Map<string, Set<InspectFetch<Owner>>>()
  private bytes = 0

  constructor (private readonly maxBytes: number, private readonly maxAgeMs: number, private readonly now: () => number = Date.now) {}

  /**
   * The document of container `id` on `owner`, if it is held and still current, and was fetched
   * for the same `caller` identity (a service below may answer callers differently).
   */
  get (owner: Owner, id: string, caller = ''): string | undefined {
    const entry = this.entries.get(id)
    if (entry === undefined) return undefined
    if (entry.caller !== caller) return undefined
    if (entry.owner !== owner || this.now() - entry.storedAt > this.maxAgeMs) {
      this.drop(id)
      return undefined
    }
    // most recently used last: Map keeps insertion order
    this.entries.delete(id)
    this.entries.set(id, entry)
    return entry.body
  }

  /** Starts fetching container `id` from `owner`: an event before {@link store} spoils the fetch. */
  begin (owner: Owner, id: string, caller = ''): InspectFetch<Owner> {
    const fetch: InspectFetch<Owner> = { owner, id, caller, spoiled: false }
    let pending = this.fetches.get(id)
    if (pending === undefined) {
      pending = new Set()
      this.fetches.set(id, pending)
    }
    pending.add(fetch)
    return fetch
  }

  /** Ends a fetch; keeps `body` (the engine's JSON text) unless the fetch was spoiled. */
  store (fetch: InspectFetch<Owner>, body: string | undefined): void {
    const pending = this.fetches.get(fetch.id)
    pending?.delete(fetch)
    if (pending?.size === 0) this.fetches.delete(fetch.id)
    if (fetch.spoiled || body === undefined || body.length > this.maxBytes) return
    this.drop(fetch.id)
    this.entries.set(fetch.id, { owner: fetch.owner, caller: fetch.caller, body, storedAt: this.now() })
    this.bytes += body.length
    for (const [oldest, entry] of this.entries) {
      if (this.bytes <= this.maxBytes) break
      this.entries.delete(oldest)
      this.bytes -= entry.body.length
    }
  }

  /** Container `id` changed, or may have: drops its document and spoils its fetches. */
  invalidate (id: string): void {
    this.drop(id)
    for (const fetch of this.fetches.get(id) ?? []) fetch.spoiled = true
  }

  /** `owner`'s events may have been lost: drops its documents and spoils its fetches. */
  invalidateOwner (owner: Owner): void {
    for (const [id, entry] of this.entries) if (entry.owner === owner) this.drop(id)
    for (const pending of this.fetches.values()) {
      for (const fetch of pending) if (fetch.owner === owner) fetch.spoiled = true
    }
  }

  /** Documents held, and their text's length in all. */
  get size (): { documents: number, bytes: number } {
    return { documents: this.entries.size, bytes: this.bytes }
  }

  private drop (id: string): void {
    const entry = this.entries.get(id)
    if (entry === undefined) return
    this.entries.delete(id)
    this.bytes -= entry.body.length
  }
}

/** One fetch of an inspect document under way. */
export interface InspectFetch<Owner> {
  readonly owner: Owner
  readonly id: string
  readonly caller: string
  spoiled: boolean
}
