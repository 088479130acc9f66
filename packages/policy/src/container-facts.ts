import { posix } from 'node:path'
import { queryValue, type DockerRequest } from '@libswarm/docker-api'
import { valuesAt } from './canonical-body.js'

/** A host path a request would mount, and whether read-only. */
export interface HostMount {
  readonly path: string
  readonly readOnly: boolean
  /** How it is asked for, for the denial's message: `-v`, `--mount`, `volume option`, `service mount`. */
  readonly how: string
}

/**
 * What a request asks of the host, read once from its canonical body and query: the facts every
 * limit and `when` is checked against. Fields stay empty for operations that cannot ask for them.
 */
export interface RequestFacts {
  /** Images the request would run or pull, normalized (`docker.io/library/busybox:latest`). */
  readonly images: string[]
  /** Images taken in by content rather than by name (`docker import`). */
  readonly imports: boolean
  readonly privileged: boolean
  readonly capAdd: string[]
  readonly devices: boolean
  readonly securityOptions: string[]
  /** MaskedPaths or ReadonlyPaths given: /proc and /sys paths unmasked (`systempaths=unconfined`). */
  readonly systemPaths: boolean
  /** Host namespaces and host-level settings asked for, as the CLI flag: `--pid host`. */
  readonly hostNamespaces: string[]
  readonly hostMounts: HostMount[]
  readonly volumesFrom: string[]
  readonly volumeDrivers: string[]
  /** The user a container or exec runs as (`''`: the image's); undefined where none is given. */
  readonly user?: string | undefined
  /** Memory limit in bytes (0: none); undefined where the operation sets none. */
  readonly memory?: number | undefined
  /** CPUs (0: no limit); undefined where the operation sets none. */
  readonly cpus?: number | undefined
  /** Host ports published (`''`: a random one). */
  readonly hostPorts: string[]
  readonly labels: Record<string, string>
  readonly restartPolicy?: string | undefined
  readonly buildNetwork?: string | undefined
  /** Objects the request names, which an ownOnly client must own. */
  readonly containers: string[]
  readonly volumes: string[]
  readonly networks: string[]
}

type JsonObject = Record<string, unknown>
const object = (value: unknown): JsonObject => typeof value === 'object' && value !== null && !Array.isArray(value) ? value as JsonObject : {}
const strings = (value: unknown): string[] => typeof value === 'string' ? [value] : Array.isArray(value) ? value.filter((item): item is string => typeof item === 'string') : []
const text = (value: unknown): string => typeof value === 'string' ? value : ''
const number = (value: unknown): number => typeof value === 'number' && Number.isFinite(value) ? value : 0

const SIZE_UNITS: Record<string, number> = { '': 1, b: 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 }

/** `512m`, `2g`, `1.5G`, `1048576` as bytes, as the docker CLI reads `--memory` (binary units). */
export function parseSize (size: string | number): number {
  if (typeof size === 'number') return size
  const match = /^([0-9]+(?:\.[0-9]+)?)\s*([bkmgt]?)b?$/i.exec(size.trim())
  if (match === null) throw new Error(`not a size: ${size}`)
  return Math.round(Number(match[1]) * (SIZE_UNITS[(match[2] as string).toLowerCase()] as number))
}

/**
 * An image reference as the engine reads it: `busybox` is `docker.io/library/busybox:latest`,
 * `me/app:1` is `docker.io/me/app:1`, `localhost:5000/app@sha256:...` keeps its registry and digest.
 * An image id (`sha256:...`) stays as it is.
 */
export function normalizeImage (reference: string): string {
  if (reference.length > 7 && reference.slice(0, 7).toLowerCase() === 'sha256:' && /^sha256:[0-9a-f]+$/i.test(reference)) return reference.toLowerCase()
  let rest = reference
  let digest = ''
  const at = rest.indexOf('@')
  if (at >= 0) { digest = rest.slice(at); rest = rest.slice(0, at) }
  let tag = ''
  const colon = rest.lastIndexOf(':')
  if (colon > rest.lastIndexOf('/')) { tag = rest.slice(colon); rest = rest.slice(0, colon) }
  const slash = rest.indexOf('/')
  const first = slash < 0 ? '' : rest.slice(0, slash)
  let name: string
  if (slash < 0) name = `docker.io/library/${rest}`
  else if (first.includes('.') || first.includes(':') || first === 'localhost') name = first === 'index.docker.io' ? `docker.io${rest.slice(slash)}` : rest
  else name = `docker.io/${rest}`
  if (name.startsWith('docker.io/') && name.indexOf('/', 'docker.io/'.length) < 0) name = `docker.io/library/${name.slice('docker.io/'.length)}`
  if (tag === '' && digest === '') tag = ':latest'
  return `${name.toLowerCase()}${tag}${digest}`
}

