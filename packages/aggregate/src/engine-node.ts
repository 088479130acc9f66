import { ErrorCode, SwarmError, isSwarmError, toSwarmError, type Logger, type Sender } from '@libswarm/core'
import { bodyJson, callDocker, jsonObjects } from './child-call.js'
import {
  hostPortsOf, normalizeImageRef, phaseOf, reservationOf, stateTimes, summaryBase,
  type ContainerInspect, type ContainerPhase, type Reservation, type StateTimes, type SummaryBase
} from './container-view.js'
import { reschedulesOnFailure } from './reschedule.js'

/** A node's health: `pending` until it first answers, then `healthy` or `unhealthy`. */
export type NodeHealth = 'pending' | 'healthy' | 'unhealthy'

/** One container as the cache holds it. */
export interface CachedContainer {
  readonly id: string
  readonly node: EngineNode
  /** The name without its leading slash. */
  readonly name: string
  /** The inspect's State. (The whole inspect is not kept: ~4.5 KB a container; `docker inspect` asks the node.) */
  readonly state: NonNullable<ContainerInspect['State']>
  /** The inspect's Created (RFC 3339 text, finer than the summary's seconds). */
  readonly created: string
  readonly summary: SummaryBase
  /** The summary as JSON, less its closing brace: a listing appends Names and Status to it. */
  readonly summaryJson: string
  readonly times: StateTimes
  readonly phase: ContainerPhase
  readonly reservation: Reservation
  /** Host ports it binds (whether running or not). */
  readonly hostPorts: readonly string[]
  /** The whole inspect, kept only for a container to reschedule on node failure (it is made again from it). */
  readonly inspect: ContainerInspect | undefined
}

/** What the cache tells the cluster about each change, so it can keep its indexes. */
export interface ContainerIndex {
  added (container: CachedContainer): void
  removed (container: CachedContainer): void
}

/** What an engine's SystemInfo and SystemVersion told aggregate. */
export interface EngineFacts {
  id: string
  name: string
  ncpu: number
  memTotal: number
  labels: Record<string, string>
  serverVersion: string
  apiVersion: string
  minApiVersion: string
  kernelVersion: string
  operatingSystem: string
  storageDriver: string
  osType: string
  images: number
}

/** Timings of a node's health checks and refreshes. */
export interface NodeTimings {
  refreshIntervalMs: number
  healthTimeoutMs: number
  pingIntervalMs: number
  /** Consecutive failed pings (or refreshes) before the node counts as unhealthy. */
  healthRetries: number
  maxBackoffMs: number
}

/** An event as the engine sent it. */
export interface EngineEvent {
  Type?: string
  Action?: string
  status?: string
  id?: string
  from?: string
  Actor?: { ID?: string, Attributes?: Record<string, string> }
  time?: number
  timeNano?: number
  [key: string]: unknown
}

interface ImageSummary { Id?: string, RepoTags?: string[] | null, RepoDigests?: string[] | null }

const STATE_CHANGES = new Set(['create', 'start', 'restart', 'die', 'stop', 'kill', 'pause', 'unpause', 'rename', 'update', 'oom', 'health_status'])
const IMAGE_CHANGES = new Set(['pull', 'tag', 'untag', 'delete', 'import', 'load', 'save'])
const INSPECT_CONCURRENCY = 8
/** Calls that list or inspect may take this long even when the health timeout is shorter. */
const SYNC_TIMEOUT_MS = 10_000
/** A periodic refresh lists a node's containers only when its `info` counts disagree with the cache, and at every this many refreshes. */
const LIST_EVERY_REFRESHES = 10

/** `ms` give or take 10 %, so nodes that started together drift apart. */
function jittered (ms: number): number {
  return ms * (0.9 + 0.2 * Math.random())
}

/**
 * One engine behind aggregate: its child service, its health, and its slice of the
 * state cache (containers by id, image references, reservations and host ports),
 * kept current by the engine's event stream and a periodic resynchronisation.
 */
