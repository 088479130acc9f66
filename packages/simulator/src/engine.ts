import { createHash } from 'node:crypto'
import { ByteQueue } from './byte-queue.js'
import { now } from './clock.js'
import { randomName } from './container-names.js'
import { engineErrors } from './errors.js'
import { EventLog, type EngineEvent } from './event-log.js'
import { IdPrefixIndex } from './id-index.js'
import { familiarName, parseReference } from './image-reference.js'
import { LogBuffer, frameOutput, type OutputStream } from './log-buffer.js'
import { SimProcess, compileCommand, signalIsIgnored, type ProcessHost } from './process-model.js'
import { SeededRandom } from './random.js'
import { PendingStdin } from './pending-stdin.js'
import { CONFIG_DEFAULTS, HOST_CONFIG_DEFAULTS, compactAgainst } from './shapes.js'

/** What an engine is: its name, its size and what it holds at start. */
export interface EngineOptions {
  name: string
  cpus: number
  memory: number
  labels: string[]
  images: string[]
  seed?: number | undefined
  /** Events kept for `since` (dockerd keeps 256). */
  eventHistory?: number | undefined
}

/** A container's state, as dockerd names it. */
export type ContainerStatus = 'created' | 'running' | 'paused' | 'restarting' | 'removing' | 'exited' | 'dead'

/** What `/containers/{id}/wait` waits for. */
export type WaitCondition = 'not-running' | 'next-exit' | 'removed'

interface Waiter {
  readonly condition: WaitCondition
  readonly resolve: (code: number) => void
}

/** A reader of a container's output: an attach or a `logs --follow`. */
interface OutputReader {
  readonly queue: ByteQueue
  readonly stdout: boolean
  readonly stderr: boolean
  readonly multiplexed: boolean
  readonly timestamps: boolean
}

/** A container's place on a network. The address is held only while the container runs. */
export interface Endpoint {
  readonly network: SimNetwork
  endpointId: string
  /** The host part of the address, 0 while not running. */
  host: number
  readonly aliases: string[] | null
  readonly ipamConfig: unknown
}

/** A volume or bind mount of a container. */
export interface ContainerMount {
  readonly type: 'volume' | 'bind'
  readonly source: string
  readonly destination: string
  readonly rw: boolean
  readonly mode: string
}

/**
 * A simulated container: a handful of fields; buffers and lists appear only when used.
 * It is its own process's host, so a running container costs no closures.
 */
export class Container implements ProcessHost {
  status: ContainerStatus = 'created'
  pid = 0
  exitCode = 0
  startedAt = 0
  finishedAt = 0
  restartCount = 0
  error = ''
  /** True once someone stopped or killed it: no restart policy applies. */
  manuallyStopped = false
  hasBeenStarted = false
  process: SimProcess | undefined
  logs: LogBuffer | undefined
  readers: OutputReader[] | undefined
  waiters: Waiter[] | undefined
  execIds: string[] | undefined
  publishedPorts: PublishedPort[] | undefined
  restartTimer: NodeJS.Timeout | undefined
  mounts: ContainerMount[] | undefined
  /** Stdin that arrived before the process could read it (an attach precedes start). */
  pendingStdin: PendingStdin | undefined

  constructor (
    private readonly engine: Engine,
    readonly id: string,
    public name: string,
    readonly created: number,
    readonly image: string,
    readonly imageId: string,
    /** Config as inspect shows it, minus the defaults. */
    public config: Record<string, unknown>,
    /** HostConfig as inspect shows it, minus the defaults. */
    public hostConfig: Record<string, unknown>,
    readonly endpoints: Endpoint[]
  ) {}

  /** The full Config of inspect. */
  fullConfig (): Record<string, unknown> {
    return { ...CONFIG_DEFAULTS, Hostname: this.id.slice(0, 12), ...this.config }
  }

  /** The full HostConfig of inspect. */
  fullHostConfig (): Record<string, unknown> {
    return { ...HOST_CONFIG_DEFAULTS, ...this.hostConfig }
  }

  write (stream: OutputStream, bytes: Uint8Array): void {
    this.engine.output(this, stream, bytes)
  }

  exited (code: number, process: SimProcess): void {
    if (this.process === process) this.engine.exited(this, code)
  }

  env (name: string): string | undefined {
    return envValue(this, name)
  }

  get tty (): boolean { return this.config.Tty === true }
  get interactive (): boolean { return this.config.OpenStdin === true }
  get labels (): Record<string, string> { return (this.config.Labels as Record<string, string> | undefined) ?? {} }
  get running (): boolean { return this.status === 'running' || this.status === 'paused' || this.status === 'restarting' }
}

/** A published port of a running container. */
export interface PublishedPort {
  readonly ip: string
  readonly privatePort: number
  readonly publicPort: number
  readonly type: string
}

/** A simulated image. */
export interface SimImage {
  readonly id: string
  tags: string[]
  digests: string[]
  readonly created: number
  readonly size: number
  readonly config: Record<string, unknown>
  readonly layers: string[]
  lastTagTime: number
}

/** A simulated network. */
export interface SimNetwork {
  readonly id: string
  readonly name: string
  readonly driver: string
  readonly created: number
  readonly builtin: boolean
  readonly internal: boolean
  readonly attachable: boolean
  readonly ipv6: boolean
  readonly options: Record<string, string>
  readonly labels: Record<string, string>
  /** The subnet's base address and prefix length; undefined for host and none. */
  readonly subnet: { readonly base: number, readonly prefix: number } | undefined
  nextHost: number
  readonly freeHosts: number[]
  /** Containers with an endpoint here, by id. */
  readonly endpoints: Map<string, Endpoint>
}