/** The familiar form the CLI prints: `busybox:latest`, `me/app:1`, registries kept. */
export function familiarImage (normalized: string): string {
  if (normalized.startsWith('docker.io/library/')) return normalized.slice('docker.io/library/'.length)
  if (normalized.startsWith('docker.io/')) return normalized.slice('docker.io/'.length)
  return normalized
}

/** A path as the engine will mount it: `..`, `.` and doubled slashes resolved. */
export function normalizeHostPath (path: string): string {
  const normalized = posix.normalize(path)
  return normalized.length > 1 && normalized.endsWith('/') ? normalized.slice(0, -1) : normalized
}

const MOUNT_MODES = new Set(['rw', 'ro', 'z', 'Z', 'shared', 'slave', 'private', 'rshared', 'rslave', 'rprivate', 'nocopy', 'consistent', 'cached', 'delegated'])
const isMode = (text: string): boolean => text !== '' && text.split(',').every((mode) => MOUNT_MODES.has(mode))
const VOLUME_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]+$/

/** One `-v` entry split as dockerd's linux parser splits it. */
export function parseBind (bind: string): { source: string, target: string, mode: string } {
  const parts = bind.split(':')
  if (parts.length === 1) return { source: '', target: bind, mode: '' }
  if (parts.length === 2) return isMode(parts[1] as string) ? { source: '', target: parts[0] as string, mode: parts[1] as string } : { source: parts[0] as string, target: parts[1] as string, mode: '' }
  return { source: parts[0] as string, target: parts[1] as string, mode: parts.slice(2).join(':') }
}

/** A local volume's driver options name a host path when they bind (`o=bind`, `type=none`) or mount a device. */
function volumeOptionMount (driver: string, options: JsonObject, how: string): HostMount | undefined {
  if (driver !== '' && driver !== 'local') return undefined
  const device = text(options.device)
  if (!device.startsWith('/')) return undefined
  const o = text(options.o).split(',')
  return { path: normalizeHostPath(device), readOnly: o.includes('ro'), how }
}

const NAMESPACE_FLAGS: ReadonlyArray<[string, string]> = [
  ['PidMode', '--pid'], ['IpcMode', '--ipc'], ['NetworkMode', '--network'], ['UsernsMode', '--userns'], ['UTSMode', '--uts'], ['CgroupnsMode', '--cgroupns']
]
const BUILTIN_NETWORKS = new Set(['', 'default', 'bridge', 'none', 'host'])

function emptyFacts (): RequestFacts {
  return {
    images: [], imports: false, privileged: false, capAdd: [], devices: false, securityOptions: [], systemPaths: false, hostNamespaces: [],
    hostMounts: [], volumesFrom: [], volumeDrivers: [], hostPorts: [], labels: {}, containers: [], volumes: [], networks: []
  }
}

