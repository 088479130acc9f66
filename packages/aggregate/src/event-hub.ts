import { ErrorCode, SwarmError, type ByteStream } from '@libswarm/core'
import { eventJson, utf8 } from './child-call.js'
import { nodeMatcher } from './container-filters.js'
import type { EngineEvent, EngineNode } from './engine-node.js'

/** An event as aggregate hands it out: the engine's, with the node it came from. */
export interface NodeEvent extends EngineEvent {
  node: { Name: string, Id: string, Addr: string, Ip: string }
}

const MAX_QUEUED = 4096

/** The host of a `host:port` address (`127.0.0.1:2375` -> `127.0.0.1`), or empty for other addresses (unix sockets, in-process children). */
export function ipOf (addr: string): string {
  const match = /^\[?([A-Za-z0-9.\-:]+?)\]?:\d+$/.exec(addr)
  return match === null ? '' : match[1] as string
}

/** Adds the node to an event: a `node` object (as classic Swarm did) and `node.*` actor attributes, which `docker events` prints. */
export function tagEvent (node: EngineNode, event: EngineEvent): NodeEvent {
  const tag = { Name: node.name, Id: node.facts?.id ?? '', Addr: node.addr, Ip: ipOf(node.addr) }
  const tagged: NodeEvent = { ...event, node: tag }
  if (event.Actor !== undefined) {
    tagged.Actor = { ...event.Actor, Attributes: { ...event.Actor.Attributes, 'node.name': tag.Name, 'node.id': tag.Id, 'node.addr': tag.Addr, 'node.ip': tag.Ip } }
  }
  return tagged
}

/**
 * A predicate for `docker events` filters (type, event, container, image, label, node,
 * network, volume, scope, daemon), applied to the merged stream.
 */
export function eventPredicate (filters: Record<string, string[]>): (event: NodeEvent) => boolean {
  const checks: Array<(event: NodeEvent) => boolean> = []
  const any = (values: string[] | undefined, test: (value: string, event: NodeEvent) => boolean): void => {
    if (values !== undefined && values.length > 0) checks.push((event) => values.some((value) => test(value, event)))
  }
  const attr = (event: NodeEvent, key: string): string | undefined => event.Actor?.Attributes?.[key]
  const type = (event: NodeEvent): string => event.Type ?? 'container'
  any(filters.type, (value, event) => type(event) === value)
  any(filters.event, (value, event) => {
    const action = event.Action ?? event.status ?? ''
    return action === value || action.split(':')[0] === value
  })
  any(filters.container, (value, event) => type(event) === 'container' &&
    ((event.Actor?.ID ?? event.id ?? '').startsWith(value) || attr(event, 'name') === value || `${event.node.Name}/${attr(event, 'name') ?? ''}` === value))
  any(filters.image, (value, event) => attr(event, 'image') === value || event.from === value ||
    (type(event) === 'image' && (event.Actor?.ID ?? event.id) === value))
  any(filters.network, (value, event) => type(event) === 'network' && ((event.Actor?.ID ?? '').startsWith(value) || attr(event, 'name') === value))
  any(filters.volume, (value, event) => type(event) === 'volume' && (event.Actor?.ID ?? '') === value)
  const nodes = nodeMatcher(filters.node)
  if (nodes !== undefined) checks.push((event) => nodes({ name: event.node.Name, facts: { id: event.node.Id } }))
  any(filters.daemon, (value, event) => type(event) === 'daemon' && (event.Actor?.ID === value || attr(event, 'name') === value))
  any(filters.scope, (value, event) => (event.scope ?? 'local') === value)
  const labels = filters.label
  if (labels !== undefined && labels.length > 0) {
    checks.push((event) => labels.every((label) => {
      const at = label.indexOf('=')
      return at < 0 ? attr(event, label) !== undefined : attr(event, label.slice(0, at)) === label.slice(at + 1)
    }))
  }
  return (event) => checks.every((check) => check(event))
}

interface Subscriber {
  accept: (event: NodeEvent) => boolean
  queue: Uint8Array[]
  wake: (() => void) | undefined
  error: Error | undefined
  done: boolean
}

/**
 * The merged event stream: every node's events, tagged with the node, fanned out to each
 * subscriber through its own bounded queue. A subscriber that falls more than 4096
 * events behind is cut off with an error rather than slowing the nodes down.
 */
export class EventHub {
  private readonly subscribers = new Set<Subscriber>()

  /** Number of open subscriptions. */
  get size (): number { return this.subscribers.size }

  publish (node: EngineNode, event: EngineEvent): void {
    if (this.subscribers.size === 0) return
    const tagged = tagEvent(node, event)
    let bytes: Uint8Array | undefined
    for (const subscriber of this.subscribers) {
      if (!subscriber.accept(tagged)) continue
      if (subscriber.queue.length >= MAX_QUEUED) {
        subscriber.error = new SwarmError(ErrorCode.Unavailable, 'event subscriber fell too far behind')
        this.subscribers.delete(subscriber)
      } else {
        bytes ??= utf8(eventJson(tagged) + '\n')
        subscriber.queue.push(bytes)
      }
      subscriber.wake?.()
    }
  }

  /** The merged stream, filtered; it ends when the consumer stops or {@link close} is called. */
  subscribe (accept: (event: NodeEvent) => boolean, signal?: AbortSignal): ByteStream {
    const subscriber: Subscriber = { accept, queue: [], wake: undefined, error: undefined, done: false }
    this.subscribers.add(subscriber)
    const subscribers = this.subscribers
    const onAbort = (): void => { subscriber.done = true; subscriber.wake?.() }
    signal?.addEventListener('abort', onAbort, { once: true })
    return (async function * () {
      try {
        while (true) {
          if (subscriber.queue.length > 0) {
            yield subscriber.queue.shift() as Uint8Array
            continue
          }
          if (subscriber.error !== undefined) throw subscriber.error
          if (subscriber.done) return
          await new Promise<void>((resolve) => { subscriber.wake = resolve })
          subscriber.wake = undefined
        }
      } finally {
        subscribers.delete(subscriber)
        signal?.removeEventListener('abort', onAbort)
      }
    })()
  }

  /** Ends every subscription. */
  close (): void {
    for (const subscriber of this.subscribers) {
      subscriber.done = true
      subscriber.wake?.()
    }
    this.subscribers.clear()
  }
}
