import { readFileSync } from 'node:fs'
import { parseArgs } from 'node:util'
import { ErrorCode, SwarmError, defineService, type Service } from '@libswarm/core'
import { createDockerServer, type DockerServerOptions } from './docker-server.js'

/** The usage line of the `dockerserver` service. */
export const DOCKERSERVER_USAGE = 'dockerserver ADDRESS... [--tls] [--tlsverify --tlscacert FILE --tlscert FILE --tlskey FILE] [--allow-insecure-tcp]'

/**
 * Reads the service's arguments (dockerd's flag names) into server options, minus `next`.
 * TLS files are read here, so a missing file fails at spawn, not at the first client.
 */
export function parseDockerServerArgs (args: readonly string[]): Omit<DockerServerOptions, 'next'> {
  let parsed
  try {
    parsed = parseArgs({
      args: [...args],
      allowPositionals: true,
      strict: true,
      options: {
        tls: { type: 'boolean' },
        tlsverify: { type: 'boolean' },
        tlscacert: { type: 'string' },
        tlscert: { type: 'string' },
        tlskey: { type: 'string' },
        'allow-insecure-tcp': { type: 'boolean' }
      }
    })
  } catch (error) {
    throw new SwarmError(ErrorCode.InvalidArguments, `${error instanceof Error ? error.message : String(error)}; usage: ${DOCKERSERVER_USAGE}`)
  }
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
  return { addresses: positionals, tls, allowInsecureTcp: values['allow-insecure-tcp'] === true }
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
    return {
      send: async (message, options) => { await context.next.send(message, options) },
      close: async () => { await server.close() }
    }
  }
})