/** A simulated volume. */
export interface SimVolume {
  readonly name: string
  readonly driver: string
  readonly created: number
  readonly labels: Record<string, string>
  readonly options: Record<string, string>
  readonly anonymous: boolean
  /** Ids of containers that mount it. */
  readonly users: Set<string>
}

/** An exec instance. */
export interface SimExec {
  readonly id: string
  readonly container: Container
  readonly config: Record<string, unknown>
  running: boolean
  exitCode: number | null
  pid: number
  process: SimProcess | undefined
  queue: ByteQueue | undefined
  /** Stdin that came before the process started. */
  pendingStdin?: PendingStdin | undefined
}

const BUSYBOX_SIZE = 4_261_550
const DEFAULT_PATH = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'
const NAME_PATTERN = /^\/?[a-zA-Z0-9][a-zA-Z0-9_.-]+$/

function sha256 (text: string): string {
  return createHash('sha256').update(text).digest('hex')
}

/** dotted-quad of an IPv4 address held as a number. */
export function ipText (address: number): string {
  return `${address >>> 24}.${(address >>> 16) & 255}.${(address >>> 8) & 255}.${address & 255}`
}

/**
 * One simulated Docker engine's state and the transitions of its objects. Operations
 * (the request handlers) read and change it through these methods; every lookup is a
 * Map access or a binary search, and nothing runs per container in the background.
 */
export class Engine {
  readonly random: SeededRandom
  readonly id: string
  readonly started = Date.now()
  readonly containers = new Map<string, Container>()
  readonly containerIds = new IdPrefixIndex()
  readonly names = new Map<string, Container>()
  readonly images = new Map<string, SimImage>()
  readonly imageRefs = new Map<string, SimImage>()
  readonly networks = new Map<string, SimNetwork>()
  readonly volumes = new Map<string, SimVolume>()
  readonly execs = new Map<string, SimExec>()
  readonly events: EventLog
  readonly usedPorts = new Set<string>()
  running = 0
  paused = 0
  reservedNanoCpus = 0
  reservedMemory = 0
  private nextPid = 1000
  private nextPort = 49153
  private closed = false

  constructor (readonly options: EngineOptions) {
    this.events = new EventLog(options.eventHistory ?? 256)
    this.random = new SeededRandom(options.seed, options.name)
    this.id = Array.from({ length: 12 }, () => this.base32(4)).join(':')
    for (const [name, driver] of [['bridge', 'bridge'], ['host', 'host'], ['none', 'null']] as const) {
      this.addNetwork({ name, driver, builtin: true, subnet: name === 'bridge' ? { base: (172 << 24 | 17 << 16) >>> 0, prefix: 16 } : undefined, options: name === 'bridge' ? BRIDGE_OPTIONS : {} })
    }
    for (const image of options.images) this.pullImage(image)
  }

  private base32 (length: number): string {
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567'
    let text = ''
    for (let i = 0; i < length; i++) text += alphabet[this.random.nextUint32() & 31]
    return text
  }

  emit (event: EngineEvent): void {
    this.events.emit(event)
  }

  containerEvent (container: Container, action: string, extra?: Record<string, string>): void {
    this.emit({
      time: now(),
      type: 'container',
      action,
      id: container.id,
      from: container.image,
      attributes: extra === undefined ? { image: container.image, name: container.name } : { image: container.image, name: container.name, ...extra },
      labels: container.config.Labels as Record<string, string> | undefined
    })
  }

  // ---- lookups -------------------------------------------------------------

  /** A container by full id, name (with or without the slash) or unique id prefix, as dockerd resolves them. */
  findContainer (reference: string): Container | undefined {
    const byId = this.containers.get(reference)
    if (byId !== undefined) return byId
    const byName = this.names.get(reference.startsWith('/') ? reference.slice(1) : reference)
    if (byName !== undefined) return byName
    const id = this.containerIds.find(reference)
    return id === undefined ? undefined : this.containers.get(id)
  }

  getContainer (reference: string): Container {
    const container = this.findContainer(reference)
    if (container === undefined) throw engineErrors.noSuchContainer(reference)
    return container
  }

  /** An image by reference, full or short id (with or without `sha256:`), or digest. */
  findImage (reference: string): SimImage | undefined {
    if (reference === '') return undefined
    const byId = this.images.get(reference) ?? this.images.get('sha256:' + reference)
    if (byId !== undefined) return byId
    let parsed
    try {
      parsed = parseReference(reference)
    } catch {
      parsed = undefined
    }
    if (parsed !== undefined) {
      const byRef = this.imageRefs.get(familiarName(parsed))
      if (byRef !== undefined) return byRef
      if (parsed.digest !== undefined) {
        for (const image of this.images.values()) {
          if (image.digests.includes(`${parsed.repository}@${parsed.digest}`)) return image
        }
      }
    }
    const hex = reference.startsWith('sha256:') ? reference.slice(7) : reference
    if (/^[0-9a-f]{1,64}$/.test(hex)) {
      let found: SimImage | undefined
      for (const image of this.images.values()) {
        if (image.id.startsWith('sha256:' + hex)) {
          if (found !== undefined && found !== image) throw engineErrors.ambiguousPrefix(hex)
          found = image
        }
      }
      return found
    }
    return undefined
  }

  getImage (reference: string): SimImage {
    const image = this.findImage(reference)
    if (image === undefined) throw engineErrors.noSuchImage(reference)
    return image
  }

  /** A network by full id, name or unique id prefix. */
  findNetwork (reference: string): SimNetwork | undefined {
    const byId = this.networks.get(reference)
    if (byId !== undefined) return byId
    let found: SimNetwork | undefined
    for (const network of this.networks.values()) if (network.name === reference) return network
    for (const network of this.networks.values()) {
      if (network.id.startsWith(reference)) {
        if (found !== undefined) throw engineErrors.badRequest(`network ${reference} is ambiguous (${[...this.networks.values()].filter((n) => n.id.startsWith(reference)).length} matches found on name)`)
        found = network
      }
    }
    return found
  }

