import { ErrorCode, SwarmError } from '@libswarm/core'
import { compileClientRegex } from '@libswarm/docker-api'
import type { MesosCommandInfo, MesosContainerInfo, MesosOffer, MesosRange, MesosResource, MesosTaskInfo } from './mesos-types.js'
import { attributeText, portRanges, scalarResource } from './mesos-types.js'

/** A Classic Swarm constraint, `-e constraint:KEY==VALUE` (or `!=`). */
export interface Constraint {
  key: string
  negated: boolean
  value: string
  matches: (text: string) => boolean
}

/** A published port: the container's, and the host port asked for (0: any from the offer). */
export interface PortRequest { containerPort: number, protocol: string, hostPort: number }

/** What a `docker create` asks of Mesos: resources, ports, constraints, and the DOCKER container to launch. */
export interface TaskSpec {
  image: string
  cpus: number
  mem: number
  ports: PortRequest[]
  constraints: Constraint[]
  command: MesosCommandInfo
  container: MesosContainerInfo
}

/** The label carrying the container's id in the framework, set on the agent's container. */
export const TASK_LABEL = 'libswarm.mesos.task'
/** The label carrying the container's name. */
export const NAME_LABEL = 'libswarm.mesos.name'

interface CreateBody {
  Image?: string
  Cmd?: string[] | string | null
  Entrypoint?: string[] | string | null
  Env?: string[] | null
  Labels?: Record<string, string> | null
  WorkingDir?: string
  User?: string
  Tty?: boolean
  OpenStdin?: boolean
  Hostname?: string
  ExposedPorts?: Record<string, unknown> | null
  HostConfig?: {
    NanoCpus?: number
    CpuShares?: number
    Memory?: number
    PortBindings?: Record<string, Array<{ HostIp?: string, HostPort?: string }> | null> | null
    PublishAllPorts?: boolean
    NetworkMode?: string
    Binds?: string[] | null
    Privileged?: boolean
    ExtraHosts?: string[] | null
  } | null
}

const CONSTRAINT = /^constraint:([^=!<>~]+?)\s*(==|!=)\s*(.*)$/

function constraint (key: string, operator: string, value: string): Constraint {
  const negated = operator === '!='
  let matches: (text: string) => boolean
  if (value.length > 1 && value.startsWith('/') && value.endsWith('/')) {
    const regex = compileClientRegex(value.slice(1, -1))
    matches = (text) => regex.test(text)
  } else if (value.includes('*')) {
    const regex = compileClientRegex(`^${value.split('*').map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`, { ignoreCase: true })
    matches = (text) => regex.test(text)
  } else {
    matches = (text) => text.toLowerCase() === value.toLowerCase()
  }
  return { key: key.trim(), negated, value, matches }
}

function list (value: string[] | string | null | undefined): string[] {
  if (value === undefined || value === null) return []
  return Array.isArray(value) ? value : [value]
}

/**
 * Reads a `ContainerCreate` body into a task: cpus from `--cpus` (NanoCpus) or `-c`
 * (CpuShares counted in CPUs, as Classic Swarm did), mem from `-m`, published ports,
 * `constraint:` entries of Env (taken out of the environment), and the DOCKER ContainerInfo:
 * image, network mode, port mappings, volumes (host paths), privileged, and parameters for
 * the rest (labels, workdir, user, tty, interactive, extra hosts, named volumes).
 */
