import { ErrorCode, SwarmError, type Message } from '@libswarm/core'
import { encodeDockerReply, jsonReply, parseFilters, queryFlag, queryValue, type DockerRequest } from '@libswarm/docker-api'
import type { ShipyardApi, ShipyardClusterInfo, ShipyardContainer, ShipyardEngine, ShipyardEvent, ShipyardImage, ShipyardPort } from './shipyard-api.js'

/** The Docker API version this mapping speaks: what both docker CLIs in use accept. */
export const SHIPYARD_DOCKER_API_VERSION = '1.41'

const MB = 1024 * 1024

/** What Shipyard's v2 API does: named in every NOT_IMPLEMENTED. */
const SHIPYARD_CAN = 'its API has containers (list, inspect, run, stop, restart, destroy, logs, scale), engines, events and cluster info; use shipyard --engines for the whole Docker API'

/**
 * The Docker messages Shipyard's v2 API can express, mapped onto it: ps, inspect, create
 * (Shipyard runs at once), start, stop, restart, rm, logs, events, info, version and ping.
 * Everything else is NOT_IMPLEMENTED, naming what Shipyard lacks.
 */
export class ShipyardDockerMapping {
  constructor (private readonly api: ShipyardApi, private readonly pollMs = 1000) {}

  async answer (request: DockerRequest, signal: AbortSignal): Promise<Message> {
    const id = encodeURIComponent(request.target)
    switch (request.operation) {
      case 'SystemPing':
      case 'SystemPingHead':
        await this.api.json('GET', '/api/cluster/info', { signal })
        return encodeDockerReply({ status: 200, body: request.operation === 'SystemPing' ? 'OK' : '', headers: { 'Api-Version': SHIPYARD_DOCKER_API_VERSION, 'Content-Type': 'text/plain; charset=utf-8' } })
      case 'SystemVersion': {
        const info = await this.api.json<ShipyardClusterInfo>('GET', '/api/cluster/info', { signal })
        return jsonReply({ Version: `shipyard-${info?.version ?? ''}`, ApiVersion: SHIPYARD_DOCKER_API_VERSION, MinAPIVersion: '1.24', Os: 'linux', Arch: 'amd64', GitCommit: '', GoVersion: '', KernelVersion: '', Components: [{ Name: 'Shipyard', Version: info?.version ?? '' }] })
      }
      case 'SystemInfo': return jsonReply(await this.info(signal))
      case 'ContainerList': return jsonReply(await this.list(request, signal))
      case 'ContainerInspect': return jsonReply(inspectBody(await this.api.json<ShipyardContainer>('GET', `/api/containers/${id}`, { signal })))
      case 'ContainerCreate': {
        const image = imageFromCreate(request)
        const launched = await this.api.json<ShipyardContainer[]>('POST', '/api/containers?count=1&pull=false', { body: image, signal })
        const container = launched?.[0]
        if (container === undefined) throw new SwarmError(ErrorCode.Protocol, 'shipyard: POST /api/containers answered no container')
        return jsonReply({ Id: container.id, Warnings: [] }, 201)
      }
      case 'ContainerStart': {
        const container = await this.api.json<ShipyardContainer>('GET', `/api/containers/${id}`, { signal })
        // Shipyard runs a container when it creates it; a stopped one is started by its restart
        if (container.state?.status !== 'running') await this.api.text('GET', `/api/containers/${id}/restart`, { signal })
        return encodeDockerReply({ status: 204 })
      }
      case 'ContainerStop':
      case 'ContainerRestart':
        await this.api.text('GET', `/api/containers/${id}/${request.operation === 'ContainerStop' ? 'stop' : 'restart'}`, { signal })
        return encodeDockerReply({ status: 204 })
      case 'ContainerDelete': {
        if (!queryFlag(request.query, 'force')) {
          const container = await this.api.json<ShipyardContainer>('GET', `/api/containers/${id}`, { signal })
          if (container.state?.status === 'running') throw new SwarmError(ErrorCode.Conflict, `cannot remove container ${request.target}: container is running: stop the container before removing or force remove`)
        }
        await this.api.text('DELETE', `/api/containers/${id}`, { signal })
        return encodeDockerReply({ status: 204 })
      }
      case 'ContainerLogs': return await this.logs(request, signal)
      case 'SystemEvents': return this.events(request)
      default: throw new SwarmError(ErrorCode.NotImplemented, `shipyard: ${request.operation} cannot be done through Shipyard: ${SHIPYARD_CAN}`)
    }
  }

