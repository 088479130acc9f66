import { randomBytes } from 'node:crypto'
import { ErrorCode, SwarmError, toSwarmError, type Logger } from '@libswarm/core'
import type { DockerRequest } from '@libswarm/docker-api'
import { callDocker } from './child-call.js'
import type { ContainerInspect } from './container-view.js'
import type { CachedContainer, EngineEvent, EngineNode } from './engine-node.js'

/** The label under which a container keeps its reschedule policy, as classic Swarm did (`["on-node-failure"]`). */
export const RESCHEDULE_LABEL = 'com.docker.swarm.reschedule-policies'
/** The label that names a container across its copies, so a stale copy is known when its node returns. */
export const SWARM_ID_LABEL = 'com.docker.swarm.id'

const POLICIES = new Set(['off', 'on-node-failure'])
const BUILTIN_NETWORKS = new Set(['bridge', 'default', 'host', 'none'])

/** True when a container's labels ask for it to be rescheduled when its node fails. */
export function reschedulesOnFailure (labels: Record<string, string> | null | undefined): boolean {
  const text = labels?.[RESCHEDULE_LABEL]
  if (text === undefined) return false
  try {
    const policies = JSON.parse(text) as unknown
    return Array.isArray(policies) && policies.includes('on-node-failure')
  } catch {
    return false
  }
}

/**
 * Takes `reschedule:POLICY` out of a create body's Env and keeps it in the `com.docker.swarm.reschedule-policies`
 * label, as classic Swarm did; refuses more than one policy, or one other than `off` and `on-node-failure`. A
 * container to reschedule gets a `com.docker.swarm.id` label.
 */
export function takeReschedulePolicy (body: { Env?: string[] | null, Labels?: Record<string, string> | null }): void {
  const fromEnv = (body.Env ?? []).filter((entry) => entry.startsWith('reschedule:')).map((entry) => entry.slice('reschedule:'.length))
  let fromLabel: unknown = []
  const label = body.Labels?.[RESCHEDULE_LABEL]
  if (label !== undefined) {
    try {
      fromLabel = JSON.parse(label)
    } catch {}
    if (!Array.isArray(fromLabel) || !fromLabel.every((policy) => typeof policy === 'string')) {
      throw new SwarmError(ErrorCode.BadRequest, `label ${RESCHEDULE_LABEL} is not a JSON array of strings`)
    }
  }
  if (fromEnv.length === 0 && label === undefined) return
  const policies = [...new Set([...(fromLabel as string[]), ...fromEnv])]
  if (policies.length > 1) throw new SwarmError(ErrorCode.BadRequest, 'too many reschedule policies')
  const policy = policies[0] as string
  if (!POLICIES.has(policy)) throw new SwarmError(ErrorCode.BadRequest, `invalid reschedule policy: ${policy}`)
  if (fromEnv.length > 0) body.Env = (body.Env ?? []).filter((entry) => !entry.startsWith('reschedule:'))
  const labels: Record<string, string> = { ...(body.Labels ?? {}), [RESCHEDULE_LABEL]: JSON.stringify(policies) }
  if (policy === 'on-node-failure') labels[SWARM_ID_LABEL] ??= randomBytes(32).toString('hex')
  body.Labels = labels
}

/** What the rescheduler needs from aggregate. */
export interface RescheduleHost {
  /** Places and creates a container as a client's create would (filters read from its labels); its id and node. */
  create: (request: DockerRequest) => Promise<{ id: string, node: EngineNode }>
  /** Every cached container, on every node. */
  containers: () => Iterable<CachedContainer>
  /** Hands an event to the merged stream, as coming from `node`. */
  publish: (node: EngineNode, event: EngineEvent) => void
  readonly log: Logger
}

/** The create body that makes a container again from its inspect: same config, host config and user networks. */
function createBodyOf (inspect: ContainerInspect): Record<string, unknown> {
  const config = { ...(inspect.Config as Record<string, unknown> | undefined) }
  // the engine's default hostname is the old container's short id
  if (typeof config.Hostname === 'string' && inspect.Id.startsWith(config.Hostname)) delete config.Hostname
  const endpoints: Record<string, unknown> = {}
  const networks = (inspect.NetworkSettings?.Networks ?? {}) as Record<string, { Aliases?: string[] | null, IPAMConfig?: unknown, Links?: string[] | null }>
  for (const [name, endpoint] of Object.entries(networks)) {
    if (BUILTIN_NETWORKS.has(name)) continue
    endpoints[name] = { Aliases: (endpoint.Aliases ?? []).filter((alias) => !inspect.Id.startsWith(alias)), Links: endpoint.Links ?? null }
  }
  return { ...config, HostConfig: inspect.HostConfig, NetworkingConfig: { EndpointsConfig: endpoints } }
}

