import { bytesSize, clusterSystemInfo, clusterSystemVersion } from '@libswarm/docker-api'
import type { ClusterState } from './cluster-state.js'
import type { EngineNode } from './engine-node.js'
import type { Strategy } from './placement.js'

/** The filters aggregate applies, in order, as `docker info` lists them. */
export const FILTER_NAMES = ['health', 'constraint', 'affinity', 'dependency', 'network', 'port', 'resources']

function cpuText (value: number): string {
  return Number.isInteger(value) ? String(value) : String(Number(value.toFixed(2)))
}

function healthText (node: EngineNode): string {
  if (node.health === 'healthy') return 'Healthy'
  if (node.health === 'pending') return 'Pending'
  return 'Unhealthy'
}

/**
 * The `[key, value]` lines classic Swarm (1.2) showed for one node: its labels sorted, with the
 * engine's own facts among them; the container counts by state only while it is healthy; `Error`
 * only when there is one; `UpdatedAt` in RFC 3339 to the second.
 */
export function nodeLines (node: EngineNode): Array<[string, string]> {
  const facts = node.facts
  const labels = facts === undefined
    ? ''
    : Object.entries({ ...facts.labels, storagedriver: facts.storageDriver, kernelversion: facts.kernelVersion, operatingsystem: facts.operatingSystem, ostype: facts.osType })
      .filter(([, value]) => value !== '').map(([key, value]) => `${key}=${value}`).sort().join(', ')
  const { running, paused, stopped } = node.counts
  const lines: Array<[string, string]> = [
    [` ${node.name}`, node.addr],
    ['  └ ID', facts?.id ?? ''],
    ['  └ Status', healthText(node)],
    ['  └ Containers', node.health === 'healthy' ? `${node.containers.size} (${running} Running, ${paused} Paused, ${stopped} Stopped)` : String(node.containers.size)],
    ['  └ Reserved CPUs', `${cpuText(node.reserved.cpus + node.pending.cpus)} / ${facts?.ncpu ?? 0}`],
    ['  └ Reserved Memory', `${bytesSize(node.reserved.memory + node.pending.memory)} / ${bytesSize(facts?.memTotal ?? 0)}`],
    ['  └ Labels', labels]
  ]
  if (node.lastError !== undefined && node.lastError !== '') lines.push(['  └ Error', node.lastError])
  lines.push(['  └ UpdatedAt', node.updatedAt.toISOString().replace(/\.\d+Z$/, 'Z')], ['  └ ServerVersion', facts?.serverVersion ?? ''])
  return lines
}

/** Options of {@link clusterInfo}. */
export interface ClusterInfoOptions {
  id: string
  name: string
  strategy: Strategy
  version: string
}

/**
 * The SystemInfo of the whole cluster: counts, CPUs and memory summed over the healthy
 * nodes, and each node's lines in SystemStatus, which both docker CLIs print.
 */
export function clusterInfo (cluster: ClusterState, options: ClusterInfoOptions): Record<string, unknown> {
  let running = 0
  let paused = 0
  let stopped = 0
  let images = 0
  let ncpu = 0
  let memTotal = 0
  const status: Array<[string, string]> = [
    ['Role', 'primary'],
    ['Strategy', options.strategy],
    ['Filters', FILTER_NAMES.join(', ')],
    ['Nodes', String(cluster.nodes.length)]
  ]
  let kernelVersion = ''
  let operatingSystem = ''
  for (const node of cluster.nodes) {
    status.push(...nodeLines(node))
    if (node.health !== 'healthy' || node.facts === undefined) continue
    running += node.counts.running
    paused += node.counts.paused
    stopped += node.counts.stopped
    images += node.facts.images
    ncpu += node.facts.ncpu
    memTotal += node.facts.memTotal
    kernelVersion ||= node.facts.kernelVersion
    operatingSystem ||= node.facts.operatingSystem
  }
  return clusterSystemInfo({
    id: options.id,
    name: options.name,
    serverVersion: options.version,
    running,
    paused,
    stopped,
    images,
    systemStatus: status,
    kernelVersion,
    operatingSystem,
    ncpu,
    memTotal
  })
}

/** Compares API versions such as `1.41` and `1.9`. */
export function compareApiVersions (a: string, b: string): number {
  const [aMajor = 0, aMinor = 0] = a.split('.').map(Number)
  const [bMajor = 0, bMinor = 0] = b.split('.').map(Number)
  return aMajor - bMajor || aMinor - bMinor
}

/** The API version the cluster speaks: the lowest of its healthy nodes' (or of all nodes', if none is healthy). */
export function clusterApiVersion (cluster: ClusterState): string | undefined {
  let lowest: string | undefined
  const healthy = cluster.nodes.some((node) => node.health === 'healthy')
  for (const node of cluster.nodes) {
    if (healthy && node.health !== 'healthy') continue
    const version = node.facts?.apiVersion
    if (version === undefined || version === '') continue
    if (lowest === undefined || compareApiVersions(version, lowest) < 0) lowest = version
  }
  return lowest
}

/** The SystemVersion of the cluster. */
export function clusterVersion (cluster: ClusterState, version: string): Record<string, unknown> {
  const apiVersion = clusterApiVersion(cluster) ?? '1.41'
  let minApiVersion = '1.12'
  let kernelVersion = ''
  const components: Array<Record<string, unknown>> = [{ Name: 'aggregate', Version: version, Details: { ApiVersion: apiVersion } }]
  for (const node of cluster.nodes) {
    const facts = node.facts
    if (facts === undefined || node.health !== 'healthy') continue
    if (facts.minApiVersion !== '' && compareApiVersions(facts.minApiVersion, minApiVersion) > 0) minApiVersion = facts.minApiVersion
    kernelVersion ||= facts.kernelVersion
    if (components.length <= 16) components.push({ Name: `Engine ${node.name}`, Version: facts.serverVersion, Details: { ApiVersion: facts.apiVersion } })
  }
  return clusterSystemVersion({
    platform: 'libswarm aggregate',
    components,
    version: `libswarm/${version}`,
    apiVersion,
    minApiVersion,
    kernelVersion
  })
}
