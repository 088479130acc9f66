import { silentLogger, type Logger, type Sender, type ServiceInstance } from '@libswarm/core'
import { callDocker, replyBody } from './docker-call.js'
import type { MesosAttribute } from './mesos-types.js'
import { attributeText } from './mesos-types.js'

/** An agent as offers describe it. */
export interface AgentIdentity {
  hostname: string
  attributes?: MesosAttribute[] | undefined
}

interface Child {
  spec: string
  address: string
  engine: ServiceInstance
  names?: Set<string>
}

/** Options of {@link AgentEngines}. */
export interface AgentEnginesOptions {
  /** Child specs (`dockerclient ADDRESS ...`). */
  children: string[]
  /** Match by this attribute instead of the hostname. */
  agentAttribute?: string | undefined
  /** Without children: the engine port, and the dockerclient TLS flags. */
  enginePort?: number | undefined
  engineTls?: string[] | undefined
  spawn: (spec: string) => Promise<ServiceInstance>
  log?: Logger | undefined
}

/**
 * The Docker engine of each Mesos agent: one of the children, matched by the agent's hostname
 * (or the `--agent-attribute` value) against the engine's own name (`docker info` Name), its
 * address or its address' host; without children, a `dockerclient tcp://HOSTNAME:PORT` spawned
 * on first use, as Classic Swarm's Mesos driver reached each agent's engine.
 */
export class AgentEngines {
  private readonly children: Child[] = []
  private readonly spawned = new Map<string, Promise<ServiceInstance>>()
  private readonly log: Logger

  constructor (private readonly options: AgentEnginesOptions) {
    this.log = options.log ?? silentLogger
  }

  /** Spawns the children and learns their engines' names (an engine down now is asked again later). */
  async start (): Promise<void> {
    for (const spec of this.options.children) {
      const engine = await this.options.spawn(spec)
      const address = spec.trim().split(/\s+/)[1] ?? ''
      this.children.push({ spec, address, engine })
    }
    await Promise.all(this.children.map(async (child) => { await this.learn(child) }))
  }

  private async learn (child: Child): Promise<void> {
    if (child.names !== undefined) return
    try {
      const info = replyBody<{ Name?: string }>(await callDocker(child.engine, { operation: 'SystemInfo', target: '' }, { timeoutMs: 5000 }))
      const names = new Set([child.address])
      if (info.Name !== undefined) names.add(info.Name)
      try { names.add(new URL(child.address).hostname) } catch {}
      child.names = names
    } catch (error) {
      this.log.warn('agent engine not reachable yet', { child: child.spec, error: (error as Error).message })
    }
  }

  /** The key an agent is matched by. */
  key (agent: AgentIdentity): string {
    const name = this.options.agentAttribute
    if (name === undefined) return agent.hostname
    const attribute = agent.attributes?.find((each) => each.name === name)
    return attribute === undefined ? agent.hostname : attributeText(attribute)
  }

  /** The engine of an agent; throws UNAVAILABLE-style errors with the reason when none matches. */
  async engineFor (agent: AgentIdentity): Promise<Sender> {
    const key = this.key(agent)
    if (this.children.length > 0) {
      await Promise.all(this.children.map(async (child) => { await this.learn(child) }))
      const child = this.children.find((each) => each.names?.has(key) === true)
      if (child === undefined) throw new Error(`no child engine matches agent ${agent.hostname} (${this.options.agentAttribute ?? 'hostname'} ${JSON.stringify(key)})`)
      return child.engine
    }
    const address = key.includes('://') ? key : `tcp://${key}:${this.options.enginePort ?? ((this.options.engineTls ?? []).length > 0 ? 2376 : 2375)}`
    let engine = this.spawned.get(address)
    if (engine === undefined) {
      engine = this.options.spawn(['dockerclient', address, ...(this.options.engineTls ?? [])].map((part) => part.includes(' ') ? JSON.stringify(part) : part).join(' '))
      this.spawned.set(address, engine)
      engine.catch(() => { this.spawned.delete(address) })
    }
    return await engine
  }

  async close (): Promise<void> {
    await Promise.allSettled([
      ...this.children.map(async (child) => { await child.engine.close() }),
      ...[...this.spawned.values()].map(async (engine) => { await (await engine).close() })
    ])
  }
}