  getNetwork (reference: string): SimNetwork {
    const network = this.findNetwork(reference)
    if (network === undefined) throw engineErrors.noSuchNetwork(reference)
    return network
  }

  // ---- images --------------------------------------------------------------

  /** Adds (or finds) the image a reference names, as a pull would; returns it and whether it was new. */
  pullImage (reference: string): { image: SimImage, created: boolean } {
    const parsed = parseReference(reference)
    const name = familiarName(parsed)
    const existing = this.imageRefs.get(name)
    if (existing !== undefined) return { image: existing, created: false }
    const id = 'sha256:' + sha256(`libswarm-simulator image ${name}`)
    const known = this.images.get(id)
    if (known !== undefined) {
      this.tagImage(known, name)
      return { image: known, created: false }
    }
    const digestHex = sha256(`libswarm-simulator digest ${name}`)
    const hash = Number.parseInt(id.slice(7, 15), 16)
    const isBusybox = parsed.repository === 'busybox'
    const image: SimImage = {
      id,
      tags: parsed.tag === undefined && parsed.digest !== undefined ? [] : [name],
      digests: [`${parsed.repository}@${parsed.digest ?? 'sha256:' + digestHex}`],
      created: Date.UTC(2024, 0, 1) + (hash % 365) * 86_400_000,
      size: isBusybox ? BUSYBOX_SIZE : 5_000_000 + (hash % 95_000_000),
      config: { Env: [DEFAULT_PATH], Cmd: ['sh'], Labels: null },
      layers: ['sha256:' + sha256(`libswarm-simulator layer ${name}`)],
      lastTagTime: 0
    }
    this.images.set(id, image)
    for (const tag of image.tags) this.imageRefs.set(tag, image)
    return { image, created: true }
  }

  /** Adds an image loaded from a tar (or built elsewhere), keyed by its id. */
  addImage (image: SimImage): SimImage {
    const existing = this.images.get(image.id)
    if (existing !== undefined) {
      for (const tag of image.tags) this.tagImage(existing, tag)
      return existing
    }
    this.images.set(image.id, image)
    const tags = image.tags
    image.tags = []
    for (const tag of tags) this.tagImage(image, tag)
    return image
  }

  /** Points `name` at `image`, untagging whichever image held it. */
  tagImage (image: SimImage, name: string): void {
    const previous = this.imageRefs.get(name)
    if (previous === image) return
    if (previous !== undefined) previous.tags = previous.tags.filter((tag) => tag !== name)
    this.imageRefs.set(name, image)
    image.tags.push(name)
    image.lastTagTime = now()
  }

  untagImage (image: SimImage, name: string): void {
    image.tags = image.tags.filter((tag) => tag !== name)
    if (this.imageRefs.get(name) === image) this.imageRefs.delete(name)
  }

  deleteImage (image: SimImage): void {
    for (const tag of image.tags) if (this.imageRefs.get(tag) === image) this.imageRefs.delete(tag)
    this.images.delete(image.id)
  }

  /** Containers using an image: O(containers), only when deleting or pruning images. */
  containersUsing (image: SimImage): Container[] {
    const users: Container[] = []
    for (const container of this.containers.values()) if (container.imageId === image.id) users.push(container)
    return users
  }

  // ---- networks and volumes ------------------------------------------------

  addNetwork (spec: { name: string, driver: string, builtin?: boolean, internal?: boolean, attachable?: boolean, ipv6?: boolean, options?: Record<string, string>, labels?: Record<string, string>, subnet?: { base: number, prefix: number } | undefined, id?: string }): SimNetwork {
    const network: SimNetwork = {
      id: spec.id ?? this.random.hex(),
      name: spec.name,
      driver: spec.driver,
      created: now(),
      builtin: spec.builtin ?? false,
      internal: spec.internal ?? false,
      attachable: spec.attachable ?? false,
      ipv6: spec.ipv6 ?? false,
      options: spec.options ?? {},
      labels: spec.labels ?? {},
      subnet: spec.subnet,
      nextHost: 2,
      freeHosts: [],
      endpoints: new Map()
    }
    this.networks.set(network.id, network)
    return network
  }

  /** The next free /16 in 172.18.0.0 - 172.31.0.0, then 192.168.x.0/20, as dockerd's default pools. */
  allocateSubnet (): { base: number, prefix: number } {
    const taken = new Set<number>()
    for (const network of this.networks.values()) if (network.subnet !== undefined) taken.add(network.subnet.base)
    for (let second = 18; second <= 31; second++) {
      const base = ((172 << 24) | (second << 16)) >>> 0
      if (!taken.has(base)) return { base, prefix: 16 }
    }
    for (let third = 0; third < 256; third += 16) {
      const base = ((192 << 24) | (168 << 16) | (third << 8)) >>> 0
      if (!taken.has(base)) return { base, prefix: 20 }
    }
    throw engineErrors.forbidden('could not find an available, non-overlapping IPv4 address pool among the defaults to assign to the network')
  }

  private allocateHost (network: SimNetwork): number {
    const subnet = network.subnet
    if (subnet === undefined) return 0
    const free = network.freeHosts.pop()
    if (free !== undefined) return free
    const size = 2 ** (32 - subnet.prefix)
    if (network.nextHost >= size - 1) throw engineErrors.forbidden(`no available IPv4 addresses on this network's address pools: ${network.name} (${network.id})`)
    return network.nextHost++
  }

