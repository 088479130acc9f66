import { ErrorCode, SwarmError, createServer, defineService, type Message, type Service, type ServiceInstance } from '@libswarm/core'
import { UNMAPPED_OPERATION, decodeDockerRequest } from '@libswarm/docker-api'
import { ByteQueue } from './byte-queue.js'
import { containerOperations } from './container-operations.js'
import { Engine } from './engine.js'
import { engineErrors } from './errors.js'
import { imageOperations } from './image-operations.js'
import { networkOperations } from './network-operations.js'
import { jsonReply } from '@libswarm/docker-api'
import { streamReply, type Operation } from './operation.js'
import { SeededRandom } from './random.js'
import { systemOperations } from './system-operations.js'
import { volumeOperations } from './volume-operations.js'
import { writeTar } from './tar.js'

/** Options of {@link createSimulator}; the swarmd arguments of the same names set them. */
export interface SimulatorOptions {
  /** The engine's name (`docker info` Name). Default `simulator`. */
  name?: string
  /** CPUs it reports. Default 4. */
  cpus?: number
  /** Memory it reports, in bytes or with a unit (`4g`, `512m`). Default 8 GiB. */
  memory?: number | string
  /** Engine labels (`docker info` Labels), as `k=v` strings or an object. */
  labels?: string[] | Record<string, string>
  /** Images present at start. Default `['busybox:latest']`. */
  images?: string[]
  /** Milliseconds every reply is delayed. Default 0. */
  latency?: number
  /** Fraction (0..1) of requests answered with a simulated 500 error. Default 0. */
  failureRate?: number
  /** Seed of the id and failure generators, for reproducible runs. Random when absent. */
  seed?: number
  /**
   * Events kept for `docker events --since` (dockerd keeps 256, about 36 KiB). A test
   * running thousands of simulators may keep fewer.
   */
  eventHistory?: number
}

/** Counts describing a simulator's state, for tests and benchmarks. */
export interface SimulatorSnapshot {
  readonly name: string
  readonly containers: number
  readonly running: number
  readonly paused: number
  readonly images: number
  readonly networks: number
  readonly volumes: number
  /** Sum of the NanoCpus of its containers' HostConfig. */
  readonly reservedNanoCpus: number
  /** Sum of the Memory limits of its containers' HostConfig. */
  readonly reservedMemory: number
}

/** A running simulator: a service instance (send it Docker requests) with a small typed handle. */
export interface Simulator extends ServiceInstance, AsyncDisposable {
  readonly name: string
  /** The engine's counts right now. */
  snapshot (): SimulatorSnapshot
}

/** The usage line swarmd lists. */
export const SIMULATOR_USAGE = 'simulator [--name NAME] [--cpus N] [--memory BYTES|4g] [--label k=v]... [--image REF]... [--latency MS] [--failure-rate 0..1] [--seed N] [--event-history N]'

const GIB = 1024 ** 3
const UNITS: Record<string, number> = { '': 1, b: 1, k: 1024, kb: 1024, m: 1024 ** 2, mb: 1024 ** 2, g: GIB, gb: GIB, t: 1024 ** 4, tb: 1024 ** 4 }

/** Bytes from `4g`, `512m`, `1073741824`, as `docker run --memory` reads them. */
export function parseBytes (text: string | number): number {
  if (typeof text === 'number') return text
  const match = /^(\d+(?:\.\d+)?)\s*([a-zA-Z]*)$/.exec(text.trim())
  const unit = match === null ? undefined : UNITS[(match[2] as string).toLowerCase()]
  if (match === null || unit === undefined) throw new SwarmError(ErrorCode.InvalidArguments, `invalid size: ${JSON.stringify(text)}`)
  return Math.round(Number(match[1]) * unit)
}

/** The options of `simulator ARGS...` as swarmd passes them. */
export function parseSimulatorArgs (args: readonly string[]): SimulatorOptions {
  const options: SimulatorOptions = {}
  const labels: string[] = []
  const images: string[] = []
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] as string
    const equals = arg.indexOf('=')
    const flag = arg.startsWith('--') && equals > 0 ? arg.slice(0, equals) : arg
    const value = (): string => {
      if (flag !== arg) return arg.slice(equals + 1)
      const next = args[++i]
      if (next === undefined) throw new SwarmError(ErrorCode.InvalidArguments, `${flag} needs a value; usage: ${SIMULATOR_USAGE}`)
      return next
    }
    const number = (text: string, min: number, max: number): number => {
      const parsed = Number(text)
      if (text === '' || !Number.isFinite(parsed) || parsed < min || parsed > max) throw new SwarmError(ErrorCode.InvalidArguments, `${flag} takes a number from ${min} to ${max}, not ${JSON.stringify(text)}`)
      return parsed
    }
    switch (flag) {
      case '--name': options.name = value(); break
      case '--cpus': options.cpus = number(value(), 1, 4096); break
      case '--memory': options.memory = parseBytes(value()); break
      case '--label': labels.push(value()); break
      case '--image': images.push(value()); break
      case '--latency': options.latency = number(value(), 0, 3_600_000); break
      case '--failure-rate': options.failureRate = number(value(), 0, 1); break
      case '--seed': options.seed = number(value(), 0, Number.MAX_SAFE_INTEGER); break
      case '--event-history': options.eventHistory = Math.floor(number(value(), 1, 1_000_000)); break
      default: throw new SwarmError(ErrorCode.InvalidArguments, `unknown argument ${JSON.stringify(arg)}; usage: ${SIMULATOR_USAGE}`)
    }
  }
  if (labels.length > 0) options.labels = labels
  if (images.length > 0) options.images = images
  return options
}