export class EngineNode {
  name: string
  health: NodeHealth = 'pending'
  lastError: string | undefined
  updatedAt = new Date(0)
  facts: EngineFacts | undefined
  readonly containers = new Map<string, CachedContainer>()
  private imageRefs = new Set<string>()
  private networkNames = new Set<string>()
  private networkRefresh: Promise<void> | undefined
  private networkRefreshAgain = false
  readonly counts = { running: 0, paused: 0, stopped: 0 }
  readonly reserved: Reservation = { cpus: 0, memory: 0 }
  /** Host ports bound by containers and by creates still in flight, with how many hold each. */
  readonly hostPorts = new Map<string, number>()
  readonly pending = { cpus: 0, memory: 0, containers: 0 }
  private readonly refreshing = new Map<string, { again: boolean, done: Promise<void> }>()
  private imageRefresh: Promise<void> | undefined
  private imageRefreshAgain = false
  private cycle: AbortController | undefined
  private timer: NodeJS.Timeout | undefined
  private pingTimer: NodeJS.Timeout | undefined
  private refreshTimer: NodeJS.Timeout | undefined
  private failures = 0
  private refreshes = 0
  /** Failed pings or refreshes in a row since the last answer. */
  private misses = 0
  private closed = false
  private connecting: Promise<void> | undefined

  constructor (
    readonly index: number,
    readonly spec: string,
    readonly child: Sender,
    readonly addr: string,
    readonly configuredName: string | undefined,
    private readonly timings: NodeTimings,
    private readonly index_: ContainerIndex,
    private readonly onEvent: (node: EngineNode, event: EngineEvent) => void,
    private readonly nameFor: (node: EngineNode, engineName: string) => string,
    private readonly log: Logger
  ) {
    this.name = configuredName ?? addr
  }

  /** Aborted when the node turns unhealthy or closes: requests to it pass this so they stop waiting then. */
  get signal (): AbortSignal | undefined {
    return this.cycle?.signal
  }

  /** Total containers, with creates in flight. */
  get load (): number { return this.containers.size + this.pending.containers }

  /** True when the node holds `ref` (a tag such as `busybox` or an image id). */
  hasImage (ref: string): boolean {
    return this.imageRefs.has(normalizeImageRef(ref)) || (ref.startsWith('sha256:') && this.imageRefs.has(ref))
  }

  /** True when the node has a network of that name or id. */
  hasNetwork (ref: string): boolean {
    return this.networkNames.has(ref)
  }

  /** Every image reference the node holds (normalised tags, digests and ids). */
  imageReferences (): Iterable<string> { return this.imageRefs }

  /** Connects, and keeps trying with exponential backoff until it succeeds or the node closes. */
  start (): Promise<void> {
    this.connecting ??= this.connect()
    return this.connecting
  }

  private async connect (): Promise<void> {
    this.cycle?.abort()
    const cycle = new AbortController()
    this.cycle = cycle
    let watching: AsyncIterable<Uint8Array> | undefined
    try {
      await this.refreshFacts(cycle.signal, this.connectTimeoutMs)
      watching = await this.openEvents(cycle.signal)
      // the cache outlives an unhealthy spell: a node that rejoins only has its changes inspected,
      // so a cluster-wide flap does not turn into an inspect of every container at once
      await this.resync(cycle.signal, false)
      if (cycle.signal.aborted) {
        void watching[Symbol.asyncIterator]().return?.()?.catch(() => {})
        return
      }
      this.failures = 0
      this.lastError = undefined
      const rejoined = this.health === 'unhealthy'
      this.health = 'healthy'
      this.updatedAt = new Date()
      if (rejoined) this.log.info('node rejoined', { node: this.name })
      this.engineEvent(rejoined ? 'engine_reconnect' : 'engine_connect')
      void this.consumeEvents(watching, cycle)
      this.schedule(cycle)
    } catch (error) {
      // an event stream opened before the failure would otherwise hold its connection
      if (watching !== undefined) void watching[Symbol.asyncIterator]().return?.()?.catch(() => {})
      if (cycle.signal.aborted) return
      this.fail(cycle, error)
    } finally {
      this.connecting = undefined
    }
  }

