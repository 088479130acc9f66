import { ErrorCode, SwarmError } from '@libswarm/core'
import { compileClientRegex, filterMatcher } from '@libswarm/docker-api'
import { normalizeImageRef } from './container-view.js'
import type { CachedContainer } from './engine-node.js'
import type { ClusterState } from './cluster-state.js'

/** Filters `docker ps` applies from the cache; any other valid filter is passed to the nodes. */
const CACHED = new Set(['id', 'name', 'label', 'status', 'ancestor', 'exited', 'health', 'node', 'before', 'since', 'network', 'volume', 'is-task'])
/** Filters the engine knows and aggregate leaves to it. */
const PASSED = new Set(['publish', 'expose'])
const STATUSES = new Set(['created', 'restarting', 'running', 'removing', 'paused', 'exited', 'dead'])

/** True when every filter can be answered from the cache. */
export function cacheAnswers (filters: Record<string, string[]>): boolean {
  for (const key of Object.keys(filters)) {
    if (PASSED.has(key)) return false
    if (!CACHED.has(key)) throw new SwarmError(ErrorCode.BadRequest, `invalid filter '${key}'`)
  }
  return true
}

function globSource (pattern: string): string {
  return `^${pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`
}

const NEVER = (): boolean => false

/**
 * A node or placement pattern, compiled once for every value it is tried on (one request's
 * nodes, containers or images): a glob (`node-*`), a `/regex/` (Go's RE2 syntax, linear in
 * time), or a plain value, all compared without regard to case. A `/regex/` that does not
 * compile matches nothing.
 */
export function patternMatcher (pattern: string): (value: string) => boolean {
  const regex = pattern.length > 2 && pattern.startsWith('/') && pattern.endsWith('/')
  if (regex || pattern.includes('*') || pattern.includes('?')) {
    try {
      return compileClientRegex(regex ? pattern.slice(1, -1) : globSource(pattern), { ignoreCase: true }).test
    } catch {
      return NEVER
    }
  }
  const lower = pattern.toLowerCase()
  return (value) => lower === value.toLowerCase()
}

/**
 * The `node` filter of one request, compiled once: a node passes when one of the values matches
 * its name (see {@link patternMatcher}) or is its engine id. `undefined` when there is no filter.
 */
export function nodeMatcher (values: readonly string[] | undefined): ((node: { readonly name: string, readonly facts?: { readonly id: string } | undefined }) => boolean) | undefined {
  if (values === undefined || values.length === 0) return undefined
  const patterns = values.map((value) => ({ value, matches: patternMatcher(value) }))
  // asked once per container: remembered per node, as a node's name and id do not change within a request
  const known = new Map<string, boolean>()
  return (node) => {
    const key = `${node.name}\u0000${node.facts?.id ?? ''}`
    let passes = known.get(key)
    if (passes === undefined) {
      passes = patterns.some(({ value, matches }) => matches(node.name) || node.facts?.id === value)
      known.set(key, passes)
    }
    return passes
  }
}

/**
 * A predicate for the `docker ps` filters, evaluated on cached containers. `before` and
 * `since` name containers, resolved once here.
 */
export function containerPredicate (filters: Record<string, string[]>, cluster: ClusterState): (container: CachedContainer) => boolean {
  const checks: Array<(container: CachedContainer) => boolean> = []
  const any = (values: string[] | undefined, test: (value: string, container: CachedContainer) => boolean): void => {
    if (values === undefined || values.length === 0) return
    checks.push((container) => values.some((value) => test(value, container)))
  }
  any(filters.id, (value, c) => c.id.startsWith(value))
  if (filters.name !== undefined && filters.name.length > 0) {
    // as the engine: each name with and without its slash, and here with and without its node too
    const names = filterMatcher(filters.name)
    checks.push((c) => names(`/${c.node.name}/${c.name}`) || names(`${c.node.name}/${c.name}`) || names(`/${c.name}`) || names(c.name))
  }
  const nodes = nodeMatcher(filters.node)
  if (nodes !== undefined) checks.push((c) => nodes(c.node))
  for (const status of filters.status ?? []) {
    if (!STATUSES.has(status)) throw new SwarmError(ErrorCode.BadRequest, `invalid filter 'status=${status}'`)
  }
  any(filters.status, (value, c) => c.summary.State === value)
  any(filters.exited, (value, c) => c.summary.State === 'exited' && String(c.state.ExitCode ?? 0) === value)
  any(filters.health, (value, c) => (c.state.Health?.Status ?? 'none') === value)
  any(filters['is-task'], (value, c) => ('com.docker.swarm.task' in c.summary.Labels) === (value === 'true'))
  const labels = filters.label
  if (labels !== undefined && labels.length > 0) {
    // every label filter must hold (the engine ANDs them)
    checks.push((c) => labels.every((label) => {
      const at = label.indexOf('=')
      if (at < 0) return label in c.summary.Labels
      return c.summary.Labels[label.slice(0, at)] === label.slice(at + 1)
    }))
  }
  any(filters.ancestor, (value, c) => {
    if (c.summary.ImageID.startsWith(value) || c.summary.ImageID === `sha256:${value}`) return true
    return normalizeImageRef(c.summary.Image) === normalizeImageRef(value) || c.summary.Image === value
  })
  any(filters.network, (value, c) => Object.entries(c.summary.NetworkSettings.Networks).some(([name, network]) =>
    name === value || ((network as { NetworkID?: string }).NetworkID ?? '').startsWith(value)))
  any(filters.volume, (value, c) => (c.summary.Mounts as Array<{ Name?: string, Source?: string, Destination?: string }>).some((mount) =>
    mount.Name === value || mount.Source === value || mount.Destination === value))
  const before = filters.before?.[0]
  if (before !== undefined) {
    const created = cluster.find(before).created
    checks.push((c) => c.created < created)
  }
  const since = filters.since?.[0]
  if (since !== undefined) {
    const created = cluster.find(since).created
    checks.push((c) => c.created > created)
  }
  return (container) => {
    for (const check of checks) if (!check(container)) return false
    return true
  }
}
