import { readFileSync } from 'node:fs'
import { ErrorCode, SwarmError, defineService, parseServiceArgs, type Service } from '@libswarm/core'
import { createDockerServer, type DockerServerOptions } from './docker-server.js'

/** The usage line of the `dockerserver` service. */
export const DOCKERSERVER_USAGE = 'dockerserver [NAME=]ADDRESS... [--tls] [--tlsverify --tlscacert FILE --tlscert FILE --tlskey FILE] [--allow-insecure-tcp]' +
  ' [--max-connections 1000] [--max-body-size 10m] [--headers-timeout 60s] [--body-timeout 60s] [--keep-alive-timeout 5s]'

/**
 * Reads the service's arguments (dockerd's flag names) into server options, minus `next`.
 * TLS files are read here, so a missing file fails at spawn, not at the first client.
 */
export function parseDockerServerArgs (args: readonly string[]): Omit<DockerServerOptions, 'next'> {
  const parsed = parseServiceArgs('dockerserver', args, {
    tls: { type: 'boolean' },
    tlsverify: { type: 'boolean' },
    tlscacert: { type: 'string' },
    tlscert: { type: 'string' },
    tlskey: { type: 'string' },
    'allow-insecure-tcp': { type: 'boolean' },
    'max-connections': { type: 'string' },
    'max-body-size': { type: 'string' },
    'headers-timeout': { type: 'string' },
    'body-timeout': { type: 'string' },
    'keep-alive-timeout': { type: 'string' }
  }, DOCKERSERVER_USAGE)
  const { values, positionals } = parsed
  if (positionals.length === 0) throw new SwarmError(ErrorCode.InvalidArguments, `dockerserver needs an address; usage: ${DOCKERSERVER_USAGE}`)
  const useTls = values.tls === true || values.tlsverify === true
  let tls: DockerServerOptions['tls']
  if (useTls) {
    if (values.tlscert === undefined || values.tlskey === undefined) {
      throw new SwarmError(ErrorCode.InvalidArguments, 'TLS needs --tlscert and --tlskey')
    }
    if (values.tlsverify === true && values.tlscacert === undefined) {
      throw new SwarmError(ErrorCode.InvalidArguments, '--tlsverify needs --tlscacert, the CA that client certificates must chain to')
    }
    tls = {
      cert: readPem(values.tlscert, '--tlscert'),
      key: readPem(values.tlskey, '--tlskey'),
      ca: values.tlscacert === undefined ? undefined : readPem(values.tlscacert, '--tlscacert'),
      verify: values.tlsverify === true
    }
  } else if (values.tlscert !== undefined || values.tlskey !== undefined || values.tlscacert !== undefined) {
    throw new SwarmError(ErrorCode.InvalidArguments, '--tlscacert, --tlscert and --tlskey need --tls or --tlsverify')
  }
  return {
    addresses: positionals,
    tls,
    allowInsecureTcp: values['allow-insecure-tcp'] === true,
    maxConnections: optional(values['max-connections'], (text) => parseCount(text, '--max-connections')),
    maxBodySize: optional(values['max-body-size'], (text) => parseSize(text, '--max-body-size')),
    headersTimeoutMs: optional(values['headers-timeout'], (text) => parseDuration(text, '--headers-timeout')),
    bodyTimeoutMs: optional(values['body-timeout'], (text) => parseDuration(text, '--body-timeout')),
    keepAliveTimeoutMs: optional(values['keep-alive-timeout'], (text) => parseDuration(text, '--keep-alive-timeout'))
  }
}

function optional<T> (text: string | undefined, parse: (text: string) => T): T | undefined {
  return text === undefined ? undefined : parse(text)
}

function parseCount (text: string, flag: string): number {
  if (!/^\d+$/.test(text) || Number(text) < 1) throw new SwarmError(ErrorCode.InvalidArguments, `${flag} ${JSON.stringify(text)}: expected a whole number of at least 1`)
  return Number(text)
}

const SIZE_UNITS: Record<string, number> = { '': 1, b: 1, k: 1024, kb: 1024, m: 1024 ** 2, mb: 1024 ** 2, g: 1024 ** 3, gb: 1024 ** 3 }

/** Bytes from `10m`, `512k`, `1048576`, as dockerd reads sizes. */
function parseSize (text: string, flag: string): number {
  const match = /^(\d+(?:\.\d+)?)([a-zA-Z]*)$/.exec(text.trim())
  const unit = match === null ? undefined : SIZE_UNITS[(match[2] as string).toLowerCase()]
  if (match === null || unit === undefined) throw new SwarmError(ErrorCode.InvalidArguments, `${flag} ${JSON.stringify(text)}: expected a size such as 10m, 512k or 1048576`)
  return Math.round(Number(match[1]) * unit)
}

/** Milliseconds from `60s`, `500ms`, `2m` or a number of seconds; `0` turns the timeout off. */
function parseDuration (text: string, flag: string): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text.trim())
  if (match === null) throw new SwarmError(ErrorCode.InvalidArguments, `${flag} ${JSON.stringify(text)}: expected a duration such as 500ms, 60s or 2m`)
  const unit = match[2] ?? 's'
  return Math.round(Number(match[1]) * (unit === 'ms' ? 1 : unit === 's' ? 1000 : unit === 'm' ? 60_000 : 3_600_000))
}

function readPem (file: string, flag: string): Buffer {
  try {
    return readFileSync(file)
  } catch (error) {
    throw new SwarmError(ErrorCode.InvalidArguments, `${flag} ${file}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`, { cause: error })
  }
}

/**
 * The `dockerserver` service: serves the Docker Engine API on the given addresses and
 * sends every request down the chain as a Docker request message. Messages sent to the
 * service itself are passed down the chain unchanged.
 *
 * @example
 * swarmd 'dockerserver unix:///tmp/swarm.sock' 'dockerclient unix:///var/run/docker.sock'
 */
export const dockerserver: Service = defineService({
  name: 'dockerserver',
  usage: DOCKERSERVER_USAGE,
  spawn: async (args, context) => {
    const server = createDockerServer({ ...parseDockerServerArgs(args), next: context.next, log: context.log })
    await server.start()
    let closed = false
    return {
      send: async (message, options) => {
        if (closed) throw new SwarmError(ErrorCode.ChannelClosed, 'dockerserver is closed')
        await context.next.send(message, options)
      },
      close: async () => {
        closed = true
        await server.close()
      }
    }
  }
})
