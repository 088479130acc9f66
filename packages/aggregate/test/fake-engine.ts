import { randomBytes } from 'node:crypto'
import { ErrorCode, SwarmError, createServer, type ByteStream, type Message, type Sender } from '@libswarm/core'
import { decodeDockerRequest, encodeDockerReply, jsonReply, queryFlag, queryValue } from '@libswarm/docker-api'

/** A minimal engine for unit tests: enough of the Engine API for aggregate's cache, placement and routing. */
export interface FakeEngine {
  readonly service: Sender
  readonly name: string
  readonly containers: Map<string, Record<string, any>>
  readonly images: Array<{ Id: string, RepoTags: string[] }>
  /** Every operation this engine was asked, with its target. */
  readonly calls: string[]
  /** `down`: every request fails and event streams break; `hang`: requests never answer. */
  mode: 'up' | 'down' | 'hang'
  /** When each of `calls` arrived (Date.now()). */
  readonly callTimes: number[]
  /** The next `count` SystemPing answers come `ms` late. */
  slowPings (count: number, ms: number): void
  emit (event: Record<string, unknown>): void
  /** The next request of `operation` is answered only once the returned function is called. */
  hold (operation: string): () => void
  /** Adds a container behind aggregate's back (no event). */
  add (name: string, extra?: Record<string, any>): string
}

export interface FakeEngineOptions {
  name: string
  labels?: string[]
  ncpu?: number
  memTotal?: number
  apiVersion?: string
  images?: string[]
  /** `info` says how many containers it holds in each state, as dockerd does. */
  withCounts?: boolean
}

function containerCounts (containers: Array<Record<string, any>>): Record<string, number> {
  const paused = containers.filter((container) => container.State.Paused === true).length
  const running = containers.filter((container) => container.State.Running === true).length - paused
  return { Containers: containers.length, ContainersRunning: running, ContainersPaused: paused, ContainersStopped: containers.length - running - paused }
}

const encoder = new TextEncoder()