function containerCreateFacts (body: JsonObject): RequestFacts {
  const facts = emptyFacts()
  const host = object(body.HostConfig)
  const image = text(body.Image)
  if (image !== '') facts.images.push(normalizeImage(image))
  const mutable = facts as { -readonly [K in keyof RequestFacts]: RequestFacts[K] }
  mutable.privileged = host.Privileged === true
  facts.capAdd.push(...strings(host.CapAdd).map(capability))
  mutable.devices = strings(host.DeviceCgroupRules).length > 0 || (Array.isArray(host.Devices) && host.Devices.length > 0) ||
    (Array.isArray(host.DeviceRequests) && host.DeviceRequests.length > 0)
  facts.securityOptions.push(...strings(host.SecurityOpt))
  mutable.systemPaths = Array.isArray(host.MaskedPaths) || Array.isArray(host.ReadonlyPaths)
  for (const [field, flag] of NAMESPACE_FLAGS) {
    const mode = text(host[field])
    if (mode === 'host') facts.hostNamespaces.push(`${flag} host`)
    if (mode.startsWith('container:')) facts.containers.push(mode.slice('container:'.length))
    if (field === 'NetworkMode' && !BUILTIN_NETWORKS.has(mode) && !mode.startsWith('container:')) facts.networks.push(mode)
  }
  if (text(host.CgroupParent) !== '') facts.hostNamespaces.push('--cgroup-parent')
  for (const bind of strings(host.Binds)) {
    const { source, mode } = parseBind(bind)
    if (source.startsWith('/')) facts.hostMounts.push({ path: normalizeHostPath(source), readOnly: mode.split(',').includes('ro'), how: '-v' })
    else if (source !== '') facts.volumes.push(source)
  }
  const volumeDriver = text(host.VolumeDriver)
  if (volumeDriver !== '') facts.volumeDrivers.push(volumeDriver)
  for (const raw of Array.isArray(host.Mounts) ? host.Mounts : []) {
    const mount = object(raw)
    const type = text(mount.Type)
    const source = text(mount.Source)
    if (type === 'bind') facts.hostMounts.push({ path: normalizeHostPath(source), readOnly: mount.ReadOnly === true, how: '--mount type=bind' })
    else if (type === 'volume') {
      if (VOLUME_NAME.test(source)) facts.volumes.push(source)
      const driver = object(object(mount.VolumeOptions).DriverConfig)
      const name = text(driver.Name)
      if (name !== '') facts.volumeDrivers.push(name)
      const optionMount = volumeOptionMount(name, object(driver.Options), '--mount volume-opt')
      if (optionMount !== undefined) facts.hostMounts.push({ ...optionMount, readOnly: optionMount.readOnly || mount.ReadOnly === true })
    } else if (type !== 'tmpfs') facts.hostMounts.push({ path: source === '' ? `(${type})` : normalizeHostPath(source), readOnly: mount.ReadOnly === true, how: `--mount type=${type}` })
  }
  facts.volumesFrom.push(...strings(host.VolumesFrom))
  // `--volumes-from name:ro`: the container is what comes before the colon
  facts.containers.push(...facts.volumesFrom.map((entry) => entry.split(':')[0] as string))
  facts.containers.push(...strings(host.Links).map((link) => (link.split(':')[0] as string).replace(/^\//, '')))
  for (const name of Object.keys(object(object(body.NetworkingConfig).EndpointsConfig))) if (!BUILTIN_NETWORKS.has(name)) facts.networks.push(name)
  mutable.user = text(body.User)
  Object.assign(mutable, resourceFacts(host))
  for (const bindings of Object.values(object(host.PortBindings))) {
    for (const binding of Array.isArray(bindings) ? bindings : []) facts.hostPorts.push(text(object(binding).HostPort))
  }
  if (host.PublishAllPorts === true) facts.hostPorts.push('')
  for (const [key, value] of Object.entries(object(body.Labels))) facts.labels[key] = text(value)
  mutable.restartPolicy = text(object(host.RestartPolicy).Name)
  return facts
}

function resourceFacts (resources: JsonObject): Pick<RequestFacts, 'memory' | 'cpus'> {
  const quota = number(resources.CpuQuota)
  const period = number(resources.CpuPeriod) || 100_000
  const cpus = number(resources.NanoCpus) > 0 ? number(resources.NanoCpus) / 1e9 : quota > 0 ? quota / period : 0
  return { memory: number(resources.Memory), cpus }
}

/** `cap_sys_admin`, `CAP_SYS_ADMIN` and `SYS_ADMIN` are one capability to the engine. */
export function capability (name: string): string {
  const upper = name.toUpperCase()
  return upper.startsWith('CAP_') ? upper.slice(4) : upper
}

/** The facts of a request whose body is already canonical. */
export function requestFacts (request: DockerRequest): RequestFacts {
  const body = object(request.body)
  switch (request.operation) {
    case 'ContainerCreate':
      return containerCreateFacts(body)
    case 'ContainerUpdate': {
      const facts = emptyFacts()
      Object.assign(facts, resourceFacts(body))
      ;(facts as { devices: boolean }).devices = strings(body.DeviceCgroupRules).length > 0 || (Array.isArray(body.Devices) && body.Devices.length > 0) ||
        (Array.isArray(body.DeviceRequests) && body.DeviceRequests.length > 0)
      if (body.RestartPolicy !== undefined && body.RestartPolicy !== null) (facts as { restartPolicy?: string }).restartPolicy = text(object(body.RestartPolicy).Name)
      return facts
    }
    case 'ContainerExec': {
      const facts = emptyFacts()
      ;(facts as { privileged: boolean }).privileged = body.Privileged === true
      ;(facts as { user?: string }).user = text(body.User)
      return facts
    }
    case 'VolumeCreate': {
      const facts = emptyFacts()
      const driver = text(body.Driver)
      if (driver !== '') facts.volumeDrivers.push(driver)
      const mount = volumeOptionMount(driver, object(body.DriverOpts), 'volume option')
      if (mount !== undefined) facts.hostMounts.push(mount)
      for (const [key, value] of Object.entries(object(body.Labels))) facts.labels[key] = text(value)
      return facts
    }
    case 'NetworkCreate': {
      const facts = emptyFacts()
      const driver = text(body.Driver)
      // macvlan and ipvlan sit on a host interface
      if (driver === 'macvlan' || driver === 'ipvlan') facts.hostNamespaces.push(`--driver ${driver}`)
      // a bridge network named after a host bridge joins containers to it
      if (Object.hasOwn(object(body.Options), 'com.docker.network.bridge.name')) facts.hostNamespaces.push('--opt com.docker.network.bridge.name')
      for (const [key, value] of Object.entries(object(body.Labels))) facts.labels[key] = text(value)
      return facts
    }
    case 'NetworkConnect':
    case 'NetworkDisconnect': {
      const facts = emptyFacts()
      const container = text(body.Container)
      if (container !== '') facts.containers.push(container)
      return facts
    }
    case 'ImageCreate': {
      const facts = emptyFacts()
      const from = queryValue(request.query, 'fromImage') ?? ''
      const tag = queryValue(request.query, 'tag') ?? ''
      if (queryValue(request.query, 'fromSrc') !== undefined) (facts as { imports: boolean }).imports = true
      if (from !== '') facts.images.push(normalizeImage(tag === '' ? from : tag.startsWith('sha256:') ? `${from}@${tag}` : `${from}:${tag}`))
      return facts
    }
    case 'ImageBuild': {
      const facts = emptyFacts()
      ;(facts as { buildNetwork?: string }).buildNetwork = queryValue(request.query, 'networkmode') || 'default'
      if ((queryValue(request.query, 'cgroupparent') ?? '') !== '') facts.hostNamespaces.push('--cgroup-parent')
      return facts
    }
    case 'ImageCommit': {
      const facts = emptyFacts()
      const container = queryValue(request.query, 'container') ?? ''
      if (container !== '') facts.containers.push(container)
      return facts
    }
    case 'ServiceCreate':
    case 'ServiceUpdate':
      return serviceFacts(request.body)
    default:
      return emptyFacts()
  }
}

/** A swarm service spec has no Go type table here: every spelling of each key is read. */
function serviceFacts (body: unknown): RequestFacts {
  const facts = emptyFacts()
  const spec = ['TaskTemplate', 'ContainerSpec']
  for (const image of valuesAt(body, [...spec, 'Image'])) if (typeof image === 'string' && image !== '') facts.images.push(normalizeImage(image))
  for (const mount of valuesAt(body, [...spec, 'Mounts', '*'])) {
    const types = valuesAt(mount, ['Type'])
    const sources = valuesAt(mount, ['Source']).filter((source): source is string => typeof source === 'string')
    const readOnly = valuesAt(mount, ['ReadOnly']).every((value) => value === true) && valuesAt(mount, ['ReadOnly']).length > 0
    if (types.some((type) => type !== 'volume' && type !== 'tmpfs')) {
      for (const source of sources.length === 0 ? [''] : sources) facts.hostMounts.push({ path: normalizeHostPath(source || '/'), readOnly, how: 'service --mount' })
    }
  }
  facts.capAdd.push(...valuesAt(body, [...spec, 'CapabilityAdd']).flatMap(strings).map(capability))
  return facts
}