  private async info (signal: AbortSignal): Promise<Record<string, unknown>> {
    const [info, engines] = await Promise.all([
      this.api.json<ShipyardClusterInfo>('GET', '/api/cluster/info', { signal }),
      this.api.json<ShipyardEngine[] | null>('GET', '/api/engines', { signal })
    ])
    const status: Array<[string, string]> = [['Nodes', String(engines?.length ?? 0)]]
    for (const record of engines ?? []) {
      status.push([`  ${record.engine.id}`, new URL(record.engine.addr).host])
      status.push(['   └ Status', record.health?.status ?? 'unknown'])
      status.push(['   └ Labels', (record.engine.labels ?? []).join(', ')])
      status.push(['   └ Reserved CPUs', `${record.engine.cpus ?? 0}`])
      status.push(['   └ Reserved Memory', `${record.engine.memory ?? 0} MB`])
    }
    return {
      ID: '',
      Name: 'shipyard',
      ServerVersion: `shipyard-${info?.version ?? ''}`,
      Containers: info?.container_count ?? 0,
      ContainersRunning: 0,
      ContainersPaused: 0,
      ContainersStopped: 0,
      Images: info?.image_count ?? 0,
      Driver: '',
      DriverStatus: null,
      SystemStatus: status,
      Plugins: { Volume: null, Network: null, Authorization: null, Log: null },
      NCPU: info?.cpus ?? 0,
      MemTotal: Math.round((info?.memory ?? 0) * MB),
      OSType: 'linux',
      OperatingSystem: 'Shipyard',
      Architecture: 'x86_64',
      KernelVersion: '',
      IndexServerAddress: 'https://index.docker.io/v1/',
      Labels: [],
      SystemTime: new Date().toISOString(),
      Warnings: null
    }
  }

  private async list (request: DockerRequest, signal: AbortSignal): Promise<unknown[]> {
    const filters = parseFilters(request.query)
    const unknown = Object.keys(filters).filter((key) => key !== 'name' && key !== 'status')
    if (unknown.length > 0) throw new SwarmError(ErrorCode.NotImplemented, `shipyard: Shipyard's container list cannot filter by ${unknown.join(', ')} (only name and status are applied here)`)
    const all = queryFlag(request.query, 'all')
    const containers = await this.api.json<ShipyardContainer[] | null>('GET', '/api/containers', { signal }) ?? []
    return containers.map(listRow).filter((row) => {
      if (!all && filters.status === undefined && row.State !== 'running') return false
      if (filters.status !== undefined && !filters.status.includes(row.State)) return false
      if (filters.name !== undefined && !filters.name.some((name) => row.Names.some((each) => each.includes(name)))) return false
      return true
    })
  }

  private async logs (request: DockerRequest, signal: AbortSignal): Promise<Message> {
    if (queryFlag(request.query, 'follow')) throw new SwarmError(ErrorCode.NotImplemented, 'shipyard: Shipyard\'s logs endpoint answers the log so far; it cannot follow (--follow)')
    if (queryFlag(request.query, 'timestamps')) throw new SwarmError(ErrorCode.NotImplemented, 'shipyard: Shipyard\'s logs endpoint has no timestamps')
    if (queryValue(request.query, 'since') !== undefined && queryValue(request.query, 'since') !== '0') throw new SwarmError(ErrorCode.NotImplemented, 'shipyard: Shipyard\'s logs endpoint has no --since')
    const text = await this.api.text('GET', `/api/containers/${encodeURIComponent(request.target)}/logs?stdout=1&stderr=1`, { signal })
    let lines = text.split(/(?<=\n)/).filter((line) => line !== '')
    const tail = queryValue(request.query, 'tail')
    if (tail !== undefined && tail !== 'all' && /^\d+$/.test(tail)) lines = Number(tail) === 0 ? [] : lines.slice(-Number(tail))
    // Shipyard merges stdout and stderr (Docker's stdcopy into one writer): all of it comes as stdout frames
    const frames = lines.map((line) => frame(Buffer.from(line)))
    return encodeDockerReply({ status: 200, headers: { 'Content-Type': 'application/vnd.docker.multiplexed-stream' }, stream: (async function * () { yield * frames })() })
  }