export function taskSpec (body: CreateBody, id: string, name: string, defaults: { cpus: number, mem: number }): TaskSpec {
  if (typeof body.Image !== 'string' || body.Image === '') throw new SwarmError(ErrorCode.BadRequest, 'config cannot be empty in order to create a container')
  const host = body.HostConfig ?? {}
  const constraints: Constraint[] = []
  const env: Array<{ name: string, value: string }> = []
  for (const entry of body.Env ?? []) {
    if (entry.startsWith('constraint:')) {
      const match = CONSTRAINT.exec(entry)
      if (match === null) throw new SwarmError(ErrorCode.BadRequest, `invalid constraint ${JSON.stringify(entry)}: expected constraint:KEY==VALUE or constraint:KEY!=VALUE`)
      constraints.push(constraint(match[1] as string, match[2] as string, match[3] as string))
      continue
    }
    if (entry.startsWith('affinity:')) throw new SwarmError(ErrorCode.BadRequest, `${entry.split('=')[0] ?? entry}: affinities are not supported by mesos (Mesos places containers by offers; use constraints)`)
    const at = entry.indexOf('=')
    env.push(at < 0 ? { name: entry, value: '' } : { name: entry.slice(0, at), value: entry.slice(at + 1) })
  }
  const cpus = host.NanoCpus !== undefined && host.NanoCpus > 0 ? host.NanoCpus / 1e9 : host.CpuShares !== undefined && host.CpuShares > 0 ? host.CpuShares : defaults.cpus
  const mem = host.Memory !== undefined && host.Memory > 0 ? host.Memory / (1024 * 1024) : defaults.mem
  const ports: PortRequest[] = []
  const bindings = host.PortBindings ?? {}
  for (const [key, hosts] of Object.entries(bindings)) {
    const [port = '', protocol = 'tcp'] = key.split('/')
    for (const binding of hosts ?? [{}]) {
      const hostPort = binding.HostPort === undefined || binding.HostPort === '' ? 0 : Number(binding.HostPort)
      if (!Number.isInteger(hostPort) || hostPort < 0 || hostPort > 65535) throw new SwarmError(ErrorCode.BadRequest, `mesos: host port ranges are not supported: ${JSON.stringify(binding.HostPort)}`)
      ports.push({ containerPort: Number(port), protocol, hostPort })
    }
  }
  if (host.PublishAllPorts === true) {
    for (const key of Object.keys(body.ExposedPorts ?? {})) {
      if (bindings[key] !== undefined) continue
      const [port = '', protocol = 'tcp'] = key.split('/')
      ports.push({ containerPort: Number(port), protocol, hostPort: 0 })
    }
  }
  const parameters: Array<{ key: string, value: string }> = [
    { key: 'label', value: `${TASK_LABEL}=${id}` },
    { key: 'label', value: `${NAME_LABEL}=${name}` },
    ...Object.entries(body.Labels ?? {}).map(([key, value]) => ({ key: 'label', value: `${key}=${value}` }))
  ]
  if (body.WorkingDir !== undefined && body.WorkingDir !== '') parameters.push({ key: 'workdir', value: body.WorkingDir })
  if (body.User !== undefined && body.User !== '') parameters.push({ key: 'user', value: body.User })
  if (body.Tty === true) parameters.push({ key: 'tty', value: 'true' })
  if (body.OpenStdin === true) parameters.push({ key: 'interactive', value: 'true' })
  for (const entry of host.ExtraHosts ?? []) parameters.push({ key: 'add-host', value: entry })
  const volumes: NonNullable<MesosContainerInfo['volumes']> = []
  for (const bind of host.Binds ?? []) {
    const [source = '', target = '', mode = ''] = bind.split(':')
    if (source.startsWith('/')) volumes.push({ host_path: source, container_path: target, mode: mode.split(',').includes('ro') ? 'RO' : 'RW' })
    else parameters.push({ key: 'volume', value: bind })
  }
  const mode = host.NetworkMode ?? ''
  const network = mode === '' || mode === 'default' || mode === 'bridge' ? 'BRIDGE' : mode === 'host' ? 'HOST' : mode === 'none' ? 'NONE' : 'USER'
  const entrypoint = list(body.Entrypoint)
  const cmd = list(body.Cmd)
  const command: MesosCommandInfo = {
    shell: false,
    ...(entrypoint.length > 0 ? { value: entrypoint[0] } : {}),
    arguments: [...entrypoint.slice(1), ...cmd],
    environment: { variables: env }
  }
  return {
    image: body.Image,
    cpus,
    mem,
    ports,
    constraints,
    command,
    container: {
      type: 'DOCKER',
      ...(volumes.length > 0 ? { volumes } : {}),
      ...(body.Hostname !== undefined && body.Hostname !== '' ? { hostname: body.Hostname } : {}),
      docker: { image: body.Image, network, privileged: host.Privileged === true, parameters },
      ...(network === 'USER' ? { network_infos: [{ name: mode }] } : {})
    }
  }
}

