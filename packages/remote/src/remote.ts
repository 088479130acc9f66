import { ErrorCode, SwarmError, defineService, dial, errorMessage, replyAndClose, parseWireEndpointArgs, silentLogger } from '@libswarm/core'
import type { AbortOptions, Logger, Message, ServiceInstance, WireConnection, WireEndpointOptions } from '@libswarm/core'

/** Options of the remote service. */
export interface RemoteOptions extends WireEndpointOptions {
  /** Milliseconds a dial may take. Default 5000. */
  connectTimeout?: number
  /** First wait before dialing again after a failure, doubled up to `maxBackoff`. Default 100. */
  backoff?: number
  /** Longest wait between dials. Default 2000. */
  maxBackoff?: number
  /** The largest message accepted from the peer, in bytes. Default 16 MiB. */
  maxMessageSize?: number
}

const USAGE = 'remote ADDRESS [--tlscacert FILE --tlscert FILE --tlskey FILE]'

/** Parses remote's arguments. */
export function parseRemoteArgs (args: readonly string[]): RemoteOptions {
  return parseWireEndpointArgs('remote', USAGE, args)
}

/**
 * Forwards every message to the wire endpoint at `options.address`. It dials at once,
 * and again on the next message after the connection dropped (waiting out a short,
 * growing backoff after a failed dial). A message it cannot deliver is answered
 * `Error [UNAVAILABLE, ...]` on its ret; replies pending when the connection drops
 * reject the same way. Nothing waits forever.
 */
export function createRemote (options: RemoteOptions, log: Logger = silentLogger): ServiceInstance {
  const initialBackoff = options.backoff ?? 100
  const maxBackoff = options.maxBackoff ?? 2000
  let connection: WireConnection | undefined
  let connecting: Promise<WireConnection> | undefined
  let backoff = 0
  let retryAt = 0
  let closed = false
  const closer = new AbortController()

  const connect = async (): Promise<WireConnection> => {
    if (connection !== undefined) return connection
    connecting ??= (async () => {
      const wait = retryAt - Date.now()
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait))
      if (closed) throw new SwarmError(ErrorCode.ChannelClosed, 'remote is closed')
      try {
        const dialed = await dial(options.address, {
          tls: options.tls,
          maxMessageSize: options.maxMessageSize,
          log,
          signal: AbortSignal.any([closer.signal, AbortSignal.timeout(options.connectTimeout ?? 5000)])
        })
        backoff = 0
        connection = dialed
        log.info('remote: connected', { address: options.address })
        void dialed.closed.then((error) => {
          if (connection === dialed) connection = undefined
          log.info('remote: disconnected', { address: options.address, error: error?.message })
        })
        return dialed
      } catch (error) {
        backoff = backoff === 0 ? initialBackoff : Math.min(backoff * 2, maxBackoff)
        retryAt = Date.now() + backoff
        throw new SwarmError(ErrorCode.Unavailable, `remote ${options.address} is unavailable: ${(error as Error).message}`, { cause: error })
      } finally {
        connecting = undefined
      }
    })()
    return await connecting
  }

  connect().catch((error: Error) => { log.warn('remote: first dial failed', { address: options.address, error: error.message }) })

  return {
    send: async (message: Message, sendOptions?: AbortOptions) => {
      if (closed) throw new SwarmError(ErrorCode.ChannelClosed, 'remote is closed')
      try {
        const target = await connect()
        await target.remote.send(message, sendOptions)
      } catch (error) {
        if ((error as Error).name === 'AbortError' || sendOptions?.signal?.aborted === true) throw error
        const reason = (error as { code?: string }).code === ErrorCode.MessageTooLarge
          ? error
          : new SwarmError(ErrorCode.Unavailable, (error as Error).message, { cause: error })
        if (message.ret === undefined) log.warn('remote: dropped a message without ret', { verb: message.verb, error: (error as Error).message })
        await replyAndClose(message.ret, errorMessage(reason))
      }
    },
    close: async () => {
      if (closed) return
      closed = true
      closer.abort(new SwarmError(ErrorCode.ChannelClosed, 'remote is closed'))
      await connection?.close()
    }
  }
}

/**
 * `remote ADDRESS`: a back service that forwards the chain's messages over the libswarm
 * wire to a `serve` (or any wire endpoint) elsewhere.
 *
 * @example
 * swarmd 'dockerserver unix:///tmp/docker.sock' 'remote tls://10.0.0.5:4242 --tlscacert ca.pem --tlscert me.pem --tlskey me-key.pem'
 */
export const remote = defineService({
  name: 'remote',
  usage: USAGE,
  spawn: (args, context) => createRemote(parseRemoteArgs(args), context.log)
})
