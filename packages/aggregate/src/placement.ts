import { ErrorCode, SwarmError } from '@libswarm/core'
import { checkPortBindings, decodeEngineBody } from '@libswarm/docker-api'
import { patternMatcher } from './container-filters.js'
import { hostPortsOf, normalizeImageRef, reservationOf, type ContainerInspect, type Reservation } from './container-view.js'
import type { ClusterState } from './cluster-state.js'
import type { EngineNode } from './engine-node.js'
import { noSuitableNode } from './errors.js'

/** How aggregate ranks the nodes that pass the filters. */
export type Strategy = 'spread' | 'binpack' | 'random'

/** The strategies, by name. */
export const STRATEGIES: readonly Strategy[] = ['spread', 'binpack', 'random']

/** The label under which a created container keeps its constraints, as classic Swarm did. */
export const CONSTRAINTS_LABEL = 'com.docker.swarm.constraints'
/** The label under which a created container keeps its affinities. */
export const AFFINITIES_LABEL = 'com.docker.swarm.affinities'

/**
 * One placement rule: `constraint:KEY==VALUE` or `affinity:KEY!=VALUE`, where VALUE is a
 * plain string, a glob (`node-*`) or a `/regex/`, and `==~`/`!=~` make the rule soft.
 */
export interface PlacementFilter {
  readonly kind: 'constraint' | 'affinity'
  readonly key: string
  readonly negate: boolean
  readonly soft: boolean
  readonly value: string
  /** The rule as written, without its `constraint:`/`affinity:` prefix. */
  readonly text: string
}

/** A container that another must run beside (`--volumes-from`, `--link`, `--net container:`...). */
export interface Dependency {
  readonly flag: string
  readonly ref: string
}

/** Everything placement needs to know about a create request. */
export interface PlacementRequest {
  readonly image: string
  readonly reservation: Reservation
  readonly hostPorts: readonly string[]
  readonly hostMode: boolean
  readonly filters: readonly PlacementFilter[]
  readonly dependencies: readonly Dependency[]
  /** User networks the container joins: only nodes that have them all can take it. */
  readonly networks?: readonly string[]
}

const BUILTIN_NETWORKS = new Set(['', 'default', 'bridge', 'host', 'none'])

// The value is trimmed by hand: a lazy `(.+?)\s*$` costs time in the square of the spaces it ends with.
const RULE = /^\s*([A-Za-z0-9_.\-/]+)\s*(==|!=)(~?)(.*)$/s
const LINE_BREAK = /[\n\r\u2028\u2029]/

/** Parses `node==node-1`, `storage!=~hdd`, ...; throws BAD_REQUEST for anything else. */
export function parseFilter (kind: PlacementFilter['kind'], text: string): PlacementFilter {
  const match = RULE.exec(text)
  const value = match?.[4]?.trim() ?? ''
  if (match === null || value === '' || LINE_BREAK.test(value)) throw new SwarmError(ErrorCode.BadRequest, `invalid ${kind} expression: ${text} (expected KEY==VALUE or KEY!=VALUE, with ~ after the operator for a soft rule)`)
  const [, key = '', operator, soft] = match
  if (kind === 'affinity' && key !== 'container' && key !== 'image') {
    throw new SwarmError(ErrorCode.BadRequest, `invalid affinity expression: ${text} (affinities are on container or image)`)
  }
  return { kind, key, negate: operator === '!=', soft: soft === '~', value, text: text.trim() }
}

interface CreateBody {
  Image?: string
  Env?: string[] | null
  Labels?: Record<string, string> | null
  ExposedPorts?: Record<string, unknown> | null
  HostConfig?: ContainerInspect['HostConfig'] & {
    VolumesFrom?: string[] | null
    Links?: string[] | null
    IpcMode?: string
    PidMode?: string
  }
  NetworkingConfig?: { EndpointsConfig?: Record<string, unknown> | null } | null
  [key: string]: unknown
}

