import { ErrorCode, SwarmError, abandonedSignal, createServer, defineService, parseServiceArgs, silentLogger, type Logger, type Message, type Sender, type Service, type ServiceInstance } from '@libswarm/core'
import { decodeDockerRequest, isDockerRequest } from '@libswarm/docker-api'
import { ShipyardDockerMapping } from './docker-mapping.js'
import { ShipyardApi } from './shipyard-api.js'
import { startShipyardEngines } from './shipyard-engines.js'

/** The usage line swarmd lists. */
export const SHIPYARD_USAGE = 'shipyard URL [--user U --password P | --user U --token T | --service-key K] [--engines [--connect-timeout 30s] [--engines-interval 10s]]'

/** Options of {@link startShipyard}. */
export interface ShipyardOptions {
  /** The controller's URL, such as `http://shipyard:8080`. */
  url: string
  /** Sign in with these (`POST /auth/login`). */
  user?: string | undefined
  password?: string | undefined
  /** A token `auth/login` gave (with `user`): sent as `X-Access-Token: user:token`. */
  token?: string | undefined
  /** A service key: sent as `X-Service-Key`. */
  serviceKey?: string | undefined
  /** Use Shipyard only as a registry of engines: each engine becomes a dockerclient. */
  engines?: boolean | undefined
  /** With `engines`: how long each engine may take to answer. Default 30 s. */
  connectTimeoutMs?: number | undefined
  /** With `engines`: how often Shipyard's engine list is read again (0: never). Default 10 s. */
  enginesIntervalMs?: number | undefined
  /** How often a followed `docker events` reads Shipyard's event list. Default 1 s. */
  eventPollMs?: number | undefined
}

/** Parses `shipyard` arguments ({@link SHIPYARD_USAGE}). */
export function parseShipyardArgs (args: readonly string[]): ShipyardOptions {
  const parsed = parseServiceArgs('shipyard', args, {
    user: { type: 'string' },
    password: { type: 'string' },
    token: { type: 'string' },
    'service-key': { type: 'string' },
    engines: { type: 'boolean' },
    'connect-timeout': { type: 'string' },
    'engines-interval': { type: 'string' }
  }, SHIPYARD_USAGE)
  const { values, positionals } = parsed
  if (positionals.length !== 1) throw new SwarmError(ErrorCode.InvalidArguments, `shipyard: give the controller's URL, once; usage: ${SHIPYARD_USAGE}`)
  const url = positionals[0] as string
  if (!/^https?:\/\/[^/]+/.test(url)) throw new SwarmError(ErrorCode.InvalidArguments, `shipyard: the URL must be http:// or https://, got ${JSON.stringify(url)}`)
  const ways = [values.password !== undefined, values.token !== undefined, values['service-key'] !== undefined].filter(Boolean).length
  if (ways !== 1) throw new SwarmError(ErrorCode.InvalidArguments, `shipyard: give one of --user U --password P, --user U --token T, --service-key K; usage: ${SHIPYARD_USAGE}`)
  if (values['service-key'] === undefined && values.user === undefined) throw new SwarmError(ErrorCode.InvalidArguments, 'shipyard: --password and --token go with --user')
  return {
    url: url.replace(/\/+$/, ''),
    user: values.user,
    password: values.password,
    token: values.token,
    serviceKey: values['service-key'],
    engines: values.engines,
    connectTimeoutMs: duration('connect-timeout', values['connect-timeout']),
    enginesIntervalMs: duration('engines-interval', values['engines-interval'])
  }
}

function duration (flag: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined
  const match = /^(\d+)(ms|s|m)?$/.exec(text)
  if (match === null) throw new SwarmError(ErrorCode.InvalidArguments, `shipyard: --${flag} wants a duration such as 500ms, 30s, 2m, got ${JSON.stringify(text)}`)
  return Number(match[1]) * ({ ms: 1, s: 1000, m: 60_000 }[match[2] ?? 's'] as number)
}

/**
 * Signs in to Shipyard (or takes a token or service key) and checks the credentials with one
 * call, then serves the Docker messages Shipyard can express, or, with `engines`, Shipyard's
 * engines as a provisioning service.
 */
export async function startShipyard (options: ShipyardOptions, log: Logger = silentLogger, next?: Sender): Promise<ServiceInstance> {
  const api = new ShipyardApi(options.url)
  if (options.serviceKey !== undefined) api.credentials = { serviceKey: options.serviceKey }
  else if (options.token !== undefined && options.user !== undefined) api.credentials = { user: options.user, token: options.token }
  else if (options.user !== undefined && options.password !== undefined) await api.login(options.user, options.password)
  else throw new SwarmError(ErrorCode.InvalidArguments, 'shipyard: give --user and --password, --user and --token, or --service-key')
  if (options.engines === true) return await startShipyardEngines(api, { timeoutMs: options.connectTimeoutMs ?? 30_000, intervalMs: options.enginesIntervalMs ?? 10_000, log })
  // a bad token or a role that may not list containers fails here, not at the first docker command
  await api.json('GET', '/api/containers')
  const mapping = new ShipyardDockerMapping(api, options.eventPollMs)
  return createServer({
    default: async (message: Message) => {
      if (isDockerRequest(message)) return await mapping.answer(decodeDockerRequest(message), abandonedSignal(message.ret))
      if (next === undefined) throw new SwarmError(ErrorCode.NotImplemented, `shipyard: ${message.verb} is not a Docker request`)
      await next.send(message)
      return undefined
    }
  })
}

/**
 * The shipyard service: `shipyard URL [--user U --password P | --user U --token T | --service-key K] [--engines]`.
 * Without `--engines` it maps what Shipyard's v2 API can express (ps, inspect, run -d, start,
 * stop, restart, rm, logs, events, info) and answers NOT_IMPLEMENTED for the rest; with it,
 * Shipyard's engines are dockerclients under the provisioning contract, for `aggregate`.
 */
export const shipyard: Service = defineService({
  name: 'shipyard',
  usage: SHIPYARD_USAGE,
  spawn: async (args, context) => await startShipyard(parseShipyardArgs(args), context.log, context.next)
})