  private fail (cycle: AbortController, error: unknown): void {
    if (this.closed || this.cycle !== cycle) return
    cycle.abort()
    const text = toSwarmError(error).message
    if (this.health !== 'unhealthy') this.log.warn('node unhealthy', { node: this.name, error: text })
    const wasHealthy = this.health === 'healthy'
    this.health = 'unhealthy'
    this.lastError = text
    if (wasHealthy) this.engineEvent('engine_disconnect')
    this.failures++
    // jittered too, so nodes that failed together do not all come back in the same instant
    const delay = jittered(Math.min(this.timings.maxBackoffMs, 1000 * 2 ** Math.min(this.failures - 1, 16)))
    clearTimeout(this.timer)
    clearTimeout(this.pingTimer)
    clearTimeout(this.refreshTimer)
    this.timer = setTimeout(() => { void this.start() }, delay)
    this.timer.unref?.()
  }

  /** How long the calls of a (re)connection may take: as long as the pings that would fail the node. */
  private get connectTimeoutMs (): number {
    return this.timings.healthTimeoutMs * Math.max(1, this.timings.healthRetries)
  }

  /**
   * Starts the ping and refresh timers, each at a random phase (and later intervals
   * jittered), so a thousand nodes connected at once do not ping and resync in one burst.
   */
  private schedule (cycle: AbortController): void {
    if (this.closed || cycle.signal.aborted) return
    this.misses = 0
    clearTimeout(this.pingTimer)
    clearTimeout(this.refreshTimer)
    this.pingTimer = this.later(Math.random() * this.timings.pingIntervalMs, async () => { await this.ping(cycle) })
    this.refreshTimer = this.later(Math.random() * this.timings.refreshIntervalMs, async () => { await this.refresh(cycle) })
  }

  private later (delay: number, run: () => Promise<void>): NodeJS.Timeout {
    const timer = setTimeout(() => { void run() }, delay)
    timer.unref?.()
    return timer
  }

  private async ping (cycle: AbortController): Promise<void> {
    if (cycle.signal.aborted) return
    let delay = jittered(this.timings.pingIntervalMs)
    // a node heard from within the interval (an event, a refresh, an inspect) is not pinged
    const silentMs = Date.now() - this.updatedAt.getTime()
    if (this.misses === 0 && silentMs < this.timings.pingIntervalMs) {
      // a whole interval later, so that each node keeps its own phase
      this.pingTimer = this.later(delay, async () => { await this.ping(cycle) })
      return
    }
    try {
      await callDocker(this.child, { operation: 'SystemPing', target: '' }, { signal: cycle.signal, timeoutMs: this.timings.healthTimeoutMs })
      this.answered()
    } catch (error) {
      if (cycle.signal.aborted || this.missed(cycle, error)) return
      // ask again at once: a node that stopped answering is dropped after healthRetries timeouts
      delay = 0
    }
    if (cycle.signal.aborted) return
    this.pingTimer = this.later(delay, async () => { await this.ping(cycle) })
  }

  private async refresh (cycle: AbortController): Promise<void> {
    if (cycle.signal.aborted) return
    try {
      const imagesBefore = this.facts?.images
      const info = await this.refreshFacts(cycle.signal, Math.max(this.timings.healthTimeoutMs, SYNC_TIMEOUT_MS), false)
      // the events keep the cache current; a refresh only checks that they did, by the engine's counts
      if (++this.refreshes % LIST_EVERY_REFRESHES === 0 || !this.countsAgree(info)) await this.resync(cycle.signal, false)
      else if (this.facts?.images !== imagesBefore) await this.refreshImages()
      this.answered()
    } catch (error) {
      if (cycle.signal.aborted || this.missed(cycle, error)) return
    }
    if (cycle.signal.aborted) return
    this.refreshTimer = this.later(jittered(this.timings.refreshIntervalMs), async () => { await this.refresh(cycle) })
  }

  private answered (): void {
    this.misses = 0
    this.updatedAt = new Date()
  }

  /** Counts a failed ping or refresh; fails the node (and returns true) after healthRetries in a row. */
  private missed (cycle: AbortController, error: unknown): boolean {
    this.misses++
    if (this.misses < this.timings.healthRetries) {
      this.log.debug('node missed a health check', { node: this.name, misses: this.misses, error: toSwarmError(error).message })
      return false
    }
    this.fail(cycle, error)
    return true
  }