  address (endpoint: Endpoint): string {
    const subnet = endpoint.network.subnet
    return subnet === undefined || endpoint.host === 0 ? '' : ipText((subnet.base + endpoint.host) >>> 0)
  }

  gateway (network: SimNetwork): string {
    return network.subnet === undefined ? '' : ipText((network.subnet.base + 1) >>> 0)
  }

  /** Joins a container to a network; it gets an address now if it runs, else when it starts. */
  connect (container: Container, network: SimNetwork, aliases: string[] | null = null, ipamConfig: unknown = null): Endpoint {
    const existing = network.endpoints.get(container.id)
    if (existing !== undefined) throw engineErrors.forbidden(`endpoint with name ${container.name} already exists in network ${network.name}`)
    const endpoint: Endpoint = { network, endpointId: '', host: 0, aliases, ipamConfig }
    container.endpoints.push(endpoint)
    network.endpoints.set(container.id, endpoint)
    if (container.running) this.activate(endpoint, container)
    return endpoint
  }

  disconnect (container: Container, network: SimNetwork): void {
    const endpoint = network.endpoints.get(container.id)
    if (endpoint === undefined) throw engineErrors.forbidden(`container ${container.id} is not connected to network ${network.name}`)
    this.deactivate(endpoint, container)
    network.endpoints.delete(container.id)
    container.endpoints.splice(container.endpoints.indexOf(endpoint), 1)
  }

  private activate (endpoint: Endpoint, container: Container): void {
    if (endpoint.network.driver === 'null' || endpoint.network.driver === 'host') return
    endpoint.host = this.allocateHost(endpoint.network)
    endpoint.endpointId = this.random.hex()
    this.emit({ time: now(), type: 'network', action: 'connect', id: endpoint.network.id, attributes: { container: container.id, name: endpoint.network.name, type: endpoint.network.driver } })
  }

  private deactivate (endpoint: Endpoint, container?: Container): void {
    if (endpoint.host !== 0) endpoint.network.freeHosts.push(endpoint.host)
    if (endpoint.endpointId !== '' && container !== undefined) {
      this.emit({ time: now(), type: 'network', action: 'disconnect', id: endpoint.network.id, attributes: { container: container.id, name: endpoint.network.name, type: endpoint.network.driver } })
    }
    endpoint.host = 0
    endpoint.endpointId = ''
  }

  /** Finds or creates a volume (named, or anonymous when `name` is undefined). */
  volume (name: string | undefined, spec: { driver?: string, labels?: Record<string, string>, options?: Record<string, string> } = {}): { volume: SimVolume, created: boolean } {
    const volumeName = name ?? this.random.hex()
    const existing = this.volumes.get(volumeName)
    if (existing !== undefined) return { volume: existing, created: false }
    const volume: SimVolume = {
      name: volumeName,
      driver: spec.driver ?? 'local',
      created: now(),
      labels: spec.labels ?? {},
      options: spec.options ?? {},
      anonymous: name === undefined,
      users: new Set()
    }
    this.volumes.set(volumeName, volume)
    this.emit({ time: now(), type: 'volume', action: 'create', id: volumeName, attributes: { driver: volume.driver } })
    return { volume, created: true }
  }

  // ---- containers ----------------------------------------------------------

