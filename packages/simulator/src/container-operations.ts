import type { Message } from '@libswarm/core'
import { CONTAINER_UPDATE_BODY, checkPortBindings, decodeEngineBody, filterMatcher, goFieldNames, headerValue, jsonReply, parseFilters, queryFlag, queryValue, type DockerRequest } from '@libswarm/docker-api'
import { ByteQueue } from './byte-queue.js'
import { humanDuration, now, parseClientTime, rfc3339 } from './clock.js'
import type { Container, Engine, SimExec, WaitCondition } from './engine.js'
import { engineErrors } from './errors.js'
import { labelMatches } from './event-log.js'
import { frameOutput } from './log-buffer.js'
import { bodyObject, emptyReply, streamReply, type Operation } from './operation.js'
import { parseSignal } from './process-model.js'

const UPDATE_FIELDS = goFieldNames(CONTAINER_UPDATE_BODY)

const RAW_STREAM = 'application/vnd.docker.raw-stream'
/** How long an attached exec waits before its process starts (see Engine.startExec). */
const EXEC_START_DELAY_MS = 20
const LIST_FILTERS = new Set(['ancestor', 'before', 'expose', 'exited', 'health', 'id', 'isolation', 'is-task', 'label', 'name', 'network', 'publish', 'since', 'status', 'volume'])
const STATUSES = new Set(['created', 'restarting', 'running', 'removing', 'paused', 'exited', 'dead'])
const NAME_PATTERN = /^\/?[a-zA-Z0-9][a-zA-Z0-9_.-]+$/
const encoder = new TextEncoder()

/**
 * The health of a container with a healthcheck: the simulator's checks always pass, so
 * it is healthy while it runs (dockerd says unhealthy once it has stopped).
 */
export function healthStatus (container: Container): 'healthy' | 'unhealthy' | undefined {
  const check = container.config.Healthcheck as { Test?: string[] | null } | undefined
  if (check === undefined || check.Test === null || check.Test === undefined || check.Test.length === 0 || check.Test[0] === 'NONE') return undefined
  return container.status === 'running' || container.status === 'paused' ? 'healthy' : 'unhealthy'
}

/** `docker ps`'s Status column. */
export function statusText (container: Container, at = Date.now()): string {
  switch (container.status) {
    case 'created': return 'Created'
    case 'running': {
      const health = healthStatus(container)
      return `Up ${humanDuration(at - container.startedAt)}${health === undefined ? '' : ` (${health})`}`
    }
    case 'paused': return `Up ${humanDuration(at - container.startedAt)} (Paused)`
    case 'restarting': return `Restarting (${container.exitCode}) ${humanDuration(at - container.finishedAt)} ago`
    case 'exited': return container.finishedAt === 0 ? 'Created' : `Exited (${container.exitCode}) ${humanDuration(at - container.finishedAt)} ago`
    case 'removing': return 'Removal In Progress'
    case 'dead': return 'Dead'
  }
}

function argv (container: Container): string[] {
  return [...((container.config.Entrypoint as string[] | undefined) ?? []), ...((container.config.Cmd as string[] | undefined) ?? [])]
}

function networkSummary (engine: Engine, container: Container): Record<string, unknown> {
  const networks: Record<string, unknown> = {}
  for (const endpoint of container.endpoints) {
    const network = endpoint.network
    const address = engine.address(endpoint)
    networks[network.name] = {
      IPAMConfig: endpoint.ipamConfig,
      Links: null,
      Aliases: endpoint.aliases,
      NetworkID: network.id,
      EndpointID: endpoint.endpointId,
      Gateway: address === '' ? '' : engine.gateway(network),
      IPAddress: address,
      IPPrefixLen: address === '' ? 0 : network.subnet?.prefix ?? 0,
      IPv6Gateway: '',
      GlobalIPv6Address: '',
      GlobalIPv6PrefixLen: 0,
      MacAddress: address === '' ? '' : macFor(address),
      DriverOpts: null
    }
  }
  return networks
}

const HEX_BYTES = Array.from({ length: 256 }, (_, byte) => byte.toString(16).padStart(2, '0'))

/** dockerd 20.10 derives a container's MAC from its IPv4 address. */
export function macFor (address: string): string {
  let mac = '02:42'
  let start = 0
  for (let part = 0; part < 4; part++) {
    const end = part === 3 ? address.length : address.indexOf('.', start)
    mac += ':' + (HEX_BYTES[Number(address.slice(start, end))] as string)
    start = end + 1
  }
  return mac
}

