import { ErrorCode, SwarmError, defineService, isLoopbackHost, listen, parseWireAddress, parseWireEndpointArgs, silentLogger } from '@libswarm/core'
import type { Logger, Sender, ServiceInstance, WireEndpointOptions, WireListener } from '@libswarm/core'
import { ServeErrorCode } from './errors.js'

/** Options of the serve service. */
export interface ServeOptions extends WireEndpointOptions {
  /** The largest message accepted from a peer, in bytes. Default 16 MiB. */
  maxMessageSize?: number
  /**
   * Listen on plain `tcp://` beyond loopback, where whoever reaches the port controls the whole
   * chain (logged as a warning). Without it such an address is refused with `INSECURE_TCP`.
   */
  allowInsecureTcp?: boolean
}

const USAGE = 'serve ADDRESS [--tlscacert FILE --tlscert FILE --tlskey FILE] [--allow-insecure-tcp]'
const INSECURE_FLAG = '--allow-insecure-tcp'

/** Parses serve's arguments. */
export function parseServeArgs (args: readonly string[]): ServeOptions {
  const options: ServeOptions = parseWireEndpointArgs('serve', USAGE, args.filter((arg) => arg !== INSECURE_FLAG))
  if (args.includes(INSECURE_FLAG)) options.allowInsecureTcp = true
  return options
}

/** Refuses plain TCP beyond loopback unless allowed, with the same rule as dockerserver. */
function checkExposure (options: ServeOptions, log: Logger): void {
  const target = parseWireAddress(options.address)
  if (target.kind !== 'tcp' || isLoopbackHost(target.host ?? '')) return
  if (options.allowInsecureTcp !== true) {
    throw new SwarmError(ServeErrorCode.InsecureTcp,
      `refusing plain TCP on ${options.address}: anyone who reaches it controls the whole chain; use a loopback host, tls:// (mutual TLS), or ${INSECURE_FLAG}`)
  }
  log.warn('serve: plain TCP beyond loopback (--allow-insecure-tcp): anyone who reaches it controls the whole chain', { address: options.address })
}

/** A running serve instance: a Sender (what it receives goes to `next`) with the address it listens on. */
export interface ServeInstance extends ServiceInstance {
  readonly address: string
}

/**
 * Listens on `options.address` and feeds every message arriving from any connection
 * into `next`; messages sent to the instance itself go to `next` as well.
 */
export async function createServe (next: Sender, options: ServeOptions, log: Logger = silentLogger): Promise<ServeInstance> {
  checkExposure(options, log)
  let closed = false
  // Peers must not be able to close the rest of the chain: only sends pass through.
  const front: Sender = {
    send: async (message, sendOptions) => {
      if (closed) throw new SwarmError(ErrorCode.Unavailable, 'serve is closing')
      await next.send(message, sendOptions)
    },
    close: async () => {}
  }
  const listener: WireListener = await listen(options.address, {
    service: front,
    tls: options.tls,
    maxMessageSize: options.maxMessageSize,
    log,
    onConnection: (connection) => {
      log.debug('serve: peer connected')
      void connection.closed.then((error) => { log.debug('serve: peer disconnected', { error: error?.message }) })
    }
  })
  log.info('serve: listening', { address: listener.address })
  return {
    address: listener.address,
    send: async (message, sendOptions) => {
      if (closed) throw new SwarmError(ErrorCode.ChannelClosed, 'serve is closed')
      await next.send(message, sendOptions)
    },
    close: async () => {
      if (closed) return
      closed = true
      await listener.close()
    }
  }
}

/**
 * `serve ADDRESS`: a front service that accepts libswarm wire connections (unix, tcp,
 * or mutual TLS) and feeds their messages into the rest of the chain.
 *
 * @example
 * swarmd 'serve unix:///run/swarm.sock' 'dockerclient unix:///var/run/docker.sock'
 */
export const serve = defineService({
  name: 'serve',
  usage: USAGE,
  spawn: async (args, context) => await createServe(context.next, parseServeArgs(args), context.log)
})
