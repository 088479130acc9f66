import { ByteQueue } from './byte-queue.js'
import { unixNanoText } from './clock.js'
import { engineErrors } from './errors.js'

/** The kinds of objects an engine reports events about. */
export type EventType = 'container' | 'image' | 'network' | 'volume' | 'daemon'

/** One engine event, kept compactly: attributes and labels are referenced, not copied. */
export interface EngineEvent {
  readonly time: number
  readonly type: EventType
  readonly action: string
  readonly id: string
  readonly attributes: Readonly<Record<string, string>>
  /** A container's labels, which dockerd merges into the event's attributes. */
  readonly labels?: Readonly<Record<string, string>> | undefined
  /** The legacy `from` field of container events: the image. */
  readonly from?: string | undefined
}

interface Listener {
  readonly filters: EventFilters
  readonly queue: ByteQueue
}

/** The `filters` of a `/events` request. */
export type EventFilters = Record<string, string[]>

const FILTER_KEYS = new Set(['container', 'daemon', 'event', 'image', 'label', 'network', 'node', 'plugin', 'scope', 'service', 'type', 'volume', 'config', 'secret'])
const encoder = new TextEncoder()

/**
 * The last `capacity` events (dockerd keeps 256 for `since`) and the open `/events`
 * streams. Emitting renders an event's JSON line once, and only when a listener wants it.
 */
export class EventLog {
  private readonly ring: Array<EngineEvent | undefined>
  private next = 0
  private count = 0
  private readonly listeners = new Set<Listener>()

  private readonly capacity: number

  constructor (capacity = 256) {
    this.capacity = Math.max(1, Math.floor(capacity))
    this.ring = new Array<EngineEvent | undefined>(this.capacity)
  }

  get listenerCount (): number { return this.listeners.size }

  emit (event: EngineEvent): void {
    this.ring[this.next] = event
    this.next = (this.next + 1) % this.capacity
    if (this.count < this.capacity) this.count++
    if (this.listeners.size === 0) return
    let line: Uint8Array | undefined
    for (const listener of this.listeners) {
      if (!matchesEvent(event, listener.filters)) continue
      line ??= encoder.encode(renderEvent(event) + '\n')
      listener.queue.push(line)
    }
  }

  /** Stored events between `since` and `until` (ms, inclusive) that pass `filters`, oldest first. */
  past (filters: EventFilters, since: number | undefined, until: number | undefined): EngineEvent[] {
    const events: EngineEvent[] = []
    for (let i = 0; i < this.count; i++) {
      const event = this.ring[(this.next - this.count + i + this.capacity) % this.capacity] as EngineEvent
      if (since !== undefined && event.time < since) continue
      if (until !== undefined && event.time > until) continue
      if (matchesEvent(event, filters)) events.push(event)
    }
    return events
  }

  /** A stream of the events to come that pass `filters`, until the reader stops or {@link ByteQueue.end}. */
  follow (filters: EventFilters, queue: ByteQueue): void {
    const listener = { filters, queue }
    this.listeners.add(listener)
    queue.onClose = () => { this.listeners.delete(listener) }
  }

  /** Ends every open stream (the engine is closing). */
  close (): void {
    for (const listener of [...this.listeners]) listener.queue.end()
  }
}

/** Checks the filter names of an events request, as dockerd does. */
export function checkEventFilters (filters: EventFilters): void {
  for (const key of Object.keys(filters)) {
    if (!FILTER_KEYS.has(key)) throw engineErrors.badRequest(`Invalid filter '${key}'`)
  }
}

function fuzzy (values: string[], candidate: string | undefined): boolean {
  if (candidate === undefined || candidate === '') return false
  return values.some((value) => value === candidate || candidate.startsWith(value))
}

function matchesEvent (event: EngineEvent, filters: EventFilters): boolean {
  for (const key in filters) {
    const values = filters[key] as string[]
    if (values.length === 0) continue
    switch (key) {
      case 'type':
        if (!values.includes(event.type)) return false
        break
      case 'event':
        if (!values.includes(event.action)) return false
        break
      case 'scope':
        if (!values.includes('local')) return false
        break
      case 'container':
        if (event.type !== 'container' || !(fuzzy(values, event.id) || fuzzy(values, event.attributes.name))) return false
        break
      case 'image': {
        const image = event.type === 'container' ? event.attributes.image : event.id
        const name = event.type === 'image' ? event.attributes.name : undefined
        if (!values.some((value) => value === image || value === name || stripLatest(value) === stripLatest(image) || (image !== undefined && image.startsWith(value)))) return false
        break
      }
      case 'network':
        if (event.type !== 'network' || !(fuzzy(values, event.id) || fuzzy(values, event.attributes.name))) return false
        break
      case 'volume':
        if (event.type !== 'volume' || !fuzzy(values, event.id)) return false
        break
      case 'label':
        if (!values.every((value) => labelMatches(value, event.labels ?? event.attributes))) return false
        break
      case 'daemon':
        if (event.type !== 'daemon') return false
        break
      default:
        return false
    }
  }
  return true
}

function stripLatest (reference: string | undefined): string | undefined {
  return reference?.endsWith(':latest') === true ? reference.slice(0, -7) : reference
}

/** `key` or `key=value` against a label set, as Docker's label filters read. */
export function labelMatches (filter: string, labels: Readonly<Record<string, string>> | null | undefined): boolean {
  if (labels === undefined || labels === null) return false
  const equals = filter.indexOf('=')
  if (equals < 0) return Object.prototype.hasOwnProperty.call(labels, filter)
  const key = filter.slice(0, equals)
  return Object.prototype.hasOwnProperty.call(labels, key) && labels[key] === filter.slice(equals + 1)
}

/** An event as dockerd 20.10 writes it on `/events`, legacy `status`/`id`/`from` fields included for containers and images. */
export function renderEvent (event: EngineEvent): string {
  const attributes = event.labels === undefined ? event.attributes : { ...event.labels, ...event.attributes }
  const actor = `"Actor":{"ID":${JSON.stringify(event.id)},"Attributes":${JSON.stringify(attributes)}}`
  const legacy = event.type === 'container' || event.type === 'image'
    ? `"status":${JSON.stringify(event.action)},"id":${JSON.stringify(event.id)},` + (event.from === undefined ? '' : `"from":${JSON.stringify(event.from)},`)
    : ''
  return `{${legacy}"Type":"${event.type}","Action":${JSON.stringify(event.action)},${actor},"scope":"local","time":${Math.floor(event.time / 1000)},"timeNano":${unixNanoText(event.time)}}`
}