function portsSummary (container: Container): Array<Record<string, unknown>> {
  const ports: Array<Record<string, unknown>> = []
  for (const port of container.publishedPorts ?? []) ports.push({ IP: port.ip, PrivatePort: port.privatePort, PublicPort: port.publicPort, Type: port.type })
  const exposed = container.config.ExposedPorts as Record<string, unknown> | undefined
  for (const key of Object.keys(exposed ?? {})) {
    const [port = '0', type = 'tcp'] = key.split('/')
    if (!ports.some((published) => published.PrivatePort === Number(port) && published.Type === type)) ports.push({ PrivatePort: Number(port), Type: type })
  }
  return ports
}

function mountsOf (container: Container): Array<Record<string, unknown>> {
  return (container.mounts ?? []).map((mount) => mount.type === 'volume'
    ? { Type: 'volume', Name: mount.source, Source: `/var/lib/docker/volumes/${mount.source}/_data`, Destination: mount.destination, Driver: 'local', Mode: mount.mode, RW: mount.rw, Propagation: '' }
    : { Type: 'bind', Source: mount.source, Destination: mount.destination, Mode: mount.mode, RW: mount.rw, Propagation: 'rprivate' })
}

/** One entry of `GET /containers/json`. */
export function containerSummary (engine: Engine, container: Container, size = false, at = Date.now()): Record<string, unknown> {
  const summary: Record<string, unknown> = {
    Id: container.id,
    Names: ['/' + container.name],
    Image: container.image,
    ImageID: container.imageId,
    Command: argv(container).join(' '),
    Created: Math.floor(container.created / 1000),
    Ports: portsSummary(container),
    Labels: container.labels,
    State: container.status,
    Status: statusText(container, at),
    HostConfig: { NetworkMode: (container.hostConfig.NetworkMode as string | undefined) ?? 'default' },
    NetworkSettings: { Networks: networkSummary(engine, container) },
    Mounts: mountsOf(container)
  }
  if (size) {
    summary.SizeRw = container.logs === undefined ? 0 : 4096
    summary.SizeRootFs = engine.images.get(container.imageId)?.size ?? 0
  }
  return summary
}

/** `GET /containers/{id}/json`. */
export function containerInspect (engine: Engine, container: Container, size = false): Record<string, unknown> {
  const [path = '', ...args] = argv(container)
  const primary = container.endpoints[0]
  const primaryAddress = primary === undefined || primary.network.driver !== 'bridge' || !primary.network.builtin ? '' : engine.address(primary)
  const layer = container.id
  const inspect: Record<string, unknown> = {
    Id: container.id,
    Created: rfc3339(container.created),
    Path: path,
    Args: args,
    State: {
      Status: container.status,
      Running: container.running,
      Paused: container.status === 'paused',
      Restarting: container.status === 'restarting',
      OOMKilled: false,
      Dead: container.status === 'dead',
      Pid: container.pid,
      ExitCode: container.exitCode,
      Error: container.error,
      StartedAt: rfc3339(container.startedAt),
      FinishedAt: rfc3339(container.finishedAt),
      ...healthState(container)
    },
    Image: container.imageId,
    ResolvConfPath: `/var/lib/docker/containers/${container.id}/resolv.conf`,
    HostnamePath: `/var/lib/docker/containers/${container.id}/hostname`,
    HostsPath: `/var/lib/docker/containers/${container.id}/hosts`,
    LogPath: `/var/lib/docker/containers/${container.id}/${container.id}-json.log`,
    Name: '/' + container.name,
    RestartCount: container.restartCount,
    Driver: 'overlay2',
    Platform: 'linux',
    MountLabel: '',
    ProcessLabel: '',
    AppArmorProfile: '',
    ExecIDs: container.execIds === undefined || container.execIds.length === 0 ? null : container.execIds,
    HostConfig: container.fullHostConfig(),
    GraphDriver: {
      Data: {
        LowerDir: `/var/lib/docker/overlay2/${layer}-init/diff`,
        MergedDir: `/var/lib/docker/overlay2/${layer}/merged`,
        UpperDir: `/var/lib/docker/overlay2/${layer}/diff`,
        WorkDir: `/var/lib/docker/overlay2/${layer}/work`
      },
      Name: 'overlay2'
    },
    Mounts: mountsOf(container),
    Config: container.fullConfig(),
    NetworkSettings: {
      Bridge: '',
      SandboxID: container.running ? container.id.split('').reverse().join('') : '',
      HairpinMode: false,
      LinkLocalIPv6Address: '',
      LinkLocalIPv6PrefixLen: 0,
      Ports: portMap(container),
      SandboxKey: container.running ? `/var/run/docker/netns/${container.id.slice(0, 12)}` : '',
      SecondaryIPAddresses: null,
      SecondaryIPv6Addresses: null,
      EndpointID: primaryAddress === '' ? '' : primary?.endpointId ?? '',
      Gateway: primaryAddress === '' || primary === undefined ? '' : engine.gateway(primary.network),
      GlobalIPv6Address: '',
      GlobalIPv6PrefixLen: 0,
      IPAddress: primaryAddress,
      IPPrefixLen: primaryAddress === '' ? 0 : primary?.network.subnet?.prefix ?? 0,
      IPv6Gateway: '',
      MacAddress: primaryAddress === '' ? '' : macFor(primaryAddress),
      Networks: networkSummary(engine, container)
    }
  }
  if (size) {
    inspect.SizeRw = container.logs === undefined ? 0 : 4096
    inspect.SizeRootFs = engine.images.get(container.imageId)?.size ?? 0
  }
  return inspect
}

