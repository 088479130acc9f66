import { parse as parseShellWords } from 'shell-quote'
import { ErrorCode, SwarmError } from './errors.js'
import { silentLogger, type Logger } from './logger.js'
import type { Sender } from './message.js'
import { createServer } from './server.js'
import type { Service, ServiceInstance } from './service.js'

/** One service of a chain: its name (or package) and its arguments. */
export interface ChainLink {
  readonly name: string
  readonly args: string[]
}

/** Finds a service by name. swarmd's resolver also loads packages and paths. */
export type ServiceResolver = (name: string) => Promise<Service> | Service

/**
 * Splits one chain argument with shell-like quoting, as the seed's swarmd does:
 * `aggregate "dockerclient tcp://a:2375" "dockerclient tcp://b:2375"` is the service
 * `aggregate` with two arguments, each of which is itself a service spec.
 */
export function parseServiceSpec (spec: string): ChainLink {
  const words = parseShellWords(spec, (name) => `$${name}`)
  const strings: string[] = []
  for (const word of words) {
    if (typeof word === 'string') strings.push(word)
    else if ('comment' in word) break
    else if ('op' in word && word.op === 'glob') strings.push(word.pattern)
    else throw new SwarmError(ErrorCode.InvalidArguments, `unexpected shell operator in ${JSON.stringify(spec)}: ${JSON.stringify(word)}`)
  }
  const [name, ...args] = strings
  if (name === undefined) throw new SwarmError(ErrorCode.InvalidArguments, 'empty service spec')
  return { name, args }
}

/** Where a chain ends: every message gets `Error [NOT_IMPLEMENTED, ...]`. */
export const endOfChain: Sender = createServer({
  default: (message) => {
    throw new SwarmError(ErrorCode.NotImplemented, `no service in the chain handles ${message.verb} ${message.args.slice(0, 2).join(' ')}`.trim())
  }
})

/** A running chain. */
export interface Chain extends AsyncDisposable {
  /** The first service: messages sent here travel the whole chain. */
  readonly head: Sender
  readonly instances: readonly ServiceInstance[]
  /** Closes every service, front first, so fronts stop accepting before backs go away. */
  close (): Promise<void>
}

/** Options of {@link spawnChain}. */
export interface SpawnChainOptions {
  resolve: ServiceResolver
  log?: Logger
  /** What the last service forwards to. Default {@link endOfChain}. */
  tail?: Sender
}

/**
 * Spawns each service with its arguments and connects each one's output to the next
 * one's input, back to front, so that a front service starts listening only once
 * everything behind it runs.
 *
 * @example
 * const chain = await spawnChain(['dockerserver unix:///tmp/swarm.sock', 'dockerclient'], { resolve })
 */
export async function spawnChain (links: ReadonlyArray<ChainLink | string>, options: SpawnChainOptions): Promise<Chain> {
  const log = options.log ?? silentLogger
  const parsed = links.map((link) => typeof link === 'string' ? parseServiceSpec(link) : link)
  const instances: ServiceInstance[] = []
  let next: Sender = options.tail ?? endOfChain
  try {
    for (let index = parsed.length - 1; index >= 0; index--) {
      const link = parsed[index] as ChainLink
      const instance = await spawnService(link, next, options.resolve, log.child({ service: link.name, position: index }))
      instances.unshift(instance)
      next = instance
    }
  } catch (error) {
    await closeAll(instances)
    throw error
  }
  let closing: Promise<void> | undefined
  const close = async (): Promise<void> => {
    closing ??= closeAll(instances)
    await closing
  }
  return { head: next, instances, close, [Symbol.asyncDispose]: close }
}

/** Spawns one service of a chain with `next` behind it; children it spawns end at {@link endOfChain}. */
export async function spawnService (link: ChainLink, next: Sender, resolve: ServiceResolver, log: Logger = silentLogger): Promise<ServiceInstance> {
  const service = await resolve(link.name)
  return await service.spawn([...link.args], {
    next,
    log,
    spawn: async (spec) => {
      const child = parseServiceSpec(spec)
      return await spawnService(child, endOfChain, resolve, log.child({ service: child.name }))
    }
  })
}

async function closeAll (instances: readonly ServiceInstance[]): Promise<void> {
  for (const instance of instances) {
    try {
      await instance.close()
    } catch {}
  }
}