export function fakeEngine (options: FakeEngineOptions): FakeEngine {
  const containers = new Map<string, Record<string, any>>()
  const withTag = (ref: string): string => /:[^/]*$/.test(ref) ? ref : `${ref}:latest`
  const images = (options.images ?? ['busybox:latest']).map((tag) => ({ Id: `sha256:${randomBytes(32).toString('hex')}`, RepoTags: [tag] }))
  const subscribers = new Set<{ push: (bytes: Uint8Array | Error | null) => void }>()
  const calls: string[] = []
  const execs = new Map<string, string>()
  let clock = Date.now()
  const slow = { count: 0, ms: 0 }
  const held = new Map<string, Promise<void>>()
  const now = (): string => new Date(clock++).toISOString()

  const emit = (event: Record<string, unknown>): void => {
    const bytes = encoder.encode(JSON.stringify({ ...event, time: Math.floor(Date.now() / 1000), timeNano: Date.now() * 1e6 }) + '\n')
    for (const subscriber of subscribers) subscriber.push(bytes)
  }
  const containerEvent = (action: string, container: Record<string, any>): void => {
    emit({ Type: 'container', Action: action, status: action, id: container.Id, from: container.Config.Image, Actor: { ID: container.Id, Attributes: { name: container.Name.slice(1), image: container.Config.Image } } })
  }
  const makeContainer = (name: string, body: Record<string, any> = {}): Record<string, any> => {
    const id = randomBytes(32).toString('hex')
    const hostConfig = body.HostConfig ?? {}
    return {
      Id: id,
      Name: `/${name}`,
      Created: now(),
      Path: (body.Cmd ?? ['sh'])[0],
      Args: (body.Cmd ?? ['sh']).slice(1),
      Image: images.find((image) => image.RepoTags.includes(withTag(body.Image ?? '')))?.Id ?? 'sha256:unknown',
      State: { Status: 'created', Running: false, Paused: false, Restarting: false, Dead: false, ExitCode: 0, StartedAt: '0001-01-01T00:00:00Z', FinishedAt: '0001-01-01T00:00:00Z' },
      Config: { Image: body.Image ?? 'busybox', Env: body.Env ?? [], Labels: body.Labels ?? {}, ExposedPorts: body.ExposedPorts ?? null },
      HostConfig: { NetworkMode: 'default', ...hostConfig },
      NetworkSettings: { Ports: {}, Networks: { bridge: { NetworkID: 'n1' } } },
      Mounts: []
    }
  }
  const find = (ref: string): Record<string, any> => {
    const plain = ref.replace(/^\//, '')
    for (const container of containers.values()) if (container.Id === plain || container.Name === `/${plain}` || container.Id.startsWith(plain)) return container
    throw new SwarmError(ErrorCode.NotFound, `No such container: ${ref}`)
  }
  const start = (container: Record<string, any>): void => {
    container.State = { ...container.State, Status: 'running', Running: true, StartedAt: now() }
    const ports: Record<string, unknown> = {}
    for (const [key, bindings] of Object.entries(container.HostConfig.PortBindings ?? {})) ports[key] = bindings
    container.NetworkSettings.Ports = ports
  }

  const fake: FakeEngine = {
    name: options.name,
    containers,
    images,
    calls,
    mode: 'up',
    callTimes: [],
    slowPings: (count, ms) => { slow.count = count; slow.ms = ms },
    emit,
    hold: (operation) => {
      let release = (): void => {}
      held.set(operation, new Promise((resolve) => { release = resolve }))
      return () => { release() }
    },
    add: (name, extra = {}) => {
      const container = makeContainer(name, extra)
      if (extra.running === true) start(container)
      containers.set(container.Id, container)
      return container.Id
    },
    service: createServer({
      default: async (message: Message) => {
        if (fake.mode === 'hang') return await new Promise<never>(() => {})
        if (fake.mode === 'down') throw new SwarmError(ErrorCode.Unavailable, `connect ECONNREFUSED (${options.name})`)
        const request = decodeDockerRequest(message)
        calls.push(`${request.operation} ${request.target}`.trim())
        fake.callTimes.push(Date.now())
        const hold = held.get(request.operation)
        if (hold !== undefined) {
          held.delete(request.operation)
          await hold
        }
        switch (request.operation) {
          case 'SystemPing':
            if (slow.count > 0) {
              slow.count--
              await new Promise((resolve) => setTimeout(resolve, slow.ms))
            }
            return encodeDockerReply({ status: 200, body: 'OK', headers: { 'Api-Version': options.apiVersion ?? '1.41' } })
          case 'SystemInfo': return jsonReply({
            ...(options.withCounts === true ? containerCounts([...containers.values()]) : {}),
            ID: `ID-${options.name}`,
            Name: options.name, NCPU: options.ncpu ?? 4, MemTotal: options.memTotal ?? 8 * 1024 ** 3, Labels: options.labels ?? [], ServerVersion: '20.10.24', KernelVersion: '6.1.0', OperatingSystem: 'Fake Linux', Driver: 'overlay2', Images: images.length })
          case 'SystemVersion': return jsonReply({ Version: '20.10.24', ApiVersion: options.apiVersion ?? '1.41', MinAPIVersion: '1.12' })
          case 'SystemEvents': {
            const queue: Array<Uint8Array | Error | null> = []
            let wake: (() => void) | undefined
            const subscriber = { push: (item: Uint8Array | Error | null) => { queue.push(item); wake?.() } }
            subscribers.add(subscriber)
            const stream: ByteStream = (async function * () {
              try {
                while (true) {
                  const item = queue.shift()
                  if (item === undefined) {
                    await new Promise<void>((resolve) => { wake = resolve })
                    continue
                  }
                  if (item === null) return
                  if (item instanceof Error) throw item
                  yield item
                }
              } finally {
                subscribers.delete(subscriber)
              }
            })()
            return encodeDockerReply({ status: 200, stream })
          }
          case 'ContainerList': {
            const all = queryFlag(request.query, 'all')
            return jsonReply([...containers.values()].filter((c) => all || c.State.Running).map((c) => ({ Id: c.Id, Names: [c.Name], State: c.State.Status, Image: c.Config.Image, Created: Math.floor(Date.parse(c.Created) / 1000), Labels: c.Config.Labels })))
          }
          case 'ContainerInspect': return jsonReply(find(request.target))
          case 'ContainerCreate': {
            const body = request.body as Record<string, any>
            if (!images.some((image) => image.RepoTags.includes(withTag(body.Image)))) throw new SwarmError(ErrorCode.NotFound, `No such image: ${body.Image}`)
            const name = queryValue(request.query, 'name') ?? `c${containers.size}`
            if ([...containers.values()].some((c) => c.Name === `/${name}`)) throw new SwarmError(ErrorCode.Conflict, `name ${name} in use`)
            const container = makeContainer(name, body)
            containers.set(container.Id, container)
            containerEvent('create', container)
            return jsonReply({ Id: container.Id, Warnings: [] }, 201)
          }
          case 'ContainerStart': {
            const container = find(request.target)
            start(container)
            containerEvent('start', container)
            return encodeDockerReply({ status: 204 })
          }
          case 'ContainerStop': {
            const container = find(request.target)
            container.State = { ...container.State, Status: 'exited', Running: false, FinishedAt: now() }
            containerEvent('die', container)
            return encodeDockerReply({ status: 204 })
          }
          case 'ContainerDelete': {
            const container = find(request.target)
            containers.delete(container.Id)
            containerEvent('destroy', container)
            return encodeDockerReply({ status: 204 })
          }
          case 'ContainerLogs': {
            const container = find(request.target)
            return encodeDockerReply({ status: 200, stream: (async function * () { yield encoder.encode(`logs of ${container.Name} on ${options.name}`) })() })
          }
          case 'ContainerExec': {
            const container = find(request.target)
            const id = randomBytes(32).toString('hex')
            execs.set(id, container.Id)
            return jsonReply({ Id: id }, 201)
          }
          case 'ExecInspect':
          case 'ExecStart':
          case 'ExecResize': {
            const container = execs.get(request.target)
            if (container === undefined) throw new SwarmError(ErrorCode.NotFound, `No such exec instance: ${request.target}`)
            return jsonReply({ ID: request.target, ContainerID: container, node: options.name })
          }
          case 'NetworkList': return jsonReply(['bridge', 'host', 'none'].map((name, index) => ({ Name: name, Id: `net${index}-${options.name}`, Scope: 'local' })))
          case 'ImageList': return jsonReply(images.map((image) => ({ ...image, Created: 1, Containers: -1 })))
          case 'ImageCreate': {
            const tag = `${queryValue(request.query, 'fromImage') ?? ''}:${queryValue(request.query, 'tag') ?? 'latest'}`
            images.push({ Id: `sha256:${randomBytes(32).toString('hex')}`, RepoTags: [tag] })
            emit({ Type: 'image', Action: 'pull', id: tag, Actor: { ID: tag, Attributes: { name: tag } } })
            return encodeDockerReply({ status: 200, stream: (async function * () { yield encoder.encode(JSON.stringify({ status: `Pulled ${tag}` }) + '\n') })() })
          }
          default: {
            if (request.target !== '' && request.operation.startsWith('Container')) find(request.target)
            return jsonReply({ node: options.name, operation: request.operation, target: request.target, body: request.body ?? null })
          }
        }
      }
    })
  }
  Object.defineProperty(fake, 'breakEvents', { value: () => { for (const s of subscribers) s.push(new Error('connection reset')) } })
  return fake
}

/** Breaks every open event stream of a fake engine (as a killed engine does). */
export function breakEvents (engine: FakeEngine): void {
  (engine as unknown as { breakEvents: () => void }).breakEvents()
}
