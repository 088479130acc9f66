import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ErrorCode, SwarmError, silentLogger, toSwarmError, type Logger, type ServiceInstance } from '@libswarm/core'
import { createDockerClient } from '@libswarm/dockerclient'
import { createProvisioningService, waitForEngine, type HostSource, type ServedHostChange } from '@libswarm/provision'
import type { ShipyardApi, ShipyardEngine } from './shipyard-api.js'

/** One engine Shipyard holds, by its id. */
interface ShipyardHost {
  readonly name: string
  /** `host:port`, as aggregate shows a node's address. */
  readonly address: string
  readonly engine: ServiceInstance
}

/** Options of {@link startShipyardEngines}. */
export interface ShipyardEnginesOptions {
  /** How long an engine may take to answer before it is left out (and tried again at the next read). */
  timeoutMs: number
  /** How often Shipyard's engine list is read again, to follow engines added and removed there; 0: never. */
  intervalMs: number
  log?: Logger | undefined
}

/**
 * Shipyard's engines (`GET /api/engines`), each a `dockerclient` at its `addr`, over TLS with
 * the `ca_cert`, `ssl_cert` and `ssl_key` Shipyard keeps for it (written 0600 into a private
 * directory while the set runs). Read again every `intervalMs`: an engine added in Shipyard is
 * connected and added, one removed there is dropped.
 */
class ShipyardEngineSet implements HostSource {
  readonly name = 'shipyard'
  readonly hosts = new Map<string, ShipyardHost>()
  private readonly listeners = new Set<(change: ServedHostChange) => void>()
  private readonly log: Logger
  private secrets = ''
  private files = 0
  private timer: NodeJS.Timeout | undefined
  private reading: Promise<void> | undefined
  private closed = false

  constructor (private readonly api: ShipyardApi, private readonly options: ShipyardEnginesOptions) {
    this.log = options.log ?? silentLogger
  }

  async start (): Promise<void> {
    this.secrets = await mkdtemp(join(tmpdir(), 'libswarm-shipyard-'))
    await chmod(this.secrets, 0o700)
    const engines = await this.read()
    if (engines === 0) throw new SwarmError(ErrorCode.Unavailable, `shipyard: ${this.api.url} holds no engine`)
    if (this.hosts.size === 0) throw new SwarmError(ErrorCode.Unavailable, `shipyard: none of the ${engines} engines of ${this.api.url} answers`)
    if (this.options.intervalMs > 0) this.timer = setInterval(() => { void this.again() }, this.options.intervalMs)
  }

  get description (): string { return `Shipyard ${this.api.url}` }

  subscribe (listener: (change: ServedHostChange) => void): () => void {
    this.listeners.add(listener)
    return () => { this.listeners.delete(listener) }
  }

  private async again (): Promise<void> {
    if (this.reading !== undefined || this.closed) return
    this.reading = this.read().then(() => {}, (error) => { this.log.warn('cannot read shipyard\'s engines', { error: toSwarmError(error).message }) })
    await this.reading
    this.reading = undefined
  }

  /** Brings the set in line with Shipyard's list; answers how many engines Shipyard holds. */
  private async read (): Promise<number> {
    const records = await this.api.json<ShipyardEngine[] | null>('GET', '/api/engines') ?? []
    const listed = new Map(records.map((record, index) => [record.engine?.id ?? record.id ?? `engine-${index}`, record]))
    for (const [name, host] of this.hosts) {
      if (listed.has(name)) continue
      this.hosts.delete(name)
      this.log.info('shipyard engine removed', { engine: name })
      for (const listener of this.listeners) listener({ change: 'removed', host })
      await host.engine.close().catch(() => {})
    }
    await Promise.all([...listed].filter(([name]) => !this.hosts.has(name)).map(async ([name, record]) => { await this.connect(name, record) }))
    return records.length
  }

  private async connect (name: string, record: ShipyardEngine): Promise<void> {
    let url: URL
    try {
      url = new URL(record.engine?.addr ?? '')
    } catch {
      this.log.warn('a shipyard engine has no usable addr; left out', { engine: name, addr: record.engine?.addr })
      return
    }
    const secure = url.protocol === 'https:'
    const file = async (text: string | undefined): Promise<string | undefined> => {
      if (!secure || text === undefined || text === '') return undefined
      const path = join(this.secrets, `${this.files++}.pem`)
      await writeFile(path, text, { mode: 0o600 })
      return path
    }
    const tlsCaCert = await file(record.ca_cert)
    const engine = createDockerClient({ address: `tcp://${url.host}`, tls: secure, tlsVerify: tlsCaCert !== undefined, tlsCaCert, tlsCert: await file(record.ssl_cert), tlsKey: await file(record.ssl_key), env: {} })
    try {
      await waitForEngine(engine, `shipyard engine ${name} (${url.host})`, { timeoutMs: this.options.timeoutMs })
    } catch (error) {
      this.log.warn('a shipyard engine does not answer; left out', { engine: name, error: toSwarmError(error).message })
      await engine.close()
      return
    }
    if (this.closed || this.hosts.has(name)) {
      await engine.close()
      return
    }
    const host = { name, address: url.host, engine }
    this.hosts.set(name, host)
    this.log.info('shipyard engine added', { engine: name, address: url.host })
    for (const listener of this.listeners) listener({ change: 'added', host })
  }

  async close (): Promise<void> {
    if (this.closed) return
    this.closed = true
    clearInterval(this.timer)
    await this.reading
    await Promise.allSettled([...this.hosts.values()].map(async (host) => { await host.engine.close() }))
    this.hosts.clear()
    if (this.secrets !== '') await rm(this.secrets, { recursive: true, force: true })
  }
}

/**
 * `shipyard --engines`: Shipyard as a registry of engines only. Each engine it holds becomes
 * a `dockerclient`, so that the whole Docker API works there; the result is a provisioning
 * service (under `aggregate`, one node per engine, following engines added and removed in
 * Shipyard). An engine that does not answer is left out with a warning; none answering fails.
 */
export async function startShipyardEngines (api: ShipyardApi, options: ShipyardEnginesOptions): Promise<ServiceInstance> {
  const set = new ShipyardEngineSet(api, options)
  try {
    await set.start()
  } catch (error) {
    await set.close()
    throw error
  }
  return createProvisioningService(set)
}