/** What is left of an offer as tasks are packed into it. */
export interface OfferSpace {
  offer: MesosOffer
  cpus: number
  mem: number
  ports: MesosRange[]
}

/** The room in an offer. */
export function offerSpace (offer: MesosOffer): OfferSpace {
  return { offer, cpus: scalarResource(offer.resources, 'cpus'), mem: scalarResource(offer.resources, 'mem'), ports: portRanges(offer.resources).map((range) => ({ ...range })) }
}

/** True when the offer's agent meets every constraint (`node`/`hostname` is the agent's hostname, other keys its attributes). */
export function meetsConstraints (offer: MesosOffer, constraints: readonly Constraint[]): boolean {
  return constraints.every((each) => {
    const values = each.key === 'node' || each.key === 'hostname'
      ? [offer.hostname]
      : (offer.attributes ?? []).filter((attribute) => attribute.name === each.key).map(attributeText)
    const found = values.some((value) => each.matches(value))
    return each.negated ? !found : found
  })
}

function takePort (ranges: MesosRange[], wanted: number): number | undefined {
  for (const [index, range] of ranges.entries()) {
    const port = wanted === 0 ? range.begin : wanted
    if (port < range.begin || port > range.end) continue
    const rest: MesosRange[] = []
    if (port > range.begin) rest.push({ begin: range.begin, end: port - 1 })
    if (port < range.end) rest.push({ begin: port + 1, end: range.end })
    ranges.splice(index, 1, ...rest)
    return port
  }
  return undefined
}

/**
 * Fits a task into what is left of an offer: the TaskInfo to LAUNCH (taking its cpus, mem
 * and ports out of `space`), or undefined when it does not fit.
 */
export function fitTask (spec: TaskSpec, space: OfferSpace, taskId: string, name: string): MesosTaskInfo | undefined {
  if (spec.cpus > space.cpus + 1e-9 || spec.mem > space.mem + 1e-9 || !meetsConstraints(space.offer, spec.constraints)) return undefined
  const ranges = space.ports.map((range) => ({ ...range }))
  const mappings: Array<{ host_port: number, container_port: number, protocol: string }> = []
  for (const port of spec.ports) {
    const taken = takePort(ranges, port.hostPort)
    if (taken === undefined) return undefined
    mappings.push({ host_port: taken, container_port: port.containerPort, protocol: port.protocol })
  }
  space.cpus -= spec.cpus
  space.mem -= spec.mem
  space.ports = ranges
  const role = space.offer.resources?.find((resource) => resource.name === 'cpus')?.allocation_info
  const resources: MesosResource[] = [
    { name: 'cpus', type: 'SCALAR', scalar: { value: spec.cpus }, ...(role === undefined ? {} : { allocation_info: role }) },
    { name: 'mem', type: 'SCALAR', scalar: { value: spec.mem }, ...(role === undefined ? {} : { allocation_info: role }) }
  ]
  if (mappings.length > 0) resources.push({ name: 'ports', type: 'RANGES', ranges: { range: mappings.map((mapping) => ({ begin: mapping.host_port, end: mapping.host_port })) }, ...(role === undefined ? {} : { allocation_info: role }) })
  const docker = spec.container.docker as NonNullable<MesosContainerInfo['docker']>
  return {
    name,
    task_id: { value: taskId },
    agent_id: space.offer.agent_id,
    resources,
    command: spec.command,
    container: { ...spec.container, docker: { ...docker, ...(mappings.length > 0 ? { port_mappings: mappings } : {}) } }
  }
}

/** The constraints, resources and ports of a spec, for an error message. */
export function describeSpec (spec: TaskSpec): string {
  const parts = [`cpus ${spec.cpus}`, `mem ${Math.round(spec.mem)} MB`]
  if (spec.ports.length > 0) parts.push(`ports ${spec.ports.map((port) => `${port.hostPort === 0 ? 'any' : port.hostPort}->${port.containerPort}/${port.protocol}`).join(', ')}`)
  for (const each of spec.constraints) parts.push(`constraint ${each.key}${each.negated ? '!=' : '=='}${each.value}`)
  return parts.join(', ')
}
