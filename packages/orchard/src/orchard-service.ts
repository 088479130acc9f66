import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ErrorCode, SwarmError, defineService, isSwarmError, parseServiceArgs, silentLogger, type Logger, type Service, type ServiceInstance } from '@libswarm/core'
import { createDockerClient } from '@libswarm/dockerclient'
import { createProvisioningService, waitForEngine } from '@libswarm/provision'
import { ORCHARD_API_URL, OrchardApi, parseOrchardSize, type OrchardHost } from './orchard-api.js'

/** The usage line swarmd lists. */
export const ORCHARD_USAGE = 'orchard [--api URL] [--token T | --user U --password P] [--ca FILE] [--create [--size 512M]] [--remove-on-stop] [--connect-timeout 30s] HOST...'

/** The port Orchard hosts' engines listen on with mutual TLS. */
export const ORCHARD_ENGINE_PORT = 4243

/** Options of {@link startOrchard}. */
export interface OrchardOptions {
  /** The API's base URL; default `ORCHARD_API_URL`, else Orchard's own (gone since 2015). */
  api?: string | undefined
  /** API token; default `ORCHARD_API_TOKEN`. */
  token?: string | undefined
  /** Signed in with, when there is no token (`POST /signin`). */
  user?: string | undefined
  password?: string | undefined
  /** PEM file of the CA the hosts' engine certificates are checked against; default `ORCHARD_HOST_CA`. */
  ca?: string | undefined
  /** Host names. */
  hosts: string[]
  /** Create a host the API does not know, with `size` MB (default 512). */
  create?: boolean | undefined
  size?: number | undefined
  /** Delete, on close, the hosts this instance created. */
  removeOnStop?: boolean | undefined
  /** How long each host's engine may take to answer over TLS. Default 30 s. */
  connectTimeoutMs?: number | undefined
  env?: Record<string, string | undefined> | undefined
}

/** Parses `orchard` arguments ({@link ORCHARD_USAGE}). */
export function parseOrchardArgs (args: readonly string[]): OrchardOptions {
  const parsed = parseServiceArgs('orchard', args, {
    api: { type: 'string' },
    token: { type: 'string' },
    user: { type: 'string' },
    password: { type: 'string' },
    ca: { type: 'string' },
    create: { type: 'boolean' },
    size: { type: 'string' },
    'remove-on-stop': { type: 'boolean' },
    'connect-timeout': { type: 'string' }
  }, ORCHARD_USAGE)
  const { values, positionals } = parsed
  if (positionals.length === 0) throw new SwarmError(ErrorCode.InvalidArguments, `orchard: name at least one host; usage: ${ORCHARD_USAGE}`)
  if (values.size !== undefined && values.create !== true) throw new SwarmError(ErrorCode.InvalidArguments, 'orchard: --size goes with --create')
  const timeout = values['connect-timeout']
  const match = timeout === undefined ? null : /^(\d+)(ms|s|m)?$/.exec(timeout)
  if (timeout !== undefined && match === null) throw new SwarmError(ErrorCode.InvalidArguments, `orchard: --connect-timeout wants a duration such as 500ms, 30s, 2m, got ${JSON.stringify(timeout)}`)
  return {
    api: values.api,
    token: values.token,
    user: values.user,
    password: values.password,
    ca: values.ca,
    hosts: positionals,
    create: values.create,
    size: values.size === undefined ? undefined : parseOrchardSize(values.size),
    removeOnStop: values['remove-on-stop'],
    connectTimeoutMs: match === null ? undefined : Number(match[1]) * ({ ms: 1, s: 1000, m: 60_000 }[match[2] ?? 's'] as number)
  }
}

/**
 * Finds (or with `create`, creates) each host through Orchard's API and connects to its engine
 * over mutual TLS on port 4243 with the client certificate and key the API returned, checking
 * the engine's certificate against the Orchard CA. Returns a provisioning service (core README,
 * "Provisioning services") over those hosts; with one host it is that engine.
 */
