import { ErrorCode, SwarmError } from './errors.js'
import type { Logger } from './logger.js'
import type { Sender } from './message.js'

/** A running service: it receives messages with `send`, and `close` stops it. */
export interface ServiceInstance extends Sender {}

/** What a service is given when it is spawned. */
export interface ServiceContext {
  /** The rest of the chain: forward what this service does not answer itself. */
  readonly next: Sender
  /**
   * Spawns a child service from one argument of the chain syntax, such as
   * `dockerclient tcp://a:2375`; the child's own `next` is the end of a chain. The
   * caller owns the child and closes it.
   */
  spawn (spec: string): Promise<ServiceInstance>
  readonly log: Logger
}

/**
 * The contract a service implements: a name, a usage line, and `spawn`, which takes
 * the service's arguments (as swarmd split them) and returns a running instance.
 */
export interface Service {
  readonly name: string
  /** One line: the name and the argument syntax, as `swarmd` lists it, e.g. `dockerclient [ADDRESS]`. */
  readonly usage: string
  spawn (args: string[], context: ServiceContext): Promise<ServiceInstance> | ServiceInstance
}

const NAME = /^[a-z0-9][a-z0-9._-]*$/

/**
 * Checks and returns a service definition.
 *
 * @example
 * export const hello = defineService({
 *   name: 'hello',
 *   usage: 'hello',
 *   spawn: () => createServer({ Ls: () => message('Ack', ['hello']) })
 * })
 */
export function defineService (service: Service): Service {
  if (!NAME.test(service.name)) throw new SwarmError(ErrorCode.InvalidArguments, `invalid service name ${JSON.stringify(service.name)}`)
  if (typeof service.spawn !== 'function') throw new SwarmError(ErrorCode.InvalidArguments, `service ${service.name} has no spawn function`)
  return service
}

/** True when `value` has the shape of a {@link Service}. */
export function isService (value: unknown): value is Service {
  return typeof value === 'object' && value !== null &&
    typeof (value as Service).name === 'string' &&
    typeof (value as Service).usage === 'string' &&
    typeof (value as Service).spawn === 'function'
}