function healthState (container: Container): { Health?: unknown } {
  const status = healthStatus(container)
  if (status === undefined || !container.hasBeenStarted) return {}
  const log = status === 'healthy'
    ? [{ Start: rfc3339(container.startedAt), End: rfc3339(container.startedAt), ExitCode: 0, Output: '' }]
    : []
  return { Health: { Status: status, FailingStreak: 0, Log: log } }
}

function portMap (container: Container): Record<string, unknown> {
  const ports: Record<string, Array<{ HostIp: string, HostPort: string }> | null> = {}
  for (const key of Object.keys((container.config.ExposedPorts as Record<string, unknown> | undefined) ?? {})) ports[key] = null
  for (const port of container.publishedPorts ?? []) {
    const key = `${port.privatePort}/${port.type}`
    const list = ports[key] ?? []
    list.push({ HostIp: port.ip, HostPort: String(port.publicPort) })
    ports[key] = list
  }
  return ports
}

const list: Operation = (engine, request) => {
  const query = request.query
  const filters = parseFilters(query)
  for (const key of Object.keys(filters)) if (!LIST_FILTERS.has(key)) throw engineErrors.badRequest(`Invalid filter '${key}'`)
  for (const status of filters.status ?? []) {
    if (!STATUSES.has(status)) throw engineErrors.badRequest(`Unrecognised filter value for status: ${status}`)
  }
  const limit = Number(queryValue(query, 'limit') ?? -1)
  let all = queryFlag(query, 'all') || limit > 0 || filters.before !== undefined || filters.since !== undefined
  if (filters.status !== undefined || filters.exited !== undefined) all = true
  const size = queryFlag(query, 'size')
  const ids = filters.id === undefined ? undefined : filterMatcher(filters.id)
  const names = filters.name === undefined ? undefined : filterMatcher(filters.name)
  const before = filters.before?.[0] === undefined ? undefined : engine.getContainer(filters.before[0]).created
  const since = filters.since?.[0] === undefined ? undefined : engine.getContainer(filters.since[0]).created
  const ancestors = filters.ancestor?.map((reference) => engine.findImage(reference)?.id ?? reference)
  const networks = filters.network
  const volumes = filters.volume
  const exited = filters.exited?.map(Number)
  const newestFirst = [...engine.containers.values()].reverse()
  const at = Date.now()
  const result: Array<Record<string, unknown>> = []
  for (const container of newestFirst) {
    if (!all && !container.running) continue
    if (filters.status !== undefined && !filters.status.includes(container.status)) continue
    if (ids !== undefined && !ids(container.id)) continue
    if (names !== undefined && !names('/' + container.name) && !names(container.name)) continue
    if (filters.label !== undefined && !filters.label.every((label) => labelMatches(label, container.labels))) continue
    if (before !== undefined && container.created >= before) continue
    if (since !== undefined && container.created <= since) continue
    if (ancestors !== undefined && !ancestors.some((ancestor) => ancestor === container.imageId || ancestor === container.image)) continue
    if (exited !== undefined && (container.status !== 'exited' || !exited.includes(container.exitCode))) continue
    if (networks !== undefined && !container.endpoints.some((endpoint) => networks.includes(endpoint.network.name) || networks.some((id) => endpoint.network.id.startsWith(id)))) continue
    if (volumes !== undefined && !(container.mounts ?? []).some((mount) => volumes.includes(mount.source) || volumes.includes(mount.destination))) continue
    if (filters['is-task'] !== undefined && filters['is-task'].includes('true')) continue
    if (filters.health !== undefined && !filters.health.includes(healthStatus(container) ?? 'none')) continue
    if (filters.publish !== undefined && !filters.publish.some((port) => portMatches(port, (container.publishedPorts ?? []).map((published) => [published.publicPort, published.type])))) continue
    if (filters.expose !== undefined && !filters.expose.some((port) => portMatches(port, exposedPorts(container)))) continue
    result.push(containerSummary(engine, container, size, at))
    if (limit > 0 && result.length >= limit) break
  }
  return jsonReply(result)
}