function swarmEvent (action: string, node: EngineNode, attributes: Record<string, string>, id = ''): EngineEvent {
  const now = Date.now()
  return { Type: 'container', Action: action, status: action, id, from: 'swarm', Actor: { ID: id, Attributes: attributes }, scope: 'local', time: Math.floor(now / 1000), timeNano: now * 1e6 }
}

/**
 * Classic Swarm's rescheduling: when a node fails, each of its containers whose policy is `on-node-failure`
 * is created again (same name, configuration, labels and so constraints) on a node the strategy picks, and
 * started if it was running; when the failed node returns, the stale copies there are removed. One node's work
 * at a time, in the order the nodes failed or came back.
 */
export class Rescheduler {
  private work: Promise<void> = Promise.resolve()

  constructor (private readonly host: RescheduleHost) {}

  /** Called with every `engine_disconnect`, `engine_connect` and `engine_reconnect`. */
  nodeChanged (node: EngineNode, action: string): void {
    const job = action === 'engine_disconnect' ? async () => { await this.rescheduleFrom(node) } : async () => { await this.removeStale(node) }
    this.work = this.work.then(job).catch((error: unknown) => { this.host.log.warn('rescheduling failed', { node: node.name, error: toSwarmError(error).message }) })
  }

  /** Waits for the work asked so far (tests). */
  async settled (): Promise<void> { await this.work }

  private async rescheduleFrom (failed: EngineNode): Promise<void> {
    const back = (): boolean => failed.health === 'healthy'
    for (const container of [...failed.containers.values()]) {
      const inspect = container.inspect
      if (inspect === undefined) continue
      // back already: nothing to move
      if (back()) return
      // out of the cache first: its name must be free for the new copy
      failed.forget(container.id)
      try {
        const { id, node } = await this.host.create({ operation: 'ContainerCreate', target: '', query: { name: container.name }, body: createBodyOf(inspect) })
        if (inspect.State?.Running === true) {
          await callDocker(node.child, { operation: 'ContainerStart', target: id }, { timeoutMs: 60_000, signal: node.signal })
          await node.refreshContainer(id).catch(() => {})
        }
        this.host.log.info('rescheduled container', { container: container.name, from: failed.name, to: node.name, id })
        this.host.publish(node, swarmEvent('reschedule', node, { name: container.name, image: String(inspect.Config?.Image ?? ''), 'old.id': container.id, 'old.node': failed.name }, id))
      } catch (error) {
        // kept in the cache as it was (Host Down), to be tried again when the node fails next
        if (!back() && !failed.containers.has(container.id)) failed.remember(inspect)
        const reason = toSwarmError(error).message
        this.host.log.warn('could not reschedule container', { container: container.name, from: failed.name, error: reason })
        this.host.publish(failed, swarmEvent('reschedule-failed', failed, { name: container.name, error: reason }, container.id))
      }
    }
  }

  private async removeStale (back: EngineNode): Promise<void> {
    const local = new Map<string, CachedContainer>()
    for (const container of back.containers.values()) {
      const swarmId = container.summary.Labels[SWARM_ID_LABEL]
      if (swarmId !== undefined) local.set(swarmId, container)
    }
    if (local.size === 0) return
    for (const other of this.host.containers()) {
      const stale = other.node === back ? undefined : local.get(other.summary.Labels[SWARM_ID_LABEL] ?? '')
      if (stale === undefined) continue
      local.delete(other.summary.Labels[SWARM_ID_LABEL] ?? '')
      try {
        await callDocker(back.child, { operation: 'ContainerDelete', target: stale.id, query: { force: '1' } }, { timeoutMs: 60_000, signal: back.signal })
        back.forget(stale.id)
        this.host.log.info('removed a rescheduled container\'s stale copy', { container: stale.name, node: back.name, now: other.node.name })
      } catch (error) {
        this.host.log.warn('could not remove a stale copy', { container: stale.name, node: back.name, error: toSwarmError(error).message })
      }
    }
  }
}
