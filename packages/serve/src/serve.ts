import { ErrorCode, SwarmError, defineService, listen, parseWireEndpointArgs, silentLogger } from '@libswarm/core'
import type { Logger, Sender, ServiceInstance, WireEndpointOptions, WireListener } from '@libswarm/core'

/** Options of the serve service. */
export interface ServeOptions extends WireEndpointOptions {
  /** The largest message accepted from a peer, in bytes. Default 16 MiB. */
  maxMessageSize?: number
}

const USAGE = 'serve ADDRESS [--tlscacert FILE --tlscert FILE --tlskey FILE]'

/** Parses serve's arguments. */
export function parseServeArgs (args: readonly string[]): ServeOptions {
  return parseWireEndpointArgs('serve', USAGE, args)
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