function exposedPorts (container: Container): Array<[number, string]> {
  const ports: Array<[number, string]> = Object.keys((container.config.ExposedPorts as Record<string, unknown> | undefined) ?? {}).map((key) => {
    const [port = '0', type = 'tcp'] = key.split('/')
    return [Number(port), type]
  })
  for (const published of container.publishedPorts ?? []) ports.push([published.privatePort, published.type])
  return ports
}

/** `80`, `80/udp` or `8000-8080/tcp` against ports. */
function portMatches (filter: string, ports: Array<[number, string]>): boolean {
  const [range = '', type = 'tcp'] = filter.split('/')
  const [low = 0, high = low] = range.split('-').map(Number)
  return ports.some(([port, proto]) => proto === type && port >= low && port <= high)
}

const create: Operation = (engine, request) => {
  decodeEngineBody('ContainerCreate', request.body)
  checkPortBindings((bodyObject(request).HostConfig as { PortBindings?: unknown } | null | undefined)?.PortBindings)
  const container = engine.createContainer(bodyObject(request), queryValue(request.query, 'name'))
  return jsonReply({ Id: container.id, Warnings: [] }, 201)
}

const inspect: Operation = (engine, request) =>
  jsonReply(containerInspect(engine, engine.getContainer(request.target), queryFlag(request.query, 'size')))

const start: Operation = (engine, request) => {
  const container = engine.getContainer(request.target)
  if (container.status === 'paused') throw engineErrors.startPaused()
  if (container.status === 'running' || container.status === 'restarting') return emptyReply(304)
  engine.start(container)
  return emptyReply()
}

function signalOf (text: string | undefined, fallback: number): number {
  if (text === undefined || text === '') return fallback
  const signal = parseSignal(text)
  if (signal === undefined) throw engineErrors.badRequest(`Invalid signal: ${text}`)
  return signal
}

function stopContainer (engine: Engine, container: Container, signal: number): void {
  if (container.status === 'paused') engine.unpause(container)
  engine.signal(container, signal, true)
  if (container.running) engine.signal(container, 9, true)
  engine.containerEvent(container, 'stop')
}

const stop: Operation = (engine, request) => {
  const container = engine.getContainer(request.target)
  const signal = signalOf(queryValue(request.query, 'signal') ?? (container.config.StopSignal as string | undefined), 15)
  if (!container.running) return emptyReply(304)
  stopContainer(engine, container, signal)
  return emptyReply()
}

const restart: Operation = (engine, request) => {
  const container = engine.getContainer(request.target)
  const signal = signalOf(queryValue(request.query, 'signal') ?? (container.config.StopSignal as string | undefined), 15)
  if (container.running) stopContainer(engine, container, signal)
  if (engine.containers.has(container.id)) {
    engine.start(container)
    engine.containerEvent(container, 'restart')
  }
  return emptyReply()
}

const kill: Operation = (engine, request) => {
  const container = engine.getContainer(request.target)
  const signal = signalOf(queryValue(request.query, 'signal'), 9)
  if (!container.running) throw engineErrors.killNotRunning(container.id)
  engine.signal(container, signal, true)
  return emptyReply()
}

const pause: Operation = (engine, request) => {
  engine.pause(engine.getContainer(request.target))
  return emptyReply()
}

const unpause: Operation = (engine, request) => {
  engine.unpause(engine.getContainer(request.target))
  return emptyReply()
}