const exportContainer: Operation = (engine, request) => {
  engine.getContainer(request.target)
  const queue = new ByteQueue()
  queue.push(writeTar([]))
  queue.end()
  return streamReply(queue, 'application/x-tar')
}

const OPERATIONS: ReadonlyMap<string, Operation> = new Map(Object.entries({
  ...systemOperations,
  ...containerOperations,
  ...imageOperations,
  ...networkOperations,
  ...volumeOperations,
  ContainerExport: exportContainer,
  PluginList: () => jsonReply([]),
  BuildPrune: () => jsonReply({ CachesDeleted: null, SpaceReclaimed: 0 }),
  PluginInspect: (_engine, request) => { throw engineErrors.noSuchPlugin(request.target) }
}))

/**
 * Starts a simulated Docker engine in memory. It answers the Docker vocabulary of
 * `@libswarm/docker-api` as dockerd 20.10 (API 1.41) would.
 *
 * @example
 * await using sim = createSimulator({ name: 'sim-0', cpus: 2 })
 * const reply = await request(sim, 'Get', ['SystemInfo', '', '{}'])
 */
export function createSimulator (options: SimulatorOptions = {}): Simulator {
  const name = options.name ?? 'simulator'
  const labels = Array.isArray(options.labels) ? options.labels : Object.entries(options.labels ?? {}).map(([key, value]) => `${key}=${value}`)
  const engine = new Engine({
    name,
    cpus: options.cpus ?? 4,
    memory: parseBytes(options.memory ?? 8 * GIB),
    labels,
    images: options.images ?? ['busybox:latest'],
    seed: options.seed,
    eventHistory: options.eventHistory
  })
  const latency = options.latency ?? 0
  const failureRate = options.failureRate ?? 0
  const failures = new SeededRandom(options.seed, name + '/failures')

  const answer = (message: Message): Message | Promise<Message> => {
    const request = decodeDockerRequest(message)
    if (failureRate > 0 && failures.next() < failureRate) throw engineErrors.simulatedFailure(request.operation)
    const operation = OPERATIONS.get(request.operation)
    if (operation === undefined) {
      const what = request.operation === UNMAPPED_OPERATION ? `${request.method ?? 'GET'} ${request.url ?? '/'}` : request.operation
      throw engineErrors.notImplemented(what)
    }
    // Asked only of streamed replies: a pipe's `abandoned` is made on first use.
    const stopWhenAbandoned = (reply: Message): Message => {
      const abandoned = reply.stream instanceof ByteQueue ? message.ret?.abandoned : undefined
      if (abandoned !== undefined) (reply.stream as ByteQueue).stopOn(abandoned)
      return reply
    }
    const reply = operation(engine, request)
    return reply instanceof Promise ? reply.then(stopWhenAbandoned) : stopWhenAbandoned(reply)
  }
  const server = createServer({
    default: latency > 0
      ? async (message) => {
        await new Promise((resolve) => setTimeout(resolve, latency))
        return await answer(message)
      }
      : answer
  }, {
    onClose: () => { engine.close() }
  })
  const close = async (): Promise<void> => { await server.close() }
  return {
    name,
    send: server.send,
    close,
    [Symbol.asyncDispose]: close,
    snapshot: () => ({
      name,
      containers: engine.containers.size,
      running: engine.running,
      paused: engine.paused,
      images: engine.images.size,
      networks: engine.networks.size,
      volumes: engine.volumes.size,
      reservedNanoCpus: engine.reservedNanoCpus,
      reservedMemory: engine.reservedMemory
    })
  }
}

/**
 * The `simulator` service: a Docker engine played in memory, for demos without an
 * engine and for testing what sits in front of many engines.
 *
 * @example
 * swarmd 'dockerserver unix:///tmp/swarm.sock' 'simulator --name sim-0'
 */
export const simulator: Service = defineService({
  name: 'simulator',
  usage: SIMULATOR_USAGE,
  spawn: (args) => createSimulator(parseSimulatorArgs(args))
})