function labelRules (kind: PlacementFilter['kind'], text: string | undefined): PlacementFilter[] {
  if (text === undefined || text === '') return []
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch {
    throw new SwarmError(ErrorCode.BadRequest, `label com.docker.swarm.${kind === 'constraint' ? 'constraints' : 'affinities'} is not a JSON array of strings`)
  }
  if (!Array.isArray(parsed)) throw new SwarmError(ErrorCode.BadRequest, `label com.docker.swarm.${kind === 'constraint' ? 'constraints' : 'affinities'} is not a JSON array of strings`)
  return parsed.map((rule) => parseFilter(kind, String(rule)))
}

/**
 * Reads a ContainerCreate body: its placement request, and the body to send to the node,
 * with the `constraint:`/`affinity:` variables taken out of Env and kept as the
 * `com.docker.swarm.constraints`/`affinities` labels instead.
 */
export function readCreateBody (raw: unknown): { request: PlacementRequest, body: CreateBody } {
  // typed as dockerd types it, and refused as it refuses, before anything here reads it
  decodeEngineBody('ContainerCreate', raw)
  const body: CreateBody = { ...(raw as CreateBody ?? {}) }
  // placement counts a host port range port by port: only the ranges dockerd takes
  checkPortBindings(body.HostConfig?.PortBindings)
  const filters: PlacementFilter[] = []
  const env: string[] = []
  for (const entry of body.Env ?? []) {
    if (entry.startsWith('constraint:')) filters.push(parseFilter('constraint', entry.slice('constraint:'.length)))
    else if (entry.startsWith('affinity:')) filters.push(parseFilter('affinity', entry.slice('affinity:'.length)))
    else env.push(entry)
  }
  const labels = { ...(body.Labels ?? {}) }
  const fromLabels = [...labelRules('constraint', labels[CONSTRAINTS_LABEL]), ...labelRules('affinity', labels[AFFINITIES_LABEL])]
  const all = [...fromLabels, ...filters]
  const unique = (kind: PlacementFilter['kind']): string[] => [...new Set(all.filter((rule) => rule.kind === kind).map((rule) => rule.text))]
  if (all.length > 0) {
    const constraints = unique('constraint')
    const affinities = unique('affinity')
    if (constraints.length > 0) labels[CONSTRAINTS_LABEL] = JSON.stringify(constraints)
    if (affinities.length > 0) labels[AFFINITIES_LABEL] = JSON.stringify(affinities)
    body.Labels = labels
    if (body.Env !== undefined && body.Env !== null) body.Env = env
  }
  const hostConfig = body.HostConfig
  const dependencies: Dependency[] = []
  for (const entry of hostConfig?.VolumesFrom ?? []) dependencies.push({ flag: '--volumes-from', ref: entry.split(':')[0] ?? entry })
  for (const entry of hostConfig?.Links ?? []) dependencies.push({ flag: '--link', ref: (entry.split(':')[0] ?? entry).replace(/^\//, '') })
  for (const [flag, mode] of [['--net', hostConfig?.NetworkMode], ['--ipc', hostConfig?.IpcMode], ['--pid', hostConfig?.PidMode]] as const) {
    if (mode?.startsWith('container:') === true) dependencies.push({ flag, ref: mode.slice('container:'.length) })
  }
  const networks = new Set<string>()
  const mode = hostConfig?.NetworkMode ?? ''
  if (!BUILTIN_NETWORKS.has(mode) && !mode.startsWith('container:')) networks.add(mode)
  for (const name of Object.keys(body.NetworkingConfig?.EndpointsConfig ?? {})) if (!BUILTIN_NETWORKS.has(name)) networks.add(name)
  return {
    request: {
      networks: [...networks],
      image: body.Image ?? '',
      reservation: reservationOf(hostConfig),
      hostPorts: hostPortsOf(hostConfig, body.ExposedPorts),
      hostMode: hostConfig?.NetworkMode === 'host',
      filters: [...new Map(all.map((rule) => [`${rule.kind}:${rule.text}`, rule])).values()],
      dependencies
    },
    body
  }
}

/** The value of a constraint key on a node: `node`, the engine's facts, or one of its labels. */
function nodeValue (node: EngineNode, key: string): string | undefined {
  switch (key) {
    case 'node': return node.name
    case 'node.id': return node.facts?.id
    case 'storagedriver': return node.facts?.storageDriver
    case 'kernelversion': return node.facts?.kernelVersion
    case 'operatingsystem': return node.facts?.operatingSystem
    default: return node.facts?.labels[key]
  }
}

function ruleHolds (rule: PlacementFilter, matches: (value: string) => boolean, node: EngineNode, cluster: ClusterState): boolean {
  let found: boolean
  if (rule.kind === 'constraint') {
    const value = nodeValue(node, rule.key)
    found = value !== undefined && matches(value)
  } else if (rule.key === 'container') {
    found = containerOn(node, rule.value, matches, cluster)
  } else {
    found = imageOn(node, rule.value, matches)
  }
  return rule.negate ? !found : found
}

function isPattern (value: string): boolean {
  return value.includes('*') || value.includes('?') || (value.length > 2 && value.startsWith('/') && value.endsWith('/'))
}

function containerOn (node: EngineNode, value: string, matches: (value: string) => boolean, cluster: ClusterState): boolean {
  if (!isPattern(value)) {
    if (node.containers.has(value)) return true
    for (const container of cluster.named(value)) if (container.node === node) return true
    for (const id of node.containers.keys()) if (value.length >= 4 && id.startsWith(value)) return true
    return false
  }
  for (const container of node.containers.values()) {
    if (matches(container.name) || matches(container.id)) return true
  }
  return false
}

function imageOn (node: EngineNode, value: string, matches: (value: string) => boolean): boolean {
  if (!isPattern(value)) {
    if (node.hasImage(value)) return true
    const hex = /^[0-9a-f]{4,}$/.test(value)
    // `redis` without a tag matches any tag of redis
    const repo = value.includes(':') || value.includes('@') ? undefined : `${normalizeImageRef(value).slice(0, -'latest'.length)}`
    for (const ref of node.imageReferences()) {
      if (hex && ref.startsWith(`sha256:${value}`)) return true
      if (repo !== undefined && ref.startsWith(repo)) return true
    }
    return false
  }
  for (const ref of node.imageReferences()) {
    if (matches(ref) || matches(ref.replace(/:latest$/, ''))) return true
  }
  return false
}

function nameList (nodes: readonly EngineNode[]): string {
  const names = nodes.slice(0, 5).map((node) => node.name).join(', ')
  return nodes.length > 5 ? `${names} and ${nodes.length - 5} more` : names
}

/** The reason a filter left no node: classic Swarm's wording, then which nodes it excluded. */
function unsatisfied (condition: string, excluded: readonly EngineNode[]): SwarmError {
  const which = excluded.length === 0 ? '' : ` (excluded: ${nameList(excluded)})`
  return noSuitableNode(`Unable to find a node that satisfies the following conditions [${condition}]${which}`)
}

/** Options of {@link place}. */
export interface PlaceOptions {
  strategy: Strategy
  random?: () => number
}

/**
 * Chooses a node for a container: the health, constraint, affinity, dependency, network,
 * port and resource filters in turn (soft rules only while they leave a node), then the strategy
 * among those left, preferring nodes that already hold the image. O(nodes) unless a
 * rule names a container by pattern. Throws NO_SUITABLE_NODE saying which filter left
 * no node.
 */
export function place (cluster: ClusterState, request: PlacementRequest, options: PlaceOptions): EngineNode {
  let candidates = cluster.nodes.filter((node) => node.health === 'healthy')
  if (candidates.length === 0) {
    throw noSuitableNode(cluster.nodes.length === 0 ? 'No node available in the cluster' : `No healthy node available in the cluster (${nameList(cluster.nodes)} unhealthy)`)
  }
  for (const rule of request.filters) {
    const matches = patternMatcher(rule.value)
    const kept = candidates.filter((node) => ruleHolds(rule, matches, node, cluster))
    if (kept.length > 0) {
      candidates = kept
      continue
    }
    if (rule.soft) continue
    throw unsatisfied(rule.text, candidates)
  }
  if (request.dependencies.length > 0) {
    const holders = new Set<EngineNode>()
    for (const dependency of request.dependencies) {
      const container = cluster.lookup(dependency.ref)
      if (container === undefined) throw noSuitableNode(`Unable to find a node fulfilling all dependencies: ${dependencyText(request.dependencies)} (no container ${dependency.ref})`)
      holders.add(container.node)
    }
    const kept = candidates.filter((node) => holders.has(node))
    if (holders.size > 1 || kept.length === 0) {
      throw noSuitableNode(`Unable to find a node fulfilling all dependencies: ${dependencyText(request.dependencies)} (they are on ${[...holders].map((node) => node.name).join(', ')})`)
    }
    candidates = kept
  }
  for (const network of request.networks ?? []) {
    const kept = candidates.filter((node) => node.hasNetwork(network))
    if (kept.length === 0) throw unsatisfied(`network ${network}`, candidates)
    candidates = kept
  }
  if (request.hostPorts.length > 0) {
    const kept = candidates.filter((node) => request.hostPorts.every((port) => !node.hostPorts.has(port)))
    if (kept.length === 0) {
      const ports = request.hostPorts.map((port) => `port ${port.split('/')[1] ?? port} (${request.hostMode ? 'Host' : 'Bridge'} mode)`).join('] [')
      throw unsatisfied(ports, candidates)
    }
    candidates = kept
  }
  const { cpus, memory } = request.reservation
  const fitting: EngineNode[] = []
  let slotsFull = 0
  for (const node of candidates) {
    const facts = node.facts
    const slots = Number(facts?.labels.containerslots ?? Number.NaN)
    if (Number.isFinite(slots) && node.load >= slots) { slotsFull++; continue }
    if (cpus > 0 && node.reserved.cpus + node.pending.cpus + cpus > (facts?.ncpu ?? 0) + 1e-9) continue
    if (memory > 0 && node.reserved.memory + node.pending.memory + memory > (facts?.memTotal ?? 0)) continue
    fitting.push(node)
  }
  if (fitting.length === 0) {
    if (slotsFull === candidates.length) throw unsatisfied('available container slots', candidates)
    throw noSuitableNode(`no resources available to schedule container (requested ${cpus} CPUs and ${memory} bytes of memory; none of ${nameList(candidates)} has room)`)
  }
  let ranked = fitting
  if (request.image !== '') {
    const withImage = fitting.filter((node) => node.hasImage(request.image))
    if (withImage.length > 0) ranked = withImage
  }
  return choose(ranked, request.reservation, options)
}

function dependencyText (dependencies: readonly Dependency[]): string {
  return dependencies.map((dependency) => `${dependency.flag}=${dependency.ref}`).join(' ')
}

function weight (node: EngineNode, reservation: Reservation): number {
  const facts = node.facts
  const cpu = facts !== undefined && facts.ncpu > 0 ? (node.reserved.cpus + node.pending.cpus + reservation.cpus) / facts.ncpu : 0
  const memory = facts !== undefined && facts.memTotal > 0 ? (node.reserved.memory + node.pending.memory + reservation.memory) / facts.memTotal : 0
  return (cpu + memory) * 100
}

function choose (nodes: readonly EngineNode[], reservation: Reservation, options: PlaceOptions): EngineNode {
  if (options.strategy === 'random') {
    return nodes[Math.floor((options.random ?? Math.random)() * nodes.length)] ?? (nodes[0] as EngineNode)
  }
  const sign = options.strategy === 'binpack' ? -1 : 1
  let best = nodes[0] as EngineNode
  let bestWeight = weight(best, reservation)
  for (let index = 1; index < nodes.length; index++) {
    const node = nodes[index] as EngineNode
    const nodeWeight = weight(node, reservation)
    const delta = sign * (nodeWeight - bestWeight)
    if (delta < -1e-9 || (Math.abs(delta) <= 1e-9 && sign * (node.load - best.load) < 0)) {
      best = node
      bestWeight = nodeWeight
    }
  }
  return best
}

/** Image references equal after normalisation (`busybox` and `busybox:latest`). */
export function sameImage (a: string, b: string): boolean {
  return normalizeImageRef(a) === normalizeImageRef(b)
}