  /** True when the engine's container counts (from its `info`) are the cache's. */
  private countsAgree (info: Record<string, unknown>): boolean {
    return info.Containers === this.containers.size && info.ContainersRunning === this.counts.running &&
      info.ContainersPaused === this.counts.paused && info.ContainersStopped === this.counts.stopped
  }

  /** Reads the engine's `info` (and, with `withVersion`, its `version`) into {@link facts}; returns the info. */
  private async refreshFacts (signal: AbortSignal, timeoutMs: number, withVersion = true): Promise<Record<string, unknown>> {
    const options = { signal, timeoutMs }
    const [infoReply, versionReply] = await Promise.all([
      callDocker(this.child, { operation: 'SystemInfo', target: '' }, options),
      withVersion ? callDocker(this.child, { operation: 'SystemVersion', target: '' }, options) : undefined
    ])
    const info = bodyJson<Record<string, unknown>>(infoReply) ?? {}
    const version = versionReply === undefined
      ? { Version: this.facts?.serverVersion, ApiVersion: this.facts?.apiVersion, MinAPIVersion: this.facts?.minApiVersion }
      : bodyJson<Record<string, unknown>>(versionReply) ?? {}
    const labels: Record<string, string> = {}
    for (const label of (info.Labels as string[] | null | undefined) ?? []) {
      const at = label.indexOf('=')
      if (at > 0) labels[label.slice(0, at)] = label.slice(at + 1)
      else labels[label] = ''
    }
    this.facts = {
      id: String(info.ID ?? ''),
      name: String(info.Name ?? this.addr),
      ncpu: Number(info.NCPU ?? 0),
      memTotal: Number(info.MemTotal ?? 0),
      labels,
      serverVersion: String(info.ServerVersion ?? version.Version ?? ''),
      apiVersion: String(version.ApiVersion ?? ''),
      minApiVersion: String(version.MinAPIVersion ?? ''),
      kernelVersion: String(info.KernelVersion ?? ''),
      operatingSystem: String(info.OperatingSystem ?? ''),
      storageDriver: String(info.Driver ?? ''),
      osType: String(info.OSType ?? ''),
      images: Number(info.Images ?? 0)
    }
    if (this.configuredName === undefined) this.name = this.nameFor(this, this.facts.name)
    return info
  }

  private async openEvents (signal: AbortSignal): Promise<AsyncIterable<Uint8Array>> {
    const reply = await callDocker(this.child, { operation: 'SystemEvents', target: '' }, { signal, timeoutMs: this.connectTimeoutMs })
    if (reply.stream === undefined) throw new SwarmError(ErrorCode.Protocol, 'SystemEvents was answered without a stream')
    return reply.stream
  }

  private async consumeEvents (stream: AsyncIterable<Uint8Array>, cycle: AbortController): Promise<void> {
    const iterator = stream[Symbol.asyncIterator]()
    const onAbort = (): void => { void iterator.return?.().catch(() => {}) }
    cycle.signal.addEventListener('abort', onAbort, { once: true })
    try {
      for await (const value of jsonObjects({ [Symbol.asyncIterator]: () => iterator })) {
        if (cycle.signal.aborted) return
        this.handleEvent(value as EngineEvent)
      }
      if (!cycle.signal.aborted) this.fail(cycle, new SwarmError(ErrorCode.Unavailable, 'event stream ended'))
    } catch (error) {
      if (!cycle.signal.aborted) this.fail(cycle, new SwarmError(ErrorCode.Unavailable, `event stream broke: ${toSwarmError(error).message}`))
    } finally {
      cycle.signal.removeEventListener('abort', onAbort)
    }
  }

  /** Classic Swarm's event for a node that joined, failed or came back: `swarm engine_disconnect`. */
  private engineEvent (action: string): void {
    const now = Date.now()
    const id = this.facts?.id ?? ''
    this.onEvent(this, { Type: 'swarm', Action: action, status: action, id, from: 'swarm', Actor: { ID: id, Attributes: { name: this.name, addr: this.addr } }, scope: 'local', time: Math.floor(now / 1000), timeNano: now * 1e6 })
  }

