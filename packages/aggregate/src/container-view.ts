/**
 * What aggregate keeps of one container, derived once from its inspect JSON when the
 * cache learns of it, so that a listing costs one small object per container.
 */

/** The parts of an engine's ContainerInspect answer that aggregate reads. */
export interface ContainerInspect {
  Id: string
  Name?: string
  Created?: string
  Path?: string
  Args?: string[]
  Image?: string
  State?: {
    Status?: string
    Running?: boolean
    Paused?: boolean
    Restarting?: boolean
    Dead?: boolean
    ExitCode?: number
    StartedAt?: string
    FinishedAt?: string
    Health?: { Status?: string }
  }
  Config?: { Image?: string, Labels?: Record<string, string> | null, ExposedPorts?: Record<string, unknown> | null }
  HostConfig?: {
    NetworkMode?: string
    NanoCpus?: number
    CpuShares?: number
    Memory?: number
    PortBindings?: Record<string, Array<{ HostIp?: string, HostPort?: string }> | null> | null
  }
  NetworkSettings?: {
    Ports?: Record<string, Array<{ HostIp?: string, HostPort?: string }> | null> | null
    Networks?: Record<string, { NetworkID?: string }> | null
  }
  Mounts?: Array<{ Name?: string, Source?: string, Destination?: string }>
  [key: string]: unknown
}

/** A container's coarse state, as counted by `docker info`. */
export type ContainerPhase = 'running' | 'paused' | 'stopped'

/** The resources a container reserves on its node. */
export interface Reservation {
  cpus: number
  memory: number
}

/** The JSON of one `docker ps` row, less Names and Status (which depend on the node and the clock). */
export interface SummaryBase {
  Id: string
  Image: string
  ImageID: string
  Command: string
  Created: number
  Ports: Array<{ IP?: string, PrivatePort: number, PublicPort?: number, Type: string }>
  Labels: Record<string, string>
  State: string
  HostConfig: { NetworkMode: string }
  NetworkSettings: { Networks: Record<string, unknown> }
  Mounts: unknown[]
}

/** Reads a container's CPU reservation: `--cpus` exactly; `-c N` below 256 as N CPUs (classic Swarm's reading), above as shares of 1024. */
export function reservedCpus (hostConfig: { NanoCpus?: number, CpuShares?: number } | undefined): number {
  const nano = hostConfig?.NanoCpus ?? 0
  if (nano > 0) return nano / 1e9
  const shares = hostConfig?.CpuShares ?? 0
  if (shares <= 0) return 0
  return shares < 256 ? shares : shares / 1024
}

/** The reservation a create body or an inspect asks for. */
export function reservationOf (hostConfig: ContainerInspect['HostConfig'] | undefined): Reservation {
  return { cpus: reservedCpus(hostConfig), memory: Math.max(0, hostConfig?.Memory ?? 0) }
}

/** `tcp/80`-style keys of the host ports a container binds. */
export function hostPortsOf (hostConfig: ContainerInspect['HostConfig'] | undefined, exposed: Record<string, unknown> | null | undefined): string[] {
  const ports: string[] = []
  if (hostConfig?.NetworkMode === 'host') {
    for (const key of Object.keys(exposed ?? {})) ports.push(portKey(key))
    return ports
  }
  for (const [key, bindings] of Object.entries(hostConfig?.PortBindings ?? {})) {
    const proto = key.split('/')[1] ?? 'tcp'
    for (const binding of bindings ?? []) {
      const hostPort = binding.HostPort ?? ''
      if (hostPort === '' || hostPort === '0') continue
      // a range such as 8000-8002 reserves each port in it
      const [low = '', high = low] = hostPort.split('-')
      for (let port = Number(low); port <= Number(high); port++) ports.push(`${proto}/${port}`)
    }
  }
  return ports
}

function portKey (key: string): string {
  const [port = '', proto = 'tcp'] = key.split('/')
  return `${proto}/${port}`
}

/** The coarse state of a container. */
export function phaseOf (inspect: ContainerInspect): ContainerPhase {
  const state = inspect.State
  if (state?.Paused === true) return 'paused'
  if (state?.Running === true) return 'running'
  return 'stopped'
}