  private events (request: DockerRequest): Message {
    const filters = parseFilters(request.query)
    const unknown = Object.keys(filters).filter((key) => !['container', 'event', 'type'].includes(key))
    if (unknown.length > 0) throw new SwarmError(ErrorCode.NotImplemented, `shipyard: Shipyard's events cannot be filtered by ${unknown.join(', ')} (only container, event and type=container are applied here)`)
    const wanted = (event: DockerEvent): boolean =>
      (filters.type === undefined || filters.type.includes('container')) &&
      (filters.event === undefined || filters.event.includes(event.status)) &&
      (filters.container === undefined || filters.container.some((ref) => event.id.startsWith(ref) || event.Actor.Attributes.name === ref))
    const since = timeArgument(request.query, 'since') ?? 0
    const until = timeArgument(request.query, 'until')
    const api = this.api
    const pollMs = this.pollMs
    // Shipyard's events are a stored list: read it, then poll it for new ones until --until, or until the reader lets go of the stream
    async function * feed (): AsyncGenerator<Uint8Array> {
      const seen = new Set<string>()
      while (true) {
        const events = await api.json<ShipyardEvent[] | null>('GET', '/api/events') ?? []
        const fresh = events.map(dockerEvent).filter((event): event is DockerEvent => event !== undefined && wanted(event) && event.timeNano >= since * 1e9 && (until === undefined || event.timeNano <= until * 1e9))
        fresh.sort((a, b) => a.timeNano - b.timeNano)
        for (const event of fresh) {
          const key = `${event.timeNano}/${event.id}/${event.status}`
          if (seen.has(key)) continue
          seen.add(key)
          yield Buffer.from(`${JSON.stringify(event)}\n`)
        }
        if (until !== undefined && Date.now() / 1000 >= until) return
        await new Promise((resolve) => setTimeout(resolve, pollMs))
      }
    }
    return encodeDockerReply({ status: 200, headers: { 'Content-Type': 'application/json' }, stream: feed() })
  }
}

function frame (payload: Buffer): Buffer {
  const header = Buffer.alloc(8)
  header[0] = 1
  header.writeUInt32BE(payload.length, 4)
  return Buffer.concat([header, payload])
}

function timeArgument (query: DockerRequest['query'], key: string): number | undefined {
  const value = queryValue(query, key)
  if (value === undefined || value === '') return undefined
  const seconds = Number(value)
  if (!Number.isFinite(seconds)) throw new SwarmError(ErrorCode.BadRequest, `shipyard: --${key} wants a Unix time here, got ${JSON.stringify(value)}`)
  return seconds
}

interface DockerEvent { status: string, id: string, from: string, Type: string, Action: string, Actor: { ID: string, Attributes: Record<string, string> }, scope: string, time: number, timeNano: number }

function dockerEvent (event: ShipyardEvent): DockerEvent | undefined {
  const container = event.container
  if (container?.id === undefined) return undefined
  const nano = Date.parse(event.time) * 1e6
  const attributes: Record<string, string> = { image: container.image?.name ?? '', name: container.name ?? container.image?.container_name ?? '' }
  if (event.engine?.id !== undefined) attributes['node.name'] = event.engine.id
  return { status: event.type, id: container.id, from: attributes.image ?? '', Type: 'container', Action: event.type, Actor: { ID: container.id, Attributes: attributes }, scope: 'local', time: Math.floor(nano / 1e9), timeNano: nano }
}

function labelMap (labels: readonly string[] | undefined): Record<string, string> {
  const map: Record<string, string> = {}
  for (const label of labels ?? []) {
    const at = label.indexOf('=')
    map[at < 0 ? label : label.slice(0, at)] = at < 0 ? '' : label.slice(at + 1)
  }
  return map
}