  private handleEvent (event: EngineEvent): void {
    const type = event.Type ?? (event.id !== undefined && event.from !== undefined ? 'container' : '')
    const action = (event.Action ?? event.status ?? '').split(':')[0] ?? ''
    const id = event.Actor?.ID ?? event.id ?? ''
    if (type === 'container' && id !== '') {
      if (action === 'destroy') this.forget(id)
      else if (STATE_CHANGES.has(action)) void this.refreshContainer(id).catch(() => {})
    } else if (type === 'image' && IMAGE_CHANGES.has(action)) {
      void this.refreshImages().catch(() => {})
    } else if (type === 'network' && (action === 'create' || action === 'destroy')) {
      void this.refreshNetworks().catch(() => {})
    }
    this.updatedAt = new Date()
    this.onEvent(this, event)
  }

  /**
   * Lists the engine's containers and inspects those the cache does not know or whose
   * state changed; drops those that are gone. `full` inspects every one.
   */
  async resync (signal: AbortSignal | undefined, full: boolean): Promise<void> {
    const options = { signal, timeoutMs: Math.max(this.timings.healthTimeoutMs, SYNC_TIMEOUT_MS) }
    const reply = await callDocker(this.child, { operation: 'ContainerList', target: '', query: { all: '1' } }, options)
    const listed = bodyJson<Array<{ Id: string, State?: string, Names?: string[] }>>(reply) ?? []
    const seen = new Set<string>()
    const stale: string[] = []
    for (const entry of listed) {
      seen.add(entry.Id)
      const cached = this.containers.get(entry.Id)
      if (full || cached === undefined || cached.summary.State !== entry.State ||
        (entry.Names !== undefined && !entry.Names.includes(`/${cached.name}`))) stale.push(entry.Id)
    }
    for (const id of [...this.containers.keys()]) if (!seen.has(id)) this.forget(id)
    let next = 0
    const worker = async (): Promise<void> => {
      while (next < stale.length) {
        signal?.throwIfAborted()
        await this.refreshContainer(stale[next++] as string)
      }
    }
    await Promise.all(Array.from({ length: Math.min(INSPECT_CONCURRENCY, stale.length) }, worker))
    await Promise.all([this.refreshImages(), this.refreshNetworks()])
  }

  /** Inspects one container again (coalescing concurrent calls) and updates the cache. */
  refreshContainer (id: string): Promise<void> {
    const running = this.refreshing.get(id)
    if (running !== undefined) {
      running.again = true
      return running.done
    }
    const entry = { again: false, done: Promise.resolve() }
    entry.done = (async () => {
      try {
        do {
          entry.again = false
          await this.inspectOnce(id)
        } while (entry.again)
      } finally {
        this.refreshing.delete(id)
      }
    })()
    this.refreshing.set(id, entry)
    return entry.done
  }

  private async inspectOnce (id: string): Promise<void> {
    let inspect: ContainerInspect
    try {
      const reply = await callDocker(this.child, { operation: 'ContainerInspect', target: id }, { timeoutMs: Math.max(this.timings.healthTimeoutMs, SYNC_TIMEOUT_MS) })
      inspect = bodyJson<ContainerInspect>(reply)
    } catch (error) {
      if (isSwarmError(error) && error.code === ErrorCode.NotFound) {
        this.forget(id)
        return
      }
      throw error
    }
    this.remember(inspect)
  }

