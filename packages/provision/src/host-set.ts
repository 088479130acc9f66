import { randomBytes } from 'node:crypto'
import { ErrorCode, SwarmError, isSwarmError, request, silentLogger, toSwarmError, type AbortOptions, type Logger, type ServiceInstance } from '@libswarm/core'
import { dockerUserData, sshDockerUserData } from './cloud-init.js'
import { issueSshHostKey } from './host-keys.js'
import type { HostSource } from './host-source.js'
import { connectHostEngine, waitForEngine } from './host-engine.js'
import { openStateDirectory, type StateDirectory } from './state-directory.js'

/** The tags (metadata) a provisioner puts on every host it launches: the cloud's tags are its state. */
export const HOST_TAGS = {
  /** The swarm the host belongs to: hosts are found again by it. */
  swarm: 'libswarm:swarm',
  /** Set only on hosts libswarm launched: the only hosts it ever terminates. */
  launchedBy: 'libswarm:launched-by',
  /**
   * The name the host proves: its server certificate's, or with ssh its host key's (the
   * `HostKeyAlias` its key is recorded under in the state directory's known_hosts).
   */
  tlsName: 'libswarm:tls-name'
} as const

/** A host's state in terms every cloud maps to. */
export type CloudHostState = 'pending' | 'running' | 'stopping' | 'stopped' | 'failed' | 'gone'

/** A host as the cloud lists it. */
export interface CloudHost {
  /** The cloud's id (instance id, server id). */
  id: string
  /** Its name (a `Name` tag, a server name), when it has one. */
  name?: string | undefined
  state: CloudHostState
  /** The address its engine is reached on (public, else private IP), once known. */
  address?: string | undefined
  /** Its tags or metadata. */
  tags: Readonly<Record<string, string>>
}

/** One host to launch. */
export interface LaunchRequest {
  /** Tags to put on the host at launch: {@link HOST_TAGS} and the user's `--tag`s. */
  tags: Record<string, string>
  /** The cloud-init user data (plain text; the provider encodes it as its API wants). */
  userData: string
}

/**
 * What a cloud gives the host set: list the swarm's hosts, launch one, wait for it, terminate.
 * Each call takes `{ signal }`; errors are SwarmErrors with a clear message (credentials,
 * unknown image or type, capacity), thrown at once rather than retried forever.
 */
export interface HostProvider {
  /** `aws`, `rackspace`: in messages and the default state directory. */
  readonly name: string
  /** The hosts tagged for `swarm`, in any state but gone. */
  list: (swarm: string, options?: AbortOptions) => Promise<CloudHost[]>
  /** Launches one host and returns it (usually pending). */
  launch: (request: LaunchRequest, options?: AbortOptions) => Promise<CloudHost>
  /** Waits until the host runs and has an address (the cloud's waiter); fails when it stops, fails or times out. */
  waitRunning: (id: string, options: AbortOptions & { timeoutMs: number }) => Promise<CloudHost>
  terminate: (ids: readonly string[], options?: AbortOptions) => Promise<void>
  /** Asks the cloud whether the launch would be allowed, without launching (for `--dry-run`). */
  checkLaunch?: (request: LaunchRequest, options?: AbortOptions) => Promise<void>
  /** One line saying what a launch launches (image, type, region), for `--dry-run`. */
  describeLaunch: () => string
}

/** What to do with a host that does not boot or stops answering. */
export type UnreachablePolicy = 'replace' | 'fail'

/** Options of a host set; every provisioner's common arguments. */
export interface HostSetOptions {
  /** The swarm's name: the value of the swarm tag. */
  swarm: string
  /** Hosts wanted. */
  count: number
  /** Most hosts this chain may launch, replacements included. */
  maxHosts: number
  /** Say what would be launched, launch nothing. */
  dryRun: boolean
  /** Terminate, on stop, the hosts libswarm launched (never others). */
  terminateOnStop: boolean
  onUnreachable: UnreachablePolicy
  /** How long a host may take from launch to an engine answering over TLS. */
  bootTimeoutMs: number
  /** How often hosts are checked once running; 0 turns checks off. */
  checkIntervalMs: number
  /** Failed checks in a row before a host counts as lost. */
  checkRetries: number
  /** The engine's TLS port on each host. */
  enginePort: number
  /**
   * Reach each host's engine over ssh (`ssh://USER@ADDRESS:PORT`, `docker system dial-stdio`)
   * instead of mutual TLS: no engine port is opened and no server certificate made; the host's
   * ssh host key is made ahead and checked. Unset: mutual TLS.
   */
  ssh?: HostSsh | undefined
  /** The user's tags, put on every host launched. */
  tags: Record<string, string>
  stateDir: string
}