  /** Creates a container from a ContainerCreate body. */
  createContainer (body: Record<string, unknown>, requestedName: string | undefined): Container {
    if (requestedName !== undefined && requestedName !== '' && !NAME_PATTERN.test(requestedName)) throw engineErrors.invalidName(requestedName)
    const imageName = typeof body.Image === 'string' ? body.Image : ''
    if (imageName === '') throw engineErrors.badRequest('No command specified')
    const image = this.findImage(imageName)
    if (image === undefined) throw engineErrors.noSuchImage(imageName.includes(':') || imageName.includes('@') ? imageName : `${imageName}:latest`)
    let id = this.random.hex()
    while (this.containers.has(id)) id = this.random.hex()
    const name = requestedName === undefined || requestedName === '' ? this.generateName(id) : requestedName.replace(/^\//, '')
    const holder = this.names.get(name)
    if (holder !== undefined) throw engineErrors.nameInUse(name, holder.id)

    const { HostConfig: rawHostConfig, NetworkingConfig: networking, ...rawConfig } = body
    const config = compactAgainst(rawConfig, CONFIG_DEFAULTS)
    const imageConfig = image.config
    if (typeof config.Entrypoint === 'string') config.Entrypoint = [config.Entrypoint]
    if (typeof config.Cmd === 'string') config.Cmd = [config.Cmd]
    // dockerd's merge: without an entrypoint of its own, a container takes the image's
    // Cmd (when it has none) and the image's Entrypoint (when it named none at all).
    const entrypoint = config.Entrypoint as string[] | undefined
    if (entrypoint === undefined || entrypoint.length === 0) {
      if (!Array.isArray(config.Cmd) || config.Cmd.length === 0) {
        if (imageConfig.Cmd !== undefined && imageConfig.Cmd !== null) config.Cmd = imageConfig.Cmd
        else delete config.Cmd
      }
      if (entrypoint === undefined && imageConfig.Entrypoint !== undefined && imageConfig.Entrypoint !== null) config.Entrypoint = imageConfig.Entrypoint
    }
    if ((config.Cmd === undefined || (config.Cmd as unknown[]).length === 0) && (config.Entrypoint === undefined || (config.Entrypoint as unknown[]).length === 0)) {
      throw engineErrors.badRequest('No command specified')
    }
    config.Env = mergeEnv(imageConfig.Env as string[] | undefined, config.Env as string[] | undefined)
    if (config.WorkingDir === undefined && imageConfig.WorkingDir !== undefined) config.WorkingDir = imageConfig.WorkingDir
    const imageLabels = imageConfig.Labels as Record<string, string> | null | undefined
    if (imageLabels !== null && imageLabels !== undefined) config.Labels = { ...imageLabels, ...(config.Labels as Record<string, string> | undefined) }
    const hostConfig = compactAgainst(rawHostConfig, HOST_CONFIG_DEFAULTS)
    const nanoCpus = Number(hostConfig.NanoCpus ?? 0)
    const memory = Number(hostConfig.Memory ?? 0)
    if (nanoCpus > 0 && nanoCpus > this.options.cpus * 1e9) {
      throw engineErrors.badRequest(`Range of CPUs is from 0.01 to ${this.options.cpus}.00, as there are only ${this.options.cpus} CPUs available`)
    }
    if (memory > 0 && memory < 6 * 1024 * 1024) throw engineErrors.badRequest('Minimum memory limit allowed is 6MB')

    const endpoints: Endpoint[] = []
    const container = new Container(this, id, name, now(), imageName, image.id, config, hostConfig, endpoints)
    const networkMode = typeof hostConfig.NetworkMode === 'string' ? hostConfig.NetworkMode : 'default'
    const endpointsConfig = ((networking as { EndpointsConfig?: Record<string, { Aliases?: string[] | null, IPAMConfig?: unknown }> } | undefined)?.EndpointsConfig) ?? {}
    const joined = new Set<SimNetwork>()
    if (!networkMode.startsWith('container:')) {
      const primary = this.getNetwork(networkMode === 'default' ? 'bridge' : networkMode)
      const spec = endpointsConfig[networkMode] ?? endpointsConfig[primary.name] ?? endpointsConfig.default
      joined.add(primary)
      endpoints.push({ network: primary, endpointId: '', host: 0, aliases: spec?.Aliases ?? null, ipamConfig: spec?.IPAMConfig ?? null })
    }
    for (const [networkName, spec] of Object.entries(endpointsConfig)) {
      const network = this.getNetwork(networkName === 'default' ? 'bridge' : networkName)
      if (joined.has(network)) continue
      joined.add(network)
      endpoints.push({ network, endpointId: '', host: 0, aliases: spec?.Aliases ?? null, ipamConfig: spec?.IPAMConfig ?? null })
    }
    container.mounts = this.mountsFor(container, config, hostConfig)

    for (const endpoint of endpoints) endpoint.network.endpoints.set(id, endpoint)
    this.containers.set(id, container)
    this.containerIds.add(id)
    this.names.set(name, container)
    this.reservedNanoCpus += nanoCpus
    this.reservedMemory += memory
    this.containerEvent(container, 'create')
    return container
  }

  private mountsFor (container: Container, config: Record<string, unknown>, hostConfig: Record<string, unknown>): ContainerMount[] | undefined {
    const mounts: ContainerMount[] = []
    const addVolume = (name: string | undefined, destination: string, rw: boolean, mode: string): void => {
      const { volume } = this.volume(name)
      volume.users.add(container.id)
      mounts.push({ type: 'volume', source: volume.name, destination, rw, mode })
    }
    for (const bind of (hostConfig.Binds as string[] | null | undefined) ?? []) {
      const [source = '', destination = '', mode = ''] = bind.split(':')
      const rw = !mode.split(',').includes('ro')
      if (source.startsWith('/')) mounts.push({ type: 'bind', source, destination, rw, mode })
      else addVolume(source, destination, rw, mode === '' ? 'z' : mode)
    }
    for (const mount of (hostConfig.Mounts as Array<{ Type?: string, Source?: string, Target?: string, ReadOnly?: boolean }> | null | undefined) ?? []) {
      if (mount.Type === 'volume') addVolume(mount.Source === '' ? undefined : mount.Source, mount.Target ?? '', mount.ReadOnly !== true, 'z')
      else mounts.push({ type: 'bind', source: mount.Source ?? '', destination: mount.Target ?? '', rw: mount.ReadOnly !== true, mode: '' })
    }
    const declared = config.Volumes as Record<string, unknown> | null | undefined
    if (declared !== null && declared !== undefined) {
      // a Set, not a search of the mounts per volume: thousands of Volumes took time in their square
      const taken = new Set(mounts.map((mount) => mount.destination))
      for (const destination of Object.keys(declared)) {
        if (taken.has(destination)) continue
        taken.add(destination)
        addVolume(undefined, destination, true, '')
      }
    }
    return mounts.length === 0 ? undefined : mounts
  }

  /** dockerd's way: a random adjective_surname, with a digit on retries, then the short id. */
  private generateName (id: string): string {
    for (let attempt = 0; attempt < 6; attempt++) {
      const name = randomName(this.random, attempt)
      if (!this.names.has(name)) return name
    }
    return id.slice(0, 12)
  }

  setStatus (container: Container, status: ContainerStatus): void {
    const before = container.status
    if (before === 'running' || before === 'restarting') this.running--
    else if (before === 'paused') this.paused--
    container.status = status
    if (status === 'running' || status === 'restarting') this.running++
    else if (status === 'paused') this.paused++
  }

  /** Starts a created or exited container and runs its program until it blocks or exits. */
  start (container: Container): void {
    if (this.closed) throw engineErrors.conflict('the simulator is closing')
    for (const endpoint of container.endpoints) {
      if (!this.networks.has(endpoint.network.id)) throw engineErrors.noSuchNetwork(endpoint.network.name)
    }
    const ports = this.publishPorts(container)
    const activated: Endpoint[] = []
    try {
      for (const endpoint of container.endpoints) {
        this.activate(endpoint, container)
        activated.push(endpoint)
      }
    } catch (error) {
      for (const endpoint of activated) this.deactivate(endpoint)
      this.releasePorts(ports)
      throw error
    }
    container.publishedPorts = ports
    container.pid = this.nextPid++
    container.startedAt = now()
    container.finishedAt = 0
    container.exitCode = 0
    container.error = ''
    container.manuallyStopped = false
    container.hasBeenStarted = true
    this.setStatus(container, 'running')
    this.containerEvent(container, 'start')
    const argv = [...((container.config.Entrypoint as string[] | undefined) ?? []), ...((container.config.Cmd as string[] | undefined) ?? [])]
    while (argv[0] === '') argv.shift()
    const process = new SimProcess(compileCommand(argv), container)
    container.process = process
    process.run()
    const pending = container.pendingStdin
    container.pendingStdin = undefined
    for (const chunk of pending?.take() ?? []) this.stdin(container, chunk ?? undefined)
  }

  private publishPorts (container: Container): PublishedPort[] | undefined {
    const bindings = container.hostConfig.PortBindings as Record<string, Array<{ HostIp?: string, HostPort?: string }> | null> | undefined
    if (bindings === undefined) return undefined
    const ports: PublishedPort[] = []
    try {
      for (const [key, list] of Object.entries(bindings)) {
        const [privatePort = '0', type = 'tcp'] = key.split('/')
        for (const binding of list ?? []) {
          const ip = binding.HostIp === undefined || binding.HostIp === '' ? '0.0.0.0' : binding.HostIp
          let publicPort = Number(binding.HostPort ?? '')
          if (!(publicPort > 0)) {
            do publicPort = this.nextPort = this.nextPort >= 60999 ? 49153 : this.nextPort + 1
            while (this.usedPorts.has(`${ip}:${publicPort}/${type}`))
          }
          const key = `${ip}:${publicPort}/${type}`
          if (this.usedPorts.has(key)) throw engineErrors.internal(`driver failed programming external connectivity on endpoint ${container.name} (${container.id}): Bind for ${ip}:${publicPort} failed: port is already allocated`)
          this.usedPorts.add(key)
          ports.push({ ip, privatePort: Number(privatePort), publicPort, type })
        }
      }
    } catch (error) {
      this.releasePorts(ports)
      throw error
    }
    return ports.length === 0 ? undefined : ports
  }

  private releasePorts (ports: PublishedPort[] | undefined): void {
    for (const port of ports ?? []) this.usedPorts.delete(`${port.ip}:${port.publicPort}/${port.type}`)
  }

  /** Output of a container's main process: kept in its log buffer and copied to its readers. */
  output (container: Container, stream: OutputStream, bytes: Uint8Array): void {
    const time = now()
    container.logs ??= new LogBuffer()
    container.logs.append(time, stream, bytes)
    const readers = container.readers
    if (readers === undefined) return
    // A copy: a reader that overflows leaves the list while this loop runs.
    for (const reader of readers.length === 1 ? readers : [...readers]) {
      if (stream === 1 ? !reader.stdout : !reader.stderr) continue
      reader.queue.push(frameOutput(stream, bytes, reader.multiplexed, reader.timestamps ? time : undefined))
    }
  }

  /** Adds a reader of the container's output from now on, until it stops or the reader goes away. */
  addReader (container: Container, reader: OutputReader): void {
    const readers = container.readers ??= []
    readers.push(reader)
    reader.queue.onClose = () => {
      const list = container.readers
      if (list === undefined) return
      const index = list.indexOf(reader)
      if (index >= 0) list.splice(index, 1)
      if (list.length === 0) container.readers = undefined
    }
  }

  /** `undefined` while the container's stdin takes more, else a promise that resolves once it does. */
  stdinRoom (container: Container): Promise<void> | undefined {
    return container.pendingStdin?.room()
  }

  /** The same for an exec's stdin. */
  execStdinRoom (exec: SimExec): Promise<void> | undefined {
    return exec.pendingStdin?.room()
  }

  /** Stdin for the main process (from an attach). */
  stdin (container: Container, bytes: Uint8Array | undefined): void {
    const process = container.process
    if (process === undefined || !process.running) {
      if (container.status !== 'created' && container.status !== 'exited') return
      ;(container.pendingStdin ??= new PendingStdin()).push(bytes ?? null)
      return
    }
    if (bytes === undefined) process.stdinEnd()
    else process.stdin(bytes)
  }

  /** Sends a signal; the simulated process dies of any signal whose default action ends a process. */
  signal (container: Container, signal: number, manual: boolean): void {
    this.containerEvent(container, 'kill', { signal: String(signal) })
    if (signalIsIgnored(signal)) return
    if (manual) container.manuallyStopped = true
    if (container.status === 'restarting') {
      clearTimeout(container.restartTimer)
      container.restartTimer = undefined
      this.setStatus(container, 'exited')
      this.notifyExit(container)
      return
    }
    container.process?.kill()
    this.exited(container, 128 + signal)
  }

  /** The process exited with `code`: the container stops, readers end, waiters answer, and a restart policy or AutoRemove applies. */
  exited (container: Container, code: number): void {
    if (container.status !== 'running' && container.status !== 'paused') return
    container.process = undefined
    container.exitCode = code
    container.finishedAt = now()
    container.pid = 0
    this.setStatus(container, 'exited')
    for (const execId of container.execIds ?? []) {
      const exec = this.execs.get(execId)
      if (exec?.running === true) this.execExited(exec, 137)
    }
    this.containerEvent(container, 'die', { exitCode: String(code) })
    for (const endpoint of container.endpoints) this.deactivate(endpoint, container)
    this.releasePorts(container.publishedPorts)
    container.publishedPorts = undefined
    if (!container.manuallyStopped && this.shouldRestart(container, code)) {
      this.scheduleRestart(container)
      this.notifyExit(container)
      return
    }
    this.notifyExit(container)
    if (container.hostConfig.AutoRemove === true && !this.closed) this.remove(container, true)
  }

  private notifyExit (container: Container): void {
    const readers = container.readers
    container.readers = undefined
    for (const reader of readers ?? []) reader.queue.end()
    const waiters = container.waiters
    if (waiters === undefined) return
    const remaining = waiters.filter((waiter) => waiter.condition === 'removed')
    container.waiters = remaining.length === 0 ? undefined : remaining
    for (const waiter of waiters) if (waiter.condition !== 'removed') waiter.resolve(container.exitCode)
  }

  private shouldRestart (container: Container, code: number): boolean {
    const policy = container.hostConfig.RestartPolicy as { Name?: string, MaximumRetryCount?: number } | undefined
    switch (policy?.Name) {
      case 'always': case 'unless-stopped': return true
      case 'on-failure': return code !== 0 && (!(Number(policy.MaximumRetryCount) > 0) || container.restartCount < Number(policy.MaximumRetryCount))
      default: return false
    }
  }

  private scheduleRestart (container: Container): void {
    const ranFor = container.finishedAt - container.startedAt
    if (ranFor > 10_000) container.restartCount = 0
    const delay = Math.min(100 * 2 ** container.restartCount, 60_000)
    this.setStatus(container, 'restarting')
    container.restartTimer = setTimeout(() => {
      container.restartTimer = undefined
      if (container.status !== 'restarting') return
      this.setStatus(container, 'exited')
      container.restartCount++
      try {
        this.start(container)
      } catch (error) {
        container.error = (error as Error).message
      }
    }, delay)
    container.restartTimer.unref?.()
  }

  /**
   * Calls `resolve` with the exit code once `condition` holds (at once when it already
   * does); returns a function that stops waiting.
   */
  wait (container: Container, condition: WaitCondition, resolve: (code: number) => void): () => void {
    if (condition === 'not-running' && !container.running) {
      resolve(container.exitCode)
      return () => {}
    }
    const waiter: Waiter = { condition, resolve }
    ;(container.waiters ??= []).push(waiter)
    return () => {
      const list = container.waiters
      const index = list?.indexOf(waiter) ?? -1
      if (list === undefined || index < 0) return
      list.splice(index, 1)
      if (list.length === 0) container.waiters = undefined
    }
  }

  pause (container: Container): void {
    if (!container.running || container.status === 'restarting') throw engineErrors.notRunning(container.id)
    if (container.status === 'paused') throw engineErrors.alreadyPaused(container.id)
    this.setStatus(container, 'paused')
    this.containerEvent(container, 'pause')
  }

  unpause (container: Container): void {
    if (container.status !== 'paused') throw engineErrors.notPaused(container.id)
    this.setStatus(container, 'running')
    this.containerEvent(container, 'unpause')
  }

  /** Removes a container (it must not run); with `volumes`, its anonymous volumes go too. */
  remove (container: Container, volumes: boolean): void {
    if (!this.containers.has(container.id)) return
    clearTimeout(container.restartTimer)
    container.restartTimer = undefined
    for (const endpoint of container.endpoints) {
      this.deactivate(endpoint)
      endpoint.network.endpoints.delete(container.id)
    }
    for (const mount of container.mounts ?? []) {
      if (mount.type !== 'volume') continue
      const volume = this.volumes.get(mount.source)
      if (volume === undefined) continue
      volume.users.delete(container.id)
      if (volumes && volume.anonymous && volume.users.size === 0) {
        this.volumes.delete(volume.name)
        this.emit({ time: now(), type: 'volume', action: 'destroy', id: volume.name, attributes: { driver: volume.driver } })
      }
    }
    for (const execId of container.execIds ?? []) this.execs.delete(execId)
    this.containers.delete(container.id)
    this.containerIds.delete(container.id)
    if (this.names.get(container.name) === container) this.names.delete(container.name)
    this.reservedNanoCpus -= Number(container.hostConfig.NanoCpus ?? 0)
    this.reservedMemory -= Number(container.hostConfig.Memory ?? 0)
    this.setStatus(container, 'dead')
    container.status = 'removing'
    this.containerEvent(container, 'destroy')
    const readers = container.readers
    container.readers = undefined
    for (const reader of readers ?? []) reader.queue.end()
    container.pendingStdin?.take()
    container.pendingStdin = undefined
    const waiters = container.waiters
    container.waiters = undefined
    for (const waiter of waiters ?? []) waiter.resolve(container.exitCode)
  }

  rename (container: Container, name: string): void {
    const oldName = container.name
    this.names.delete(oldName)
    container.name = name
    this.names.set(name, container)
    this.containerEvent(container, 'rename', { oldName: '/' + oldName })
  }

  /** Changes resource limits and restart policy (ContainerUpdate). */
  update (container: Container, changes: Record<string, unknown>): void {
    const before = { nano: Number(container.hostConfig.NanoCpus ?? 0), memory: Number(container.hostConfig.Memory ?? 0) }
    const merged = { ...container.hostConfig }
    for (const [key, value] of Object.entries(changes)) {
      if (value === undefined || value === null) continue
      if (key === 'RestartPolicy') {
        const policy = value as { Name?: string }
        if (policy.Name !== undefined && policy.Name !== '') merged.RestartPolicy = value
        continue
      }
      if (value === 0 || value === '' || (Array.isArray(value) && value.length === 0)) continue
      merged[key] = value
    }
    if (container.hostConfig.AutoRemove === true && (merged.RestartPolicy as { Name?: string } | undefined)?.Name !== undefined &&
      (merged.RestartPolicy as { Name: string }).Name !== 'no') {
      throw engineErrors.badRequest('Cannot update container ' + container.id + ': Restart policy cannot be updated because AutoRemove is enabled for the container')
    }
    container.hostConfig = compactAgainst(merged, HOST_CONFIG_DEFAULTS)
    this.reservedNanoCpus += Number(container.hostConfig.NanoCpus ?? 0) - before.nano
    this.reservedMemory += Number(container.hostConfig.Memory ?? 0) - before.memory
    this.containerEvent(container, 'update')
  }

  // ---- exec ----------------------------------------------------------------

  createExec (container: Container, config: Record<string, unknown>): SimExec {
    const exec: SimExec = { id: this.random.hex(), container, config, running: false, exitCode: null, pid: 0, process: undefined, queue: undefined }
    this.execs.set(exec.id, exec)
    ;(container.execIds ??= []).push(exec.id)
    const cmd = (config.Cmd as string[] | undefined) ?? []
    this.containerEvent(container, `exec_create: ${cmd.join(' ')}`, { execID: exec.id })
    return exec
  }

  /**
   * Starts an exec. With `delayMs` its process starts that much later: a client reading
   * a hijacked stream must have read the response head before the first output arrives
   * (docker-py loses bytes that come with the head; runc gives dockerd that delay).
   */
  startExec (exec: SimExec, queue: ByteQueue | undefined, multiplexed: boolean, delayMs = 0): void {
    const container = exec.container
    exec.running = true
    exec.pid = this.nextPid++
    exec.queue = queue
    const cmd = (exec.config.Cmd as string[] | undefined) ?? []
    this.containerEvent(container, `exec_start: ${cmd.join(' ')}`, { execID: exec.id })
    const process = new SimProcess(compileCommand(cmd), {
      interactive: exec.config.AttachStdin === true,
      tty: exec.config.Tty === true,
      write: (stream, bytes) => {
        if (stream === 1 && exec.config.AttachStdout === false) return
        if (stream === 2 && exec.config.AttachStderr === false) return
        exec.queue?.push(frameOutput(stream, bytes, multiplexed))
      },
      exited: (code) => { this.execExited(exec, code) },
      env: (name) => envValue(container, name, exec.config.Env as string[] | undefined)
    })
    exec.process = process
    const run = (): void => {
      if (exec.process !== process || this.closed) return
      process.run()
      const pending = exec.pendingStdin
      exec.pendingStdin = undefined
      for (const chunk of pending?.take() ?? []) {
        if (chunk === null) process.stdinEnd()
        else process.stdin(chunk)
      }
    }
    if (delayMs <= 0) {
      run()
      return
    }
    exec.pendingStdin = new PendingStdin()
    setTimeout(run, delayMs).unref?.()
  }

  /** Stdin for an exec, held while its process has not started yet; `undefined` is EOF. */
  execStdin (exec: SimExec, bytes: Uint8Array | undefined): void {
    if (exec.pendingStdin !== undefined) {
      exec.pendingStdin.push(bytes ?? null)
      return
    }
    if (bytes === undefined) exec.process?.stdinEnd()
    else exec.process?.stdin(bytes)
  }

  execExited (exec: SimExec, code: number): void {
    if (!exec.running) return
    exec.process?.kill()
    exec.process = undefined
    exec.running = false
    exec.exitCode = code
    exec.pid = 0
    exec.pendingStdin?.take()
    exec.pendingStdin = undefined
    exec.queue?.end()
    exec.queue = undefined
    this.containerEvent(exec.container, 'exec_die', { execID: exec.id, exitCode: String(code) })
  }

  // ---- lifetime -------------------------------------------------------------

  /** Stops every timer and ends every stream; the state stays readable. */
  close (): void {
    if (this.closed) return
    this.closed = true
    for (const container of this.containers.values()) {
      clearTimeout(container.restartTimer)
      container.restartTimer = undefined
      container.process?.kill()
      for (const reader of container.readers ?? []) reader.queue.end()
      container.readers = undefined
      container.pendingStdin?.take()
      for (const waiter of container.waiters ?? []) waiter.resolve(container.exitCode)
      container.waiters = undefined
    }
    for (const exec of this.execs.values()) {
      exec.process?.kill()
      exec.pendingStdin?.take()
      exec.queue?.end()
    }
    this.events.close()
  }

  get isClosed (): boolean { return this.closed }
}

const BRIDGE_OPTIONS: Record<string, string> = {
  'com.docker.network.bridge.default_bridge': 'true',
  'com.docker.network.bridge.enable_icc': 'true',
  'com.docker.network.bridge.enable_ip_masquerade': 'true',
  'com.docker.network.bridge.host_binding_ipv4': '0.0.0.0',
  'com.docker.network.bridge.name': 'docker0',
  'com.docker.network.driver.mtu': '1500'
}

function mergeEnv (image: string[] | undefined, own: string[] | undefined): string[] | undefined {
  if (own === undefined || own.length === 0) return image
  if (image === undefined || image.length === 0) return own
  const merged = [...image]
  for (const entry of own) {
    const key = entry.split('=')[0] as string
    const index = merged.findIndex((existing) => existing.split('=')[0] === key)
    if (index >= 0) merged[index] = entry
    else merged.push(entry)
  }
  return merged
}

function envValue (container: Container, name: string, extra?: string[]): string | undefined {
  if (name === 'HOSTNAME') return (container.config.Hostname as string | undefined) ?? container.id.slice(0, 12)
  for (const list of [extra, container.config.Env as string[] | undefined]) {
    for (const entry of list ?? []) {
      if (entry.startsWith(name + '=')) return entry.slice(name.length + 1)
    }
  }
  if (name === 'HOME') return '/root'
  return undefined
}
