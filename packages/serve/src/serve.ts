import {
  ErrorCode, SwarmError, defineService, errorMessage, isLoopbackHost, listen, parseWireAddress, parseWireEndpointArgs, replyAndClose, silentLogger
} from '@libswarm/core'
import type { Logger, Sender, ServiceInstance, WireEndpointOptions, WireListener } from '@libswarm/core'
import { ServeErrorCode } from './errors.js'
import { InFlight } from './in-flight.js'

/** Options of the serve service. */
export interface ServeOptions extends WireEndpointOptions {
  /** The largest message accepted from a peer, in bytes. Default 16 MiB. */
  maxMessageSize?: number
  /**
   * Listen on plain `tcp://` beyond loopback, where whoever reaches the port controls the whole
   * chain (logged as a warning). Without it such an address is refused with `INSECURE_TCP`.
   */
  allowInsecureTcp?: boolean
  /**
   * How long `close()` lets the requests in flight answer (their replies, streams included,
   * reach the wire) before it closes the connections. Default 10000 ms.
   */
  closeTimeoutMs?: number
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
  const inFlight = new InFlight()
  // Peers must not be able to close the rest of the chain: only sends pass through.
  const front: Sender = {
    send: async (message, sendOptions) => {
      if (closed) {
        await replyAndClose(message.ret, errorMessage(new SwarmError(ErrorCode.Unavailable, 'serve is shutting down')))
        return
      }
      await next.send(inFlight.track(message), sendOptions)
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
  const cut = new AbortController()
  let closing: Promise<void> | undefined
  return {
    address: listener.address,
    send: async (message, sendOptions) => {
      if (closed) throw new SwarmError(ErrorCode.ChannelClosed, 'serve is closed')
      await next.send(message, sendOptions)
    },
    close: async () => {
      // A second close while the first drains cuts what is left.
      if (closing !== undefined) {
        cut.abort()
        await closing
        return
      }
      closed = true
      closing = (async () => {
        listener.stopAccepting()
        if (inFlight.size > 0) log.info('serve: waiting for replies in flight', { inFlight: inFlight.size })
        const timer = setTimeout(() => { cut.abort() }, options.closeTimeoutMs ?? 10_000)
        await inFlight.idle({ signal: cut.signal })
        clearTimeout(timer)
        if (inFlight.size > 0) log.warn('serve: closing with replies still in flight', { inFlight: inFlight.size })
        await listener.close()
      })()
      await closing
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