/** How hosts are reached over ssh. */
export interface HostSsh {
  /** The user to log in as (the image's: `ubuntu`, `ec2-user`, `root`...). */
  user: string
  /** The private key to log in with; default ssh's own (agent, `~/.ssh/id_*`, `~/.ssh/config`). */
  keyFile?: string | undefined
  /** sshd's port on the hosts. */
  port: number
}

/** A host whose engine answers. */
export interface ReadyHost {
  /** Its name in the swarm: the cloud name, else the id. */
  readonly name: string
  readonly id: string
  readonly address: string
  /** Its engine over mutual TLS. */
  readonly engine: ServiceInstance
  /** True when libswarm launched it (it carries the launched-by tag). */
  readonly launched: boolean
}

/** A change of the host set. */
export interface HostChange {
  change: 'added' | 'removed'
  host: ReadyHost
}

/** What `--dry-run` found. */
export interface LaunchPlan {
  /** Hosts found again (names). */
  existing: string[]
  /** Hosts that would be launched. */
  launch: number
  /** What each launch would be. */
  description: string
}

/** Thrown when a host did not boot or its engine did not answer. */
class HostBootError extends SwarmError {}

/**
 * The hosts of one provisioning chain: found again by their swarm tag, launched to reach
 * `count` (only what is missing, never more than `maxHosts` in all), each waited for until its
 * engine answers over mutual TLS, then checked every `checkIntervalMs`; a host that fails to
 * boot or is lost is replaced or reported, as `onUnreachable` says. A failed start terminates
 * every host it launched. Listeners hear each host added and removed. It is the
 * {@link HostSource} a cloud provisioner's service serves.
 */
export class HostSet implements HostSource {
  readonly hosts = new Map<string, ReadyHost>()
  plan: LaunchPlan | undefined
  private readonly listeners = new Set<(change: HostChange) => void>()
  private readonly misses = new Map<string, number>()
  private readonly lifetime = new AbortController()
  private state: StateDirectory | undefined
  private launches = 0
  private timer: NodeJS.Timeout | undefined
  private checking: Promise<void> | undefined
  private replacing = new Set<Promise<void>>()
  /** Launch requests made ahead (their certificates), used first. */
  private readonly prepared: Array<Promise<{ tlsName: string, request: LaunchRequest }>> = []
  private closed = false

  constructor (readonly provider: HostProvider, readonly options: HostSetOptions, private readonly log: Logger = silentLogger) {}

  /** Hosts launched by this set so far (replacements included). */
  get launched (): number { return this.launches }

  /** The provider's name. */
  get name (): string { return this.provider.name }

  /** `swarm NAME`, in error messages. */
  get description (): string { return `swarm ${this.options.swarm}` }

  /** Why a dry run has no host. */
  get emptyNote (): string | undefined { return this.options.dryRun ? '--dry-run launches none' : undefined }

  /** What `Get provision` answers: the swarm, its hosts and the `--dry-run` plan. */
  describe (): unknown {
    return {
      provider: this.provider.name,
      swarm: this.options.swarm,
      count: this.options.count,
      launched: this.launches,
      hosts: [...this.hosts.values()].map((host) => ({ name: host.name, id: host.id, address: host.address, launched: host.launched })),
      plan: this.plan ?? null
    }
  }

  /** Listens to hosts added and removed; returns the function that stops listening. */
  subscribe (listener: (change: HostChange) => void): () => void {
    this.listeners.add(listener)
    return () => { this.listeners.delete(listener) }
  }