export async function startOrchard (options: OrchardOptions, log: Logger = silentLogger): Promise<ServiceInstance> {
  const env = options.env ?? process.env
  const api = new OrchardApi((options.api ?? env.ORCHARD_API_URL ?? ORCHARD_API_URL).replace(/\/+$/, ''))
  const ca = options.ca ?? env.ORCHARD_HOST_CA
  if (ca === undefined || ca === '') throw new SwarmError(ErrorCode.InvalidArguments, 'orchard: give the CA of the hosts\' engines (--ca FILE or ORCHARD_HOST_CA); Orchard\'s own CA expired with the service')
  const token = options.token ?? env.ORCHARD_API_TOKEN
  if (token !== undefined && token !== '') api.token = token
  else if (options.user !== undefined && options.password !== undefined) api.token = await api.signIn(options.user, options.password)
  else throw new SwarmError(ErrorCode.InvalidArguments, 'orchard: give an API token (--token or ORCHARD_API_TOKEN), or --user and --password to sign in')

  const created: string[] = []
  const hosts: Array<{ name: string, address: string, engine: ServiceInstance }> = []
  const secrets = await mkdtemp(join(tmpdir(), 'libswarm-orchard-'))
  const release = async (): Promise<void> => {
    await rm(secrets, { recursive: true, force: true })
    if (options.removeOnStop !== true) return
    for (const name of created) {
      try {
        await api.deleteHost(name)
        log.info('orchard host removed', { host: name })
      } catch (error) {
        log.warn('cannot remove an orchard host', { host: name, error: (error as Error).message })
      }
    }
  }
  try {
    await chmod(secrets, 0o700)
    for (const name of new Set(options.hosts)) {
      const host = await findHost(api, name, options, created, log)
      const dir = join(secrets, String(hosts.length))
      await writeFile(`${dir}-cert.pem`, host.client_cert, { mode: 0o600 })
      await writeFile(`${dir}-key.pem`, host.client_key, { mode: 0o600 })
      const address = `${host.ipv4_address.includes(':') ? `[${host.ipv4_address}]` : host.ipv4_address}:${ORCHARD_ENGINE_PORT}`
      const engine = createDockerClient({ address: `tcp://${address}`, tlsVerify: true, tlsCaCert: ca, tlsCert: `${dir}-cert.pem`, tlsKey: `${dir}-key.pem`, env: {} })
      hosts.push({ name: host.name, address, engine })
      await waitForEngine(engine, `orchard host ${host.name} (${address})`, { timeoutMs: options.connectTimeoutMs ?? 30_000 })
      log.info('orchard host connected', { host: host.name, address })
    }
  } catch (error) {
    await Promise.allSettled(hosts.map(async (host) => { await host.engine.close() }))
    await release()
    throw error
  }
  // the hosts were named at the start: the set never changes while the service runs
  return createProvisioningService({
    name: 'orchard',
    description: 'this chain',
    hosts: new Map(hosts.map((host) => [host.name, host])),
    subscribe: () => () => {},
    close: async () => {
      await Promise.allSettled(hosts.map(async (host) => { await host.engine.close() }))
      await release()
    }
  })
}

async function findHost (api: OrchardApi, name: string, options: OrchardOptions, created: string[], log: Logger): Promise<OrchardHost> {
  try {
    return await api.getHost(name)
  } catch (error) {
    if (!isSwarmError(error)) throw error
    if (error.code === ErrorCode.NotFound && options.create === true) {
      await api.createHost(name, options.size ?? 512)
      created.push(name)
      log.info('orchard host created', { host: name, size: options.size ?? 512 })
    } else if (error.code !== ErrorCode.Unavailable) {
      throw error
    }
  }
  // a booting host has its address and certificates once its engine runs
  const deadline = Date.now() + (options.connectTimeoutMs ?? 30_000)
  while (true) {
    await new Promise((resolve) => setTimeout(resolve, 500))
    try {
      return await api.getHost(name)
    } catch (error) {
      if (!isSwarmError(error) || error.code !== ErrorCode.Unavailable || Date.now() > deadline) throw error
    }
  }
}

/**
 * The orchard service: `orchard [--api URL] [--token T | --user U --password P] [--ca FILE]
 * [--create [--size S]] [--remove-on-stop] HOST...`. Each host is a Docker engine over mutual TLS;
 * with one host the service is that engine, with several put it under `aggregate`.
 */
export const orchard: Service = defineService({
  name: 'orchard',
  usage: ORCHARD_USAGE,
  spawn: async (args, context) => await startOrchard(parseOrchardArgs(args), context.log)
})