/** The summary fields of a container that do not change with the clock. */
export function summaryBase (inspect: ContainerInspect): SummaryBase {
  const ports: SummaryBase['Ports'] = []
  for (const [key, bindings] of Object.entries(inspect.NetworkSettings?.Ports ?? {})) {
    const [port = '0', type = 'tcp'] = key.split('/')
    if (bindings === null || bindings.length === 0) {
      ports.push({ PrivatePort: Number(port), Type: type })
      continue
    }
    for (const binding of bindings) {
      ports.push({ IP: binding.HostIp ?? '', PrivatePort: Number(port), PublicPort: Number(binding.HostPort ?? 0), Type: type })
    }
  }
  const command = [inspect.Path ?? '', ...(inspect.Args ?? [])].filter((part) => part !== '').join(' ')
  return {
    Id: inspect.Id,
    Image: inspect.Config?.Image ?? '',
    ImageID: inspect.Image ?? '',
    Command: command,
    Created: inspect.Created === undefined ? 0 : Math.floor(Date.parse(inspect.Created) / 1000),
    Ports: ports,
    Labels: inspect.Config?.Labels ?? {},
    State: inspect.State?.Status ?? 'created',
    HostConfig: { NetworkMode: inspect.HostConfig?.NetworkMode ?? 'default' },
    NetworkSettings: { Networks: inspect.NetworkSettings?.Networks ?? {} },
    Mounts: inspect.Mounts ?? []
  }
}

/** Docker's (go-units') human duration: `Less than a second`, `About a minute`, `3 hours`. */
export function humanDuration (milliseconds: number): string {
  const seconds = Math.floor(milliseconds / 1000)
  if (seconds < 1) return 'Less than a second'
  if (seconds === 1) return '1 second'
  if (seconds < 60) return `${seconds} seconds`
  const minutes = Math.floor(seconds / 60)
  if (minutes === 1) return 'About a minute'
  if (minutes < 60) return `${minutes} minutes`
  const hours = Math.round(milliseconds / 3_600_000)
  if (hours === 1) return 'About an hour'
  if (hours < 48) return `${hours} hours`
  if (hours < 24 * 7 * 2) return `${Math.floor(hours / 24)} days`
  if (hours < 24 * 30 * 2) return `${Math.floor(hours / 24 / 7)} weeks`
  if (hours < 24 * 365 * 2) return `${Math.floor(hours / 24 / 30)} months`
  return `${Math.floor(hours / 24 / 365)} years`
}

const ZERO_TIME = '0001-01-01T00:00:00Z'

/** A container's StartedAt and FinishedAt in milliseconds, parsed once. */
export interface StateTimes {
  started: number
  finished: number
}

/** Parses a state's times once, for {@link statusText}. */
export function stateTimes (state: ContainerInspect['State']): StateTimes {
  return { started: Date.parse(state?.StartedAt ?? ZERO_TIME), finished: Date.parse(state?.FinishedAt ?? ZERO_TIME) }
}

/** The STATUS column of `docker ps`, as the engine words it. */
export function statusText (state: ContainerInspect['State'], now = Date.now(), times: StateTimes = stateTimes(state)): string {
  if (state === undefined) return ''
  if (state.Running === true) {
    if (state.Paused === true) return `Up ${humanDuration(now - times.started)} (Paused)`
    if (state.Restarting === true) return `Restarting (${state.ExitCode ?? 0}) ${humanDuration(now - times.finished)} ago`
    const health = state.Health?.Status
    const suffix = health === undefined || health === 'none' || health === '' ? '' : health === 'starting' ? ' (health: starting)' : ` (${health})`
    return `Up ${humanDuration(now - times.started)}${suffix}`
  }
  if (state.Status === 'removing') return 'Removal In Progress'
  if (state.Dead === true || state.Status === 'dead') return 'Dead'
  if (state.StartedAt === undefined || state.StartedAt.startsWith('0001-')) return 'Created'
  if (state.FinishedAt === undefined || state.FinishedAt.startsWith('0001-')) return ''
  return `Exited (${state.ExitCode ?? 0}) ${humanDuration(now - times.finished)} ago`
}

/**
 * An image reference in the one form a node's image index keys by: `busybox` and
 * `docker.io/library/busybox:latest` are both `busybox:latest`.
 */
export function normalizeImageRef (ref: string): string {
  let name = ref
  if (name.startsWith('sha256:')) return name
  for (const prefix of ['docker.io/', 'index.docker.io/', 'registry-1.docker.io/']) {
    if (name.startsWith(prefix)) { name = name.slice(prefix.length); break }
  }
  if (name.startsWith('library/')) name = name.slice('library/'.length)
  if (name.includes('@')) return name
  const lastSlash = name.lastIndexOf('/')
  if (!name.slice(lastSlash + 1).includes(':')) name += ':latest'
  return name
}