  /**
   * Finds the swarm's hosts, launches what is missing and waits for every engine. On any
   * failure, terminates the hosts this start launched and throws.
   */
  async start (options: AbortOptions = {}): Promise<void> {
    const signal = options.signal === undefined ? this.lifetime.signal : AbortSignal.any([options.signal, this.lifetime.signal])
    this.state = await openStateDirectory(this.options.stateDir)
    // certificates take a key generation each: made while the cloud is asked for the swarm's hosts
    if (!this.options.dryRun) {
      for (let index = this.prepared.length; index < this.options.count; index++) {
        const prepared = this.newLaunchRequest()
        prepared.catch(() => {})
        this.prepared.push(prepared)
      }
    }
    const found = await this.provider.list(this.options.swarm, { signal })
    const usable = found.filter((host) => (host.state === 'pending' || host.state === 'running') && host.tags[HOST_TAGS.tlsName] !== undefined)
    for (const host of found) {
      if (!usable.includes(host)) this.log.info('host of the swarm not used', { id: host.id, state: host.state, reason: host.tags[HOST_TAGS.tlsName] === undefined ? 'not launched with a libswarm certificate' : `state ${host.state}` })
    }
    const reused = usable.slice(0, this.options.count)
    const missing = this.options.count - reused.length
    if (missing > this.options.maxHosts - this.launches) {
      throw new SwarmError(ErrorCode.LimitExceeded, `${this.provider.name}: ${missing} host(s) missing to reach --count ${this.options.count}, but --max-hosts allows ${this.options.maxHosts - this.launches} more`)
    }
    if (this.options.dryRun) {
      if (missing > 0) await this.provider.checkLaunch?.(await this.launchRequest('dry-run'), { signal })
      this.plan = { existing: reused.map((host) => host.name ?? host.id), launch: missing, description: this.provider.describeLaunch() }
      this.log.info('dry run: nothing launched', { swarm: this.options.swarm, existing: this.plan.existing.join(','), wouldLaunch: missing, launch: this.plan.description })
    }
    const attempt = new AbortController()
    const attemptSignal = AbortSignal.any([signal, attempt.signal])
    const launchedHere: string[] = []
    const tlsNamesHere = new Set<string>()
    const results = await Promise.allSettled([
      ...reused.map(async (host) => { await this.bringUp(host, attemptSignal, launchedHere, tlsNamesHere) }),
      ...(this.options.dryRun ? [] : Array.from({ length: missing }, async () => { await this.launchOne(attemptSignal, launchedHere, tlsNamesHere) }))
    ].map(async (work) => {
      try {
        await work
      } catch (error) {
        // the first failure aborts the others: it is the one to report, not their ABORTED
        if (!attempt.signal.aborted) attempt.abort(error)
        throw error
      }
    }))
    if (!results.some((result) => result.status === 'rejected')) {
      this.schedule()
      return
    }
    await this.undoStart(launchedHere, tlsNamesHere)
    throw toSwarmError(attempt.signal.reason)
  }

  /** Stops checking; terminates the hosts libswarm launched when `terminateOnStop`; closes the engines. */
  async close (): Promise<void> {
    if (this.closed) return
    this.closed = true
    clearTimeout(this.timer)
    this.lifetime.abort(new SwarmError(ErrorCode.Aborted, 'host set closed'))
    await Promise.allSettled([this.checking, ...this.replacing])
    const hosts = [...this.hosts.values()]
    this.hosts.clear()
    await Promise.allSettled(hosts.map(async (host) => { await host.engine.close() }))
    if (this.options.terminateOnStop) {
      const ours = hosts.filter((host) => host.launched).map((host) => host.id)
      if (ours.length > 0) {
        this.log.info('terminating the hosts libswarm launched', { ids: ours.join(',') })
        await this.provider.terminate(ours, { signal: AbortSignal.timeout(60_000) })
      }
    }
  }

  private emit (change: HostChange): void {
    for (const listener of this.listeners) {
      try { listener(change) } catch {}
    }
  }

  private async newLaunchRequest (): Promise<{ tlsName: string, request: LaunchRequest }> {
    const tlsName = `h-${randomBytes(6).toString('hex')}.${dnsLabel(this.options.swarm)}.libswarm`
    return { tlsName, request: await this.launchRequest(tlsName) }
  }