const rename: Operation = (engine, request) => {
  const container = engine.getContainer(request.target)
  const requested = queryValue(request.query, 'name') ?? ''
  if (requested === '') throw engineErrors.badRequest('Neither old nor new names may be empty')
  if (!NAME_PATTERN.test(requested)) throw engineErrors.invalidName(requested)
  const name = requested.replace(/^\//, '')
  if (name === container.name) throw engineErrors.badRequest('Renaming a container with the same name as its current name')
  const holder = engine.names.get(name)
  if (holder !== undefined) throw engineErrors.conflict(`Error when allocating new name: ${engineErrors.nameInUse(name, holder.id).message}`)
  engine.rename(container, name)
  return emptyReply()
}

const update: Operation = (engine, request) => {
  decodeEngineBody('ContainerUpdate', request.body)
  const container = engine.getContainer(request.target)
  // dockerd reads only UpdateConfig's fields: anything else in the body is no change
  const changes = Object.fromEntries(Object.entries(bodyObject(request)).filter(([key]) => UPDATE_FIELDS.has(key)))
  engine.update(container, changes)
  return jsonReply({ Warnings: null })
}

const remove: Operation = (engine, request) => {
  const container = engine.getContainer(request.target)
  const force = queryFlag(request.query, 'force')
  if (container.running && container.status !== 'restarting' && !force) {
    throw container.status === 'paused' ? engineErrors.removePaused(container.id) : engineErrors.removeRunning(container.id)
  }
  if (container.running) {
    if (container.status === 'paused') engine.unpause(container)
    engine.signal(container, 9, true)
  }
  engine.remove(container, queryFlag(request.query, 'v'))
  return emptyReply()
}

const prune: Operation = (engine, request) => {
  const filters = parseFilters(request.query)
  for (const key of Object.keys(filters)) if (key !== 'until' && key !== 'label' && key !== 'label!') throw engineErrors.badRequest(`Invalid filter '${key}'`)
  const until = parseClientTime(filters.until?.[0])
  const deleted: string[] = []
  for (const container of [...engine.containers.values()]) {
    if (container.running) continue
    if (until !== undefined && container.created > until) continue
    if (filters.label !== undefined && !filters.label.every((label) => labelMatches(label, container.labels))) continue
    if (filters['label!'] !== undefined && filters['label!'].some((label) => labelMatches(label, container.labels))) continue
    engine.remove(container, false)
    deleted.push(container.id)
  }
  engine.emit({ time: now(), type: 'container', action: 'prune', id: '', attributes: { reclaimed: '0' } })
  return jsonReply({ ContainersDeleted: deleted.length === 0 ? null : deleted, SpaceReclaimed: 0 })
}

const wait: Operation = (engine, request) => {
  const container = engine.getContainer(request.target)
  const condition = (queryValue(request.query, 'condition') ?? 'not-running') || 'not-running'
  if (condition !== 'not-running' && condition !== 'next-exit' && condition !== 'removed') throw engineErrors.badRequest(`invalid condition: "${condition}"`)
  const queue = new ByteQueue()
  const stopWaiting = engine.wait(container, condition as WaitCondition, (code) => {
    queue.push(encoder.encode(JSON.stringify({ Error: null, StatusCode: code }) + '\n'))
    queue.end()
  })
  if (!queue.closed) queue.onClose = stopWaiting
  return streamReply(queue, 'application/json')
}

const logs: Operation = (engine, request) => {
  const container = engine.getContainer(request.target)
  const query = request.query
  const stdout = queryFlag(query, 'stdout')
  const stderr = queryFlag(query, 'stderr')
  if (!stdout && !stderr) throw engineErrors.badRequest('Bad parameters: you must choose at least one stream')
  const tailText = queryValue(query, 'tail') ?? 'all'
  const tail = tailText === 'all' || tailText === '' ? undefined : Number(tailText)
  const timestamps = queryFlag(query, 'timestamps')
  const since = parseClientTime(queryValue(query, 'since'))
  const until = parseClientTime(queryValue(query, 'until'))
  const multiplexed = !container.tty
  const queue = new ByteQueue()
  const entries = container.logs?.select({ stdout, stderr, since: since === 0 ? undefined : since, until, tail: Number.isNaN(tail) ? undefined : tail }) ?? []
  for (const entry of entries) queue.push(frameOutput(entry.stream, entry.bytes, multiplexed, timestamps ? entry.time : undefined))
  if (queryFlag(query, 'follow') && container.running && until === undefined) {
    engine.addReader(container, { queue, stdout, stderr, multiplexed, timestamps })
  } else {
    queue.end()
  }
  return streamReply(queue, RAW_STREAM)
}

/** The reply of a hijacked operation: 101 when the client asked to upgrade, as dockerd answers. */
function hijackReply (request: DockerRequest, queue: ByteQueue, multiplexed: boolean): Message {
  const upgrade = headerValue(request.headers, 'Upgrade')
  const contentType = multiplexed && request.version !== undefined && Number(request.version) >= 1.42 ? 'application/vnd.docker.multiplexed-stream' : RAW_STREAM
  return upgrade === undefined
    ? streamReply(queue, contentType)
    : streamReply(queue, contentType, 101, { Connection: 'Upgrade', Upgrade: upgrade === '' ? 'tcp' : upgrade })
}

const PUMP_PIECE = 64 * 1024

/** What else {@link pump} does: wait for `room` before each write (backpressure), and watch for the detach keys. */
interface PumpOptions {
  room?: () => Promise<void> | undefined
  detach?: () => void
}

/** Copies an attach's (or exec's) stdin into the process, as fast as its output is read. */
async function pump (stream: AsyncIterable<Uint8Array>, write: (bytes: Uint8Array) => void, end: () => void, stopped: () => boolean, options: PumpOptions = {}): Promise<void> {
  const { room, detach } = options
  let previous = 0
  try {
    for await (const whole of stream) {
      // In pieces, so that what one write adds to the output stays well below its queue's bound.
      for (let at = 0; at < whole.byteLength; at += PUMP_PIECE) {
        const chunk = whole.byteLength <= PUMP_PIECE ? whole : whole.subarray(at, at + PUMP_PIECE)
        await room?.()
        if (stopped()) return
        if (detach !== undefined) {
          // dockerd's default detach keys, ctrl-p ctrl-q: the client leaves, the container runs on.
          const keys = detachSequenceEnd(chunk, previous)
          if (keys >= 0) {
            const before = chunk.subarray(0, Math.max(0, keys - 1))
            if (before.byteLength > 0) write(before)
            detach()
            return
          }
          previous = chunk[chunk.byteLength - 1] ?? previous
        }
        write(chunk)
      }
    }
  } catch {}
  await room?.()
  if (!stopped()) end()
}

/** Where ctrl-p ctrl-q ends in `chunk` (`previous` is the byte before it), or -1. */
function detachSequenceEnd (chunk: Uint8Array, previous: number): number {
  for (let i = 0; i < chunk.byteLength; i++) {
    if (chunk[i] === 0x11 && (i === 0 ? previous : chunk[i - 1]) === 0x10) return i
  }
  return -1
}

const attach: Operation = (engine, request) => {
  const container = engine.getContainer(request.target)
  if (container.status === 'paused') throw engineErrors.conflict(`container ${container.id} is paused, unpause the container before attach`)
  const query = request.query
  const stdout = queryFlag(query, 'stdout')
  const stderr = queryFlag(query, 'stderr')
  const multiplexed = !container.tty
  const queue = new ByteQueue()
  if (queryFlag(query, 'logs')) {
    for (const entry of container.logs?.select({ stdout, stderr }) ?? []) queue.push(frameOutput(entry.stream, entry.bytes, multiplexed))
  }
  if (queryFlag(query, 'stream')) engine.addReader(container, { queue, stdout, stderr, multiplexed, timestamps: false })
  else queue.end()
  const input = request.stream
  if (queryFlag(query, 'stdin') && input !== undefined && container.config.OpenStdin === true) {
    void pump(input, (bytes) => { engine.stdin(container, bytes) }, () => {
      if (container.config.StdinOnce === true) engine.stdin(container, undefined)
    }, () => queue.closed, {
      room: () => queue.room() ?? engine.stdinRoom(container),
      detach: () => {
        engine.containerEvent(container, 'detach')
        queue.end()
      }
    })
  } else if (input !== undefined) {
    void pump(input, () => {}, () => {}, () => queue.closed)
  }
  return hijackReply(request, queue, multiplexed)
}

const resize: Operation = (engine, request) => {
  const container = engine.getContainer(request.target)
  if (!container.running) throw engineErrors.notRunning(container.id)
  return emptyReply(200)
}

function cpuStats (engine: Engine, container: Container, at: number): Record<string, unknown> {
  const running = container.status === 'running' || container.status === 'paused'
  const uptime = running ? Math.max(0, at - container.startedAt) : 0
  const total = Math.floor(uptime * 1e6 * 0.002)
  return {
    cpu_usage: { total_usage: total, percpu_usage: running ? [total] : null, usage_in_kernelmode: Math.floor(total / 4), usage_in_usermode: total - Math.floor(total / 4) },
    system_cpu_usage: Math.floor((at - engine.started) * 1e6 * engine.options.cpus) + 1e15,
    online_cpus: engine.options.cpus,
    throttling_data: { periods: 0, throttled_periods: 0, throttled_time: 0 }
  }
}

/** A stats sample: numbers derived from uptime, so successive samples move as a real engine's do. */
export function containerStats (engine: Engine, container: Container, at: number, previous: number | undefined): Record<string, unknown> {
  const running = container.status === 'running' || container.status === 'paused'
  const memoryLimit = Number(container.hostConfig.Memory ?? 0) || engine.options.memory
  const usage = running ? 1_200_000 + (container.logs === undefined ? 0 : 65_536) : 0
  return {
    read: running ? rfc3339(at) : '0001-01-01T00:00:00Z',
    preread: previous === undefined ? '0001-01-01T00:00:00Z' : rfc3339(previous),
    pids_stats: running ? { current: 1 + (container.execIds?.length ?? 0), limit: 4_194_304 } : {},
    blkio_stats: { io_service_bytes_recursive: null, io_serviced_recursive: null, io_queue_recursive: null, io_service_time_recursive: null, io_wait_time_recursive: null, io_merged_recursive: null, io_time_recursive: null, sectors_recursive: null },
    num_procs: 0,
    storage_stats: {},
    cpu_stats: cpuStats(engine, container, at),
    precpu_stats: previous === undefined ? { cpu_usage: { total_usage: 0, usage_in_kernelmode: 0, usage_in_usermode: 0 }, throttling_data: { periods: 0, throttled_periods: 0, throttled_time: 0 } } : cpuStats(engine, container, previous),
    memory_stats: running ? { usage, max_usage: usage, stats: { cache: 0, rss: usage, total_inactive_file: 0 }, limit: memoryLimit } : {},
    name: '/' + container.name,
    id: container.id,
    networks: running ? { eth0: { rx_bytes: 1086, rx_packets: 13, rx_errors: 0, rx_dropped: 0, tx_bytes: 0, tx_packets: 0, tx_errors: 0, tx_dropped: 0 } } : undefined
  }
}

const stats: Operation = (engine, request) => {
  const container = engine.getContainer(request.target)
  const streaming = queryValue(request.query, 'stream') === undefined || queryFlag(request.query, 'stream')
  const oneShot = queryFlag(request.query, 'one-shot')
  if (!streaming || !container.running) {
    const at = Date.now()
    return jsonReply(containerStats(engine, container, at, oneShot ? undefined : at - 1000))
  }
  const queue = new ByteQueue(64 * 1024)
  let previous = Date.now()
  queue.push(encoder.encode(JSON.stringify(containerStats(engine, container, previous, undefined)) + '\n'))
  const timer = setInterval(() => {
    if (!engine.containers.has(container.id) || engine.isClosed) {
      queue.end()
      return
    }
    const at = Date.now()
    queue.push(encoder.encode(JSON.stringify(containerStats(engine, container, at, previous)) + '\n'))
    previous = at
  }, 1000)
  timer.unref?.()
  queue.onClose = () => { clearInterval(timer) }
  return streamReply(queue, 'application/json')
}

const top: Operation = (engine, request) => {
  const container = engine.getContainer(request.target)
  if (!container.running) throw engineErrors.notRunning(container.id)
  const started = new Date(container.startedAt).toISOString().slice(11, 16)
  const processes = [['root', String(container.pid), String(container.pid - 20), '0', started, '?', '00:00:00', argv(container).join(' ')]]
  for (const execId of container.execIds ?? []) {
    const exec = engine.execs.get(execId)
    if (exec?.running === true) processes.push(['root', String(exec.pid), String(exec.pid - 20), '0', started, '?', '00:00:00', ((exec.config.Cmd as string[] | undefined) ?? []).join(' ')])
  }
  return jsonReply({ Titles: ['UID', 'PID', 'PPID', 'C', 'STIME', 'TTY', 'TIME', 'CMD'], Processes: processes })
}

const changes: Operation = (engine, request) => {
  const container = engine.getContainer(request.target)
  return jsonReply(container.hasBeenStarted ? [{ Path: '/root', Kind: 0 }, { Path: '/root/.ash_history', Kind: 1 }] : null)
}

const execCreate: Operation = (engine, request) => {
  decodeEngineBody('ContainerExec', request.body)
  const container = engine.getContainer(request.target)
  const body = bodyObject(request)
  if (container.status === 'paused') throw engineErrors.paused(container.id)
  if (!container.running || container.status === 'restarting') throw engineErrors.notRunning(container.id)
  const cmd = body.Cmd
  if (!Array.isArray(cmd) || cmd.length === 0) throw engineErrors.badRequest('No exec command specified')
  const exec = engine.createExec(container, body)
  return jsonReply({ Id: exec.id }, 201)
}

function getExec (engine: Engine, id: string): SimExec {
  const exec = engine.execs.get(id)
  if (exec === undefined) throw engineErrors.noSuchExec(id)
  return exec
}

const execStart: Operation = (engine, request) => {
  const exec = getExec(engine, request.target)
  decodeEngineBody('ExecStart', request.body)
  const body = bodyObject(request)
  if (exec.running) throw engineErrors.conflict(`Error: Exec command ${exec.id} is already running`)
  if (exec.exitCode !== null) throw engineErrors.conflict(`Error: Exec command ${exec.id} has already run`)
  const container = exec.container
  if (container.status === 'paused') throw engineErrors.paused(container.id)
  if (!container.running) throw engineErrors.notRunning(container.id)
  if (body.Detach === true) {
    engine.startExec(exec, undefined, false)
    return emptyReply(200)
  }
  const multiplexed = !(body.Tty === true || exec.config.Tty === true)
  const queue = new ByteQueue()
  const reply = hijackReply(request, queue, multiplexed)
  engine.startExec(exec, queue, multiplexed, EXEC_START_DELAY_MS)
  const input = request.stream
  if (input !== undefined) {
    void pump(input, (bytes) => { if (exec.config.AttachStdin === true) engine.execStdin(exec, bytes) },
      () => { if (exec.config.AttachStdin === true) engine.execStdin(exec, undefined) }, () => !exec.running,
      { room: () => queue.room() ?? engine.execStdinRoom(exec) })
  }
  return reply
}

const execInspect: Operation = (engine, request) => {
  const exec = getExec(engine, request.target)
  const [entrypoint = '', ...args] = (exec.config.Cmd as string[] | undefined) ?? []
  const processConfig: Record<string, unknown> = { tty: exec.config.Tty === true, entrypoint, arguments: args, privileged: exec.config.Privileged === true }
  if (typeof exec.config.User === 'string' && exec.config.User !== '') processConfig.user = exec.config.User
  return jsonReply({
    CanRemove: false,
    ContainerID: exec.container.id,
    DetachKeys: (exec.config.DetachKeys as string | undefined) ?? '',
    ExitCode: exec.exitCode,
    ID: exec.id,
    OpenStderr: exec.config.AttachStderr === true,
    OpenStdin: exec.config.AttachStdin === true,
    OpenStdout: exec.config.AttachStdout === true,
    ProcessConfig: processConfig,
    Running: exec.running,
    Pid: exec.pid
  })
}

const execResize: Operation = (engine, request) => {
  getExec(engine, request.target)
  return emptyReply(200)
}

/** The container and exec operations, by operationId. */
export const containerOperations: Record<string, Operation> = {
  ContainerList: list,
  ContainerCreate: create,
  ContainerInspect: inspect,
  ContainerStart: start,
  ContainerStop: stop,
  ContainerRestart: restart,
  ContainerKill: kill,
  ContainerPause: pause,
  ContainerUnpause: unpause,
  ContainerRename: rename,
  ContainerUpdate: update,
  ContainerDelete: remove,
  ContainerPrune: prune,
  ContainerWait: wait,
  ContainerLogs: logs,
  ContainerAttach: attach,
  ContainerResize: resize,
  ContainerStats: stats,
  ContainerTop: top,
  ContainerChanges: changes,
  ContainerExec: execCreate,
  ExecStart: execStart,
  ExecInspect: execInspect,
  ExecResize: execResize
}
