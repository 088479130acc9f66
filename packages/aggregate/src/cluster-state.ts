import { ErrorCode, SwarmError } from '@libswarm/core'
import { statusText } from './container-view.js'
import type { CachedContainer, ContainerIndex, EngineNode } from './engine-node.js'

const HEX = /^[0-9a-f]+$/

/**
 * The cluster-wide indexes over every node's cache: containers by id, by name and by
 * id prefix (bucketed by their first two characters), and nodes by name. Lookups cost
 * O(1) for ids and names and O(bucket) for prefixes.
 */
export class ClusterState implements ContainerIndex {
  readonly nodes: EngineNode[] = []
  private readonly nodesByName = new Map<string, EngineNode>()
  private readonly byId = new Map<string, CachedContainer>()
  private readonly byName = new Map<string, CachedContainer[]>()
  private readonly byPrefix = new Map<string, Set<string>>()

  added (container: CachedContainer): void {
    this.byId.set(container.id, container)
    const named = this.byName.get(container.name)
    if (named === undefined) this.byName.set(container.name, [container])
    else named.push(container)
    const bucket = container.id.slice(0, 2)
    let ids = this.byPrefix.get(bucket)
    if (ids === undefined) this.byPrefix.set(bucket, ids = new Set())
    ids.add(container.id)
  }

  removed (container: CachedContainer): void {
    if (this.byId.get(container.id) === container) this.byId.delete(container.id)
    const named = this.byName.get(container.name)
    if (named !== undefined) {
      const rest = named.filter((entry) => entry !== container)
      if (rest.length === 0) this.byName.delete(container.name)
      else this.byName.set(container.name, rest)
    }
    this.byPrefix.get(container.id.slice(0, 2))?.delete(container.id)
  }

  /** Adds a node (in child order). */
  addNode (node: EngineNode): void {
    this.nodes.push(node)
    this.nodesByName.set(node.name, node)
  }

  /** Removes a node (a provisioned host that is gone) and its containers from every index. */
  removeNode (node: EngineNode): void {
    const at = this.nodes.indexOf(node)
    if (at >= 0) this.nodes.splice(at, 1)
    for (const id of [...node.containers.keys()]) node.forget(id)
    if (this.nodesByName.get(node.name) === node) this.nodesByName.delete(node.name)
  }

  /** Names `node` (which learnt its engine's name) in the node-name index. */
  renamed (node: EngineNode, name: string): void {
    if (node.name === name && this.nodesByName.get(name) === node) return
    if (this.nodesByName.get(node.name) === node) this.nodesByName.delete(node.name)
    node.name = name
    this.nodesByName.set(name, node)
  }

  /** The node called `name`, if any. */
  node (name: string): EngineNode | undefined {
    return this.nodesByName.get(name)
  }

  /** A name for a node that no other node has: the engine's own, or with `-N` (the child's position) added. */
  uniqueName (node: EngineNode, wanted: string): string {
    const holder = this.nodesByName.get(wanted)
    if (holder === undefined || holder === node) return wanted
    return `${wanted}-${node.index}`
  }

  /** Containers called `name` (without node prefix), on any node. */
  named (name: string): readonly CachedContainer[] {
    return this.byName.get(name) ?? []
  }

  /**
   * Finds a container by full id, name (`web`, `/web` or `node-0/web`) or id prefix,
   * as the engine does, across every node (healthy or not). Throws NOT_FOUND, or
   * BAD_REQUEST when the reference is ambiguous.
   */
  find (ref: string): CachedContainer {
    const found = this.lookup(ref)
    if (found === undefined) throw new SwarmError(ErrorCode.NotFound, `No such container: ${ref}`)
    return found
  }

  /** Like {@link find}, but `undefined` when there is no such container. */
  lookup (ref: string): CachedContainer | undefined {
    const plain = ref.startsWith('/') ? ref.slice(1) : ref
    const slash = plain.indexOf('/')
    if (slash > 0) {
      const node = this.nodesByName.get(plain.slice(0, slash))
      if (node !== undefined) return this.findOnNode(node, plain.slice(slash + 1), ref)
    }
    const exact = this.byId.get(plain)
    if (exact !== undefined) return exact
    const named = this.byName.get(plain)
    if (named !== undefined && named.length > 0) {
      if (named.length === 1) return named[0]
      throw new SwarmError(ErrorCode.BadRequest, `multiple containers found with name ${plain}: ${named.map((c) => `${c.node.name}/${c.name}`).join(', ')}; use NODE/NAME or an id`)
    }
    if (plain === '' || !HEX.test(plain)) return undefined
    let match: CachedContainer | undefined
    const candidates = plain.length >= 2 ? this.byPrefix.get(plain.slice(0, 2)) ?? [] : this.byId.keys()
    for (const id of candidates) {
      if (!id.startsWith(plain)) continue
      if (match !== undefined) throw new SwarmError(ErrorCode.BadRequest, `multiple IDs found with provided prefix: ${plain}`)
      match = this.byId.get(id)
    }
    return match
  }

  private findOnNode (node: EngineNode, ref: string, original: string): CachedContainer | undefined {
    const exact = node.containers.get(ref)
    if (exact !== undefined) return exact
    for (const container of this.byName.get(ref) ?? []) if (container.node === node) return container
    if (ref === '' || !HEX.test(ref)) return undefined
    let match: CachedContainer | undefined
    for (const [id, container] of node.containers) {
      if (!id.startsWith(ref)) continue
      if (match !== undefined) throw new SwarmError(ErrorCode.BadRequest, `multiple IDs found with provided prefix: ${original}`)
      match = container
    }
    return match
  }

  /** Every cached container of the healthy nodes (and of the others with `down`; those `onNode` accepts, when given). */
  * visible (onNode?: (node: EngineNode) => boolean, down = false): Generator<CachedContainer> {
    for (const node of this.nodes) {
      if ((!down && node.health !== 'healthy') || (onNode !== undefined && !onNode(node))) continue
      yield * node.containers.values()
    }
  }
}

/** One `docker ps` row as JSON: the cached summary with Names showing the node, and Status as of `now` (`Host Down`, as classic Swarm said, for a node that is not healthy). */
export function listRowJson (container: CachedContainer, now: number): string {
  const status = container.node.health === 'healthy' ? statusText(container.state, now, container.times) : 'Host Down'
  return `${container.summaryJson},"Names":${JSON.stringify([`/${container.node.name}/${container.name}`])},"Status":${JSON.stringify(status)}}`
}

/**
 * A container's inspect as the cache knows it, for a node that cannot be asked: Id, Name, Created,
 * State, Image, `Config.Image`/`Labels`, `HostConfig.NetworkMode`, `NetworkSettings.Networks` and Mounts
 * (the cache keeps a compact record of each container, not its whole inspect).
 */
export function cachedInspect (container: CachedContainer): Record<string, unknown> {
  // a container to reschedule keeps its whole inspect
  if (container.inspect !== undefined) return container.inspect
  const summary = container.summary
  return {
    Id: container.id,
    Created: container.created,
    State: container.state,
    Image: summary.ImageID,
    Name: `/${container.name}`,
    Config: { Image: summary.Image, Labels: summary.Labels },
    HostConfig: { NetworkMode: summary.HostConfig.NetworkMode },
    NetworkSettings: { Networks: summary.NetworkSettings.Networks },
    Mounts: summary.Mounts
  }
}