  private async launchRequest (tlsName: string): Promise<LaunchRequest> {
    const state = this.state as StateDirectory
    const tags = { ...this.options.tags, [HOST_TAGS.swarm]: this.options.swarm, [HOST_TAGS.launchedBy]: 'libswarm', [HOST_TAGS.tlsName]: tlsName }
    const ssh = this.options.ssh
    if (ssh !== undefined) {
      // a dry run asks the cloud only: no host key recorded for a host that will not exist
      const hostKey = tlsName === 'dry-run' ? DRY_RUN_HOST_KEY : await issueSshHostKey(state.dir, tlsName)
      return { tags, userData: sshDockerUserData({ hostKey, user: ssh.user }) }
    }
    const server = await state.issueServerCertificate(tlsName)
    return { tags, userData: dockerUserData({ caCert: state.caCert, serverCert: server.cert, serverKey: server.key, port: this.options.enginePort }) }
  }

  /** Launches one host and brings it up; a host that does not boot is replaced while the policy and budget allow. */
  private async launchOne (signal: AbortSignal, launchedHere: string[], tlsNamesHere: Set<string>): Promise<void> {
    while (true) {
      signal.throwIfAborted()
      if (this.launches >= this.options.maxHosts) throw new SwarmError(ErrorCode.LimitExceeded, `${this.provider.name}: --max-hosts ${this.options.maxHosts} reached, no host launched`)
      const { tlsName, request: launchRequest } = await (this.prepared.shift() ?? this.newLaunchRequest())
      tlsNamesHere.add(tlsName)
      this.launches++
      const host = await this.provider.launch(launchRequest, { signal })
      launchedHere.push(host.id)
      this.log.info('host launched', { id: host.id, swarm: this.options.swarm })
      try {
        await this.bringUp(host, signal, launchedHere, tlsNamesHere)
        return
      } catch (error) {
        if (!(error instanceof HostBootError) || this.options.onUnreachable !== 'replace' || this.launches >= this.options.maxHosts) throw error
        this.log.warn('host did not boot: replacing it', { id: host.id, error: error.message })
        await this.provider.terminate([host.id], { signal }).catch((cause) => { this.log.warn('terminate failed', { id: host.id, error: toSwarmError(cause).message }) })
      }
    }
  }

  /** Waits for a host to run and for its engine to answer, then adds it. */
  private async bringUp (host: CloudHost, signal: AbortSignal, launchedHere: string[], tlsNamesHere: Set<string>): Promise<void> {
    const tlsName = host.tags[HOST_TAGS.tlsName] as string
    const started = Date.now()
    let running: CloudHost
    try {
      running = host.state === 'running' && host.address !== undefined ? host : await this.provider.waitRunning(host.id, { timeoutMs: this.options.bootTimeoutMs, signal })
    } catch (error) {
      signal.throwIfAborted()
      if (isSwarmError(error) && (error.code === ErrorCode.Timeout || error.code === ErrorCode.Unavailable)) throw new HostBootError(error.code, error.message, { cause: error })
      throw error
    }
    if (running.address === undefined) throw new HostBootError(ErrorCode.Unavailable, `${this.provider.name}: host ${host.id} runs but has no address`)
    const engine = connectHostEngine({ address: running.address, port: this.options.enginePort, tlsName, ssh: this.options.ssh }, this.state as StateDirectory)
    try {
      await waitForEngine(engine, `${this.provider.name} host ${host.id} (${running.address})`, { timeoutMs: Math.max(1000, this.options.bootTimeoutMs - (Date.now() - started)), signal, over: this.options.ssh !== undefined ? 'ssh' : 'TLS' })
    } catch (error) {
      await engine.close()
      signal.throwIfAborted()
      throw new HostBootError(ErrorCode.Timeout, toSwarmError(error).message, { cause: error })
    }
    if (signal.aborted || this.closed) {
      await engine.close()
      signal.throwIfAborted()
    }
    const name = this.nameFor(running)
    const ready: ReadyHost = { name, id: running.id, address: running.address, engine, launched: running.tags[HOST_TAGS.launchedBy] !== undefined || launchedHere.includes(running.id) || tlsNamesHere.has(tlsName) }
    this.hosts.set(name, ready)
    this.log.info('host ready', { name, id: running.id, address: running.address, ms: Date.now() - started })
    this.emit({ change: 'added', host: ready })
  }

  private nameFor (host: CloudHost): string {
    const name = host.name
    if (name !== undefined && name !== '' && !this.hosts.has(name)) return name
    return host.id
  }