function dockerPorts (ports: readonly ShipyardPort[] | undefined): Array<{ IP: string, PrivatePort: number, PublicPort: number, Type: string }> {
  return (ports ?? []).map((port) => ({ IP: port.host_ip ?? '0.0.0.0', PrivatePort: port.container_port ?? 0, PublicPort: port.port ?? 0, Type: port.proto ?? 'tcp' }))
}

function containerName (container: ShipyardContainer): string {
  return (container.name ?? container.image?.container_name ?? container.id.slice(0, 12)).replace(/^\//, '')
}

function listRow (container: ShipyardContainer): { Id: string, Names: string[], State: string, [key: string]: unknown } {
  const running = container.state?.status === 'running'
  const started = container.state?.started_at === undefined ? 0 : Math.floor(Date.parse(container.state.started_at) / 1000)
  return {
    Id: container.id,
    Names: [`/${containerName(container)}`],
    Image: container.image?.name ?? '',
    ImageID: '',
    Command: (container.image?.args ?? []).join(' '),
    Created: Number.isFinite(started) ? started : 0,
    Ports: dockerPorts(container.ports),
    Labels: labelMap(container.image?.labels),
    State: running ? 'running' : 'exited',
    Status: running ? 'Up' : `Exited (${container.state?.exit_code ?? 0})`,
    HostConfig: { NetworkMode: 'default' },
    NetworkSettings: { Networks: {} },
    Mounts: []
  }
}

function inspectBody (container: ShipyardContainer): Record<string, unknown> {
  const image = container.image ?? { name: '' }
  const running = container.state?.status === 'running'
  const ports: Record<string, Array<{ HostIp: string, HostPort: string }>> = {}
  for (const port of dockerPorts(container.ports)) (ports[`${port.PrivatePort}/${port.Type}`] ??= []).push({ HostIp: port.IP, HostPort: String(port.PublicPort) })
  const bindings: Record<string, Array<{ HostIp: string, HostPort: string }>> = {}
  for (const port of image.bind_ports ?? []) bindings[`${port.container_port ?? port.port ?? 0}/${port.proto ?? 'tcp'}`] = [{ HostIp: port.host_ip ?? '', HostPort: String(port.port ?? '') }]
  const zero = '0001-01-01T00:00:00Z'
  const engine = container.engine
  return {
    Id: container.id,
    Name: `/${containerName(container)}`,
    Created: container.state?.started_at ?? zero,
    Path: image.args?.[0] ?? '',
    Args: image.args?.slice(1) ?? [],
    State: { Status: running ? 'running' : 'exited', Running: running, Paused: false, Restarting: false, OOMKilled: false, Dead: false, Pid: 0, ExitCode: container.state?.exit_code ?? 0, Error: '', StartedAt: container.state?.started_at ?? zero, FinishedAt: zero },
    Image: image.name,
    Config: { Hostname: image.hostname ?? '', Image: image.name, Env: Object.entries(image.environment ?? {}).map(([key, value]) => `${key}=${value}`), Cmd: image.args ?? null, Labels: labelMap(image.labels), Tty: false, OpenStdin: false, AttachStdin: false, AttachStdout: false, AttachStderr: false },
    HostConfig: {
      RestartPolicy: { Name: image.restart_policy?.name ?? 'no', MaximumRetryCount: image.restart_policy?.maximum_retry ?? 0 },
      Memory: Math.round((image.memory ?? 0) * MB),
      NanoCpus: Math.round((image.cpus ?? 0) * 1e9),
      PortBindings: bindings,
      PublishAllPorts: image.publish === true
    },
    NetworkSettings: { Ports: ports },
    Mounts: [],
    Node: engine === undefined ? undefined : { ID: engine.id, Name: engine.id, Addr: new URL(engine.addr).host, IP: new URL(engine.addr).hostname, Labels: labelMap(engine.labels) }
  }
}

/** What a Docker create can say that citadel's image cannot: refused, naming it, rather than dropped. */
const UNSUPPORTED_CONFIG: Array<[string, (body: any) => boolean]> = [
  ['entrypoint', (body) => body.Entrypoint != null && body.Entrypoint.length > 0],
  ['working directory', (body) => typeof body.WorkingDir === 'string' && body.WorkingDir !== ''],
  ['user', (body) => typeof body.User === 'string' && body.User !== ''],
  ['TTY or stdin (run it with -d, without -t and -i)', (body) => body.Tty === true || body.OpenStdin === true],
  ['volumes or mounts', (body) => (body.HostConfig?.Binds ?? []).length > 0 || (body.HostConfig?.Mounts ?? []).length > 0 || Object.keys(body.Volumes ?? {}).length > 0],
  ['privileges, capabilities or devices', (body) => body.HostConfig?.Privileged === true || (body.HostConfig?.CapAdd ?? []).length > 0 || (body.HostConfig?.CapDrop ?? []).length > 0 || (body.HostConfig?.Devices ?? []).length > 0],
  ['links, DNS or extra hosts', (body) => (body.HostConfig?.Links ?? []).length > 0 || (body.HostConfig?.Dns ?? []).length > 0 || (body.HostConfig?.ExtraHosts ?? []).length > 0],
  ['network other than the default', (body) => !['', 'default', 'bridge', undefined].includes(body.HostConfig?.NetworkMode)],
  ['auto remove (--rm)', (body) => body.HostConfig?.AutoRemove === true]
]

function imageFromCreate (request: DockerRequest): ShipyardImage {
  const body = (request.body ?? {}) as Record<string, any>
  const lacking = UNSUPPORTED_CONFIG.filter(([, test]) => test(body)).map(([what]) => what)
  if (lacking.length > 0) throw new SwarmError(ErrorCode.NotImplemented, `shipyard: Shipyard's image (citadel) has no ${lacking.join(', ')}`)
  if (typeof body.Image !== 'string' || body.Image === '') throw new SwarmError(ErrorCode.BadRequest, 'shipyard: a container needs an image')
  const environment: Record<string, string> = {}
  for (const pair of (body.Env ?? []) as string[]) {
    const at = pair.indexOf('=')
    environment[at < 0 ? pair : pair.slice(0, at)] = at < 0 ? '' : pair.slice(at + 1)
  }
  const bindPorts: ShipyardPort[] = []
  for (const [key, bindings] of Object.entries((body.HostConfig?.PortBindings ?? {}) as Record<string, Array<{ HostIp?: string, HostPort?: string }> | null>)) {
    const [port = '', proto = 'tcp'] = key.split('/')
    for (const binding of bindings ?? []) {
      if (binding.HostPort === undefined || binding.HostPort === '') throw new SwarmError(ErrorCode.NotImplemented, `shipyard: Shipyard binds a container port to a host port it is given (-p HOST:${port}); it cannot pick one`)
      bindPorts.push({ proto, host_ip: binding.HostIp ?? '', port: Number(binding.HostPort), container_port: Number(port) })
    }
  }
  const restart = body.HostConfig?.RestartPolicy as { Name?: string, MaximumRetryCount?: number } | undefined
  const name = queryValue(request.query, 'name')
  return {
    name: body.Image,
    ...(name === undefined || name === '' ? {} : { container_name: name }),
    ...(Array.isArray(body.Cmd) && body.Cmd.length > 0 ? { args: body.Cmd } : {}),
    ...(Object.keys(environment).length > 0 ? { environment } : {}),
    ...(typeof body.Hostname === 'string' && body.Hostname !== '' ? { hostname: body.Hostname } : {}),
    ...(body.Labels !== undefined && body.Labels !== null && Object.keys(body.Labels).length > 0 ? { labels: Object.entries(body.Labels as Record<string, string>).map(([key, value]) => `${key}=${value}`) } : {}),
    ...(bindPorts.length > 0 ? { bind_ports: bindPorts } : {}),
    ...(restart?.Name !== undefined && restart.Name !== '' && restart.Name !== 'no' ? { restart_policy: { name: restart.Name, maximum_retry: restart.MaximumRetryCount ?? 0 } } : {}),
    ...(typeof body.HostConfig?.NanoCpus === 'number' && body.HostConfig.NanoCpus > 0 ? { cpus: body.HostConfig.NanoCpus / 1e9 } : {}),
    ...(typeof body.HostConfig?.Memory === 'number' && body.HostConfig.Memory > 0 ? { memory: body.HostConfig.Memory / MB } : {}),
    type: 'service'
  }
}