  /** Puts (or replaces) a container in the cache from its inspect: what listings, filters and placement read. */
  remember (inspect: ContainerInspect): void {
    const phase = phaseOf(inspect)
    const summary = summaryBase(inspect)
    const container: CachedContainer = {
      id: inspect.Id,
      node: this,
      name: (inspect.Name ?? '').replace(/^\//, ''),
      state: inspect.State ?? {},
      created: inspect.Created ?? '',
      summary,
      summaryJson: JSON.stringify(summary).slice(0, -1),
      times: stateTimes(inspect.State),
      phase,
      reservation: reservationOf(inspect.HostConfig),
      // stopped containers count too, as in classic Swarm: starting them again needs their ports
      hostPorts: hostPortsOf(inspect.HostConfig, inspect.Config?.ExposedPorts),
      inspect: reschedulesOnFailure(inspect.Config?.Labels) ? inspect : undefined
    }
    this.forget(inspect.Id)
    this.containers.set(container.id, container)
    this.counts[phase]++
    this.reserved.cpus += container.reservation.cpus
    this.reserved.memory += container.reservation.memory
    for (const port of container.hostPorts) this.hostPorts.set(port, (this.hostPorts.get(port) ?? 0) + 1)
    this.index_.added(container)
  }

  /** Drops a container from the cache. */
  forget (id: string): void {
    const container = this.containers.get(id)
    if (container === undefined) return
    this.containers.delete(id)
    this.counts[container.phase]--
    this.reserved.cpus -= container.reservation.cpus
    this.reserved.memory -= container.reservation.memory
    this.releasePorts(container.hostPorts)
    this.index_.removed(container)
  }

  /** Holds resources for a create in flight; returns the function that lets them go. */
  reserve (reservation: Reservation, ports: readonly string[]): () => void {
    this.pending.cpus += reservation.cpus
    this.pending.memory += reservation.memory
    this.pending.containers++
    for (const port of ports) this.hostPorts.set(port, (this.hostPorts.get(port) ?? 0) + 1)
    let released = false
    return () => {
      if (released) return
      released = true
      this.pending.cpus -= reservation.cpus
      this.pending.memory -= reservation.memory
      this.pending.containers--
      this.releasePorts(ports)
    }
  }

  private releasePorts (ports: readonly string[]): void {
    for (const port of ports) {
      const count = (this.hostPorts.get(port) ?? 1) - 1
      if (count <= 0) this.hostPorts.delete(port)
      else this.hostPorts.set(port, count)
    }
  }

  /** Lists the engine's images again (coalesced) into the image index. */
  refreshImages (): Promise<void> {
    if (this.imageRefresh !== undefined) {
      this.imageRefreshAgain = true
      return this.imageRefresh
    }
    this.imageRefresh = (async () => {
      try {
        do {
          this.imageRefreshAgain = false
          const reply = await callDocker(this.child, { operation: 'ImageList', target: '' }, { timeoutMs: Math.max(this.timings.healthTimeoutMs, SYNC_TIMEOUT_MS) })
          const refs = new Set<string>()
          for (const image of bodyJson<ImageSummary[]>(reply) ?? []) {
            if (image.Id !== undefined) refs.add(image.Id)
            for (const tag of image.RepoTags ?? []) if (tag !== '<none>:<none>') refs.add(normalizeImageRef(tag))
            for (const digest of image.RepoDigests ?? []) if (!digest.startsWith('<none>')) refs.add(normalizeImageRef(digest))
          }
          this.imageRefs = refs
        } while (this.imageRefreshAgain)
      } finally {
        this.imageRefresh = undefined
      }
    })()
    return this.imageRefresh
  }

  /** Lists the engine's networks again (coalesced): their names and ids, for placement. */
  refreshNetworks (): Promise<void> {
    if (this.networkRefresh !== undefined) {
      this.networkRefreshAgain = true
      return this.networkRefresh
    }
    this.networkRefresh = (async () => {
      try {
        do {
          this.networkRefreshAgain = false
          const reply = await callDocker(this.child, { operation: 'NetworkList', target: '' }, { timeoutMs: Math.max(this.timings.healthTimeoutMs, SYNC_TIMEOUT_MS) })
          const names = new Set<string>()
          const listed = bodyJson<Array<{ Id?: string, Name?: string }>>(reply)
          for (const network of Array.isArray(listed) ? listed : []) {
            if (network.Name !== undefined) names.add(network.Name)
            if (network.Id !== undefined) names.add(network.Id)
          }
          this.networkNames = names
        } while (this.networkRefreshAgain)
      } finally {
        this.networkRefresh = undefined
      }
    })()
    return this.networkRefresh
  }

  /** Marks the node unhealthy now (a request to it failed in a way that says it is gone). */
  markUnhealthy (reason: string): void {
    if (this.cycle !== undefined && this.health === 'healthy') this.fail(this.cycle, new SwarmError(ErrorCode.Unavailable, reason))
  }

  /** Stops health checks and the event stream, and closes the child. */
  async close (): Promise<void> {
    this.closed = true
    clearTimeout(this.timer)
    clearTimeout(this.pingTimer)
    clearTimeout(this.refreshTimer)
    this.cycle?.abort()
    await this.child.close().catch(() => {})
  }
}