  /** After a failed start: every host this start launched is terminated, even one whose launch answer was lost. */
  private async undoStart (launchedHere: string[], tlsNamesHere: Set<string>): Promise<void> {
    await Promise.allSettled([...this.hosts.values()].map(async (host) => { await host.engine.close() }))
    this.hosts.clear()
    const cleanup = AbortSignal.timeout(60_000)
    const ids = new Set(launchedHere)
    try {
      for (const host of await this.provider.list(this.options.swarm, { signal: cleanup })) {
        if (tlsNamesHere.has(host.tags[HOST_TAGS.tlsName] ?? '') && host.state !== 'gone') ids.add(host.id)
      }
    } catch (error) {
      this.log.warn('could not list hosts to clean up', { error: toSwarmError(error).message })
    }
    if (ids.size === 0) return
    this.log.info('start failed: terminating the hosts it launched', { ids: [...ids].join(',') })
    try {
      await this.provider.terminate([...ids], { signal: cleanup })
    } catch (error) {
      this.log.error('could not terminate the hosts a failed start launched', { ids: [...ids].join(','), error: toSwarmError(error).message })
    }
  }

  private schedule (): void {
    if (this.closed || this.options.checkIntervalMs <= 0) return
    this.timer = setTimeout(() => {
      this.checking = this.check().catch((error) => { this.log.warn('host check failed', { error: toSwarmError(error).message }) }).finally(() => {
        this.checking = undefined
        this.schedule()
      })
    }, this.options.checkIntervalMs)
    this.timer.unref()
  }

  /** One round of checks: hosts the cloud no longer runs are lost at once, engines that miss `checkRetries` pings in a row too. */
  private async check (): Promise<void> {
    const signal = this.lifetime.signal
    const listed = new Map((await this.provider.list(this.options.swarm, { signal })).map((host) => [host.id, host]))
    await Promise.all([...this.hosts.values()].map(async (host) => {
      const cloud = listed.get(host.id)
      if (cloud === undefined || (cloud.state !== 'running' && cloud.state !== 'pending')) {
        this.lose(host, `the cloud says ${cloud?.state ?? 'gone'}`)
        return
      }
      try {
        await request(host.engine, 'Get', ['SystemPing', '', '{}'], { signal: AbortSignal.any([signal, AbortSignal.timeout(5000)]) })
        this.misses.delete(host.name)
      } catch (error) {
        if (signal.aborted) return
        const misses = (this.misses.get(host.name) ?? 0) + 1
        this.misses.set(host.name, misses)
        if (misses >= this.options.checkRetries) this.lose(host, `its engine missed ${misses} checks: ${toSwarmError(error).message}`)
      }
    }))
  }

  private lose (host: ReadyHost, reason: string): void {
    if (this.closed || this.hosts.get(host.name) !== host) return
    this.hosts.delete(host.name)
    this.misses.delete(host.name)
    this.emit({ change: 'removed', host })
    void host.engine.close()
    const replace = this.options.onUnreachable === 'replace' && this.launches < this.options.maxHosts
    if (!replace) {
      this.log.error('host lost, not replaced', { name: host.name, reason, why: this.options.onUnreachable === 'fail' ? '--on-unreachable fail' : `--max-hosts ${this.options.maxHosts} reached` })
      return
    }
    this.log.warn('host lost: replacing it', { name: host.name, reason })
    const work = (async () => {
      const signal = this.lifetime.signal
      if (host.launched) await this.provider.terminate([host.id], { signal }).catch(() => {})
      const launchedHere: string[] = []
      const names = new Set<string>()
      try {
        await this.launchOne(signal, launchedHere, names)
      } catch (error) {
        if (signal.aborted) return
        this.log.error('replacement failed', { name: host.name, error: toSwarmError(error).message })
        const stray = launchedHere.filter((id) => ![...this.hosts.values()].some((ready) => ready.id === id))
        if (stray.length > 0) await this.provider.terminate(stray, { signal: AbortSignal.timeout(60_000) }).catch(() => {})
      }
    })()
    this.replacing.add(work)
    void work.finally(() => { this.replacing.delete(work) })
  }
}

/** What a dry run's user data shows in place of a host key (nothing is launched with it). */
const DRY_RUN_HOST_KEY = { privateKey: '(made at launch)', publicKey: 'ssh-ed25519 (made-at-launch) dry-run' }

/** A swarm name as one DNS label. */
function dnsLabel (text: string): string {
  const label = text.toLowerCase().replace(/[^a-z0-9-]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 40)
  return label === '' ? 'swarm' : label
}
