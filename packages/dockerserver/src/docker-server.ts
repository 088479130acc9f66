import http from 'node:http'
import https from 'node:https'
import type { Server, Socket } from 'node:net'
import { SwarmError, isLoopbackHost, silentLogger, type Caller, type Logger, type Sender } from '@libswarm/core'
import { connectionCaller } from './connection-caller.js'
import { DockerServerErrorCode } from './errors.js'
import { ConnectionCap } from './connection-cap.js'
import { DockerHttpFront } from './http-front.js'
import { formatListenAddress, listenOn, parseListenAddress, removeSocketFile, type ListenAddress } from './listen-address.js'

/** TLS for tcp:// addresses, as dockerd's `--tls*` flags. */
export interface DockerServerTlsOptions {
  /** PEM certificate of the server. */
  readonly cert: string | Buffer
  /** PEM private key of the server. */
  readonly key: string | Buffer
  /** PEM CA bundle that client certificates must chain to (with `verify`). */
  readonly ca?: string | Buffer | undefined
  /** Require and verify client certificates, as `--tlsverify`. */
  readonly verify?: boolean | undefined
}

/** Options of {@link createDockerServer}. */
export interface DockerServerOptions {
  /**
   * Where to listen, as dockerd's `-H`: `unix:///path.sock`, `tcp://127.0.0.1:2375`; `NAME=ADDRESS`
   * names the listener (`ci=unix:///run/ci.sock`), which every request it accepts carries in
   * `message.caller.listener`. Default name: the address, as listed in {@link DockerServer.addresses}.
   */
  readonly addresses: readonly string[]
  /** Where requests go: the rest of the chain. */
  readonly next: Sender
  /** Serve TLS on tcp:// addresses. */
  readonly tls?: DockerServerTlsOptions | undefined
  /** Allow plain TCP on a host other than loopback (anyone who reaches it controls the backend). */
  readonly allowInsecureTcp?: boolean | undefined
  /** How long `close()` lets requests in flight finish before cutting them. Default 10 s. */
  readonly closeTimeoutMs?: number | undefined
  /**
   * The largest JSON request body (and exec start body) accepted; a larger one is answered 413,
   * at once when its `Content-Length` says so. Stream bodies (build contexts, archives, image
   * loads) have no limit. Default 10 MiB.
   */
  readonly maxBodySize?: number | undefined
  /** How long a client may take to send a request's headers, from its connection or from a later request's first byte (0: no limit). Default 60 s. */
  readonly headersTimeoutMs?: number | undefined
  /**
   * How long a client may take to send a JSON body once its headers are in; answered 408 after.
   * Stream bodies and hijacked connections have no timeout while they last. 0: no limit. Default 60 s.
   */
  readonly bodyTimeoutMs?: number | undefined
  /** How long an idle keep-alive connection is kept between requests (0: no limit). Default 5 s. */
  readonly keepAliveTimeoutMs?: number | undefined
  /** Connections served at once, over every address; one more is answered 503 and closed. Default 1000. */
  readonly maxConnections?: number | undefined
  readonly log?: Logger | undefined
}

/** A Docker Engine API listening on one or more addresses. */
export interface DockerServer extends AsyncDisposable {
  /** Starts listening on every address; fails (listening nowhere) if any address fails. */
  start (): Promise<void>
  /** The addresses listened on, with the ports actually bound. */
  readonly addresses: readonly string[]
  /** The client connections open now, hijacked ones included. */
  readonly connections: number
  /** Stops accepting, lets requests in flight finish (up to the close timeout), then closes and removes unix sockets. */
  close (): Promise<void>
}

const LISTENER_NAME = /^([A-Za-z0-9][A-Za-z0-9._-]{0,127})=(.*)$/s

/**
 * `NAME=ADDRESS` as a name and an address; anything else is an address without a name (an
 * address never starts with a name and `=`: it starts with `unix://` or `tcp://`).
 */
export function splitListenerName (text: string): { name: string | undefined, address: string } {
  const match = LISTENER_NAME.exec(text)
  return match === null ? { name: undefined, address: text } : { name: match[1] as string, address: match[2] as string }
}

/** Defaults of the limits, see {@link DockerServerOptions}. */
export const DOCKER_SERVER_LIMITS = {
  maxBodySize: 10 * 1024 * 1024,
  headersTimeoutMs: 60_000,
  bodyTimeoutMs: 60_000,
  keepAliveTimeoutMs: 5_000,
  maxConnections: 1000
} as const

/**
 * Creates the Docker Engine API front of a chain: every HTTP request becomes a Docker
 * request message (see `@libswarm/docker-api`) sent to `next`.
 *
 * @example
 * const server = createDockerServer({ addresses: ['unix:///tmp/swarm.sock'], next: chain.head })
 * await server.start()
 * // DOCKER_HOST=unix:///tmp/swarm.sock docker ps
 * await server.close()
 */
export function createDockerServer (options: DockerServerOptions): DockerServer {
  const log = options.log ?? silentLogger
  const named = options.addresses.map(splitListenerName)
  const parsed = named.map(({ address }) => parseListenAddress(address, { tls: options.tls !== undefined }))
  if (parsed.length === 0) throw new SwarmError(DockerServerErrorCode.BadAddress, 'dockerserver needs at least one address (unix:///PATH or tcp://HOST:PORT)')
  for (const [index, address] of parsed.entries()) {
    if (address.kind !== 'tcp' || isLoopbackHost(address.host)) continue
    const text = named[index]?.address ?? ''
    if (options.tls === undefined && options.allowInsecureTcp !== true) {
      throw new SwarmError(DockerServerErrorCode.InsecureTcp,
        `refusing plain TCP on ${text}: anyone who reaches it controls the engine; use a loopback host, TLS (--tlsverify), or --allow-insecure-tcp`)
    }
    if (options.tls === undefined) log.warn('dockerserver: plain TCP beyond loopback (--allow-insecure-tcp): anyone who reaches it controls the engine', { address: text })
    else if (options.tls.verify !== true) log.warn('dockerserver: TLS without client verification beyond loopback (no --tlsverify): anyone who reaches it controls the engine', { address: text })
  }
  const headersTimeoutMs = options.headersTimeoutMs ?? DOCKER_SERVER_LIMITS.headersTimeoutMs
  // Set when a connection is accepted, from the connection only: what a request says never counts.
  const callers = new WeakMap<Socket, Caller>()
  const front = new DockerHttpFront({
    next: options.next,
    callerOf: (socket) => callers.get(socket),
    log,
    maxBodySize: options.maxBodySize ?? DOCKER_SERVER_LIMITS.maxBodySize,
    bodyTimeoutMs: options.bodyTimeoutMs ?? DOCKER_SERVER_LIMITS.bodyTimeoutMs
  })
  const cap = new ConnectionCap(options.maxConnections ?? DOCKER_SERVER_LIMITS.maxConnections, () => front.defaultHeaders(''))
  const listening: Array<{ address: ListenAddress, server: Server }> = []
  let closing: Promise<void> | undefined

  const makeServer = (address: ListenAddress, name: string | undefined): http.Server => {
    const serverOptions: http.ServerOptions = {
      // node's requestTimeout counts until the body is in, which never happens for streams:
      // bodies get their own timeout, per route, in the front.
      requestTimeout: 0,
      headersTimeout: headersTimeoutMs,
      // node checks its header timeouts every 30 s by default: a 60 s timeout would fire at up to 90 s.
      connectionsCheckingInterval: headersTimeoutMs > 0 ? Math.max(10, Math.min(30_000, Math.floor(headersTimeoutMs / 4))) : 30_000,
      keepAliveTimeout: options.keepAliveTimeoutMs ?? DOCKER_SERVER_LIMITS.keepAliveTimeoutMs,
      noDelay: true,
      // dockerd (Go) accepts 1 MiB of headers; X-Registry-Config for a build carries every saved login.
      maxHeaderSize: 1024 * 1024
    }
    const server = address.kind === 'tcp' && options.tls !== undefined
      ? https.createServer({
        ...serverOptions,
        cert: options.tls.cert,
        key: options.tls.key,
        ca: options.tls.ca,
        requestCert: options.tls.verify === true,
        rejectUnauthorized: options.tls.verify === true,
        minVersion: 'TLSv1.2',
        handshakeTimeout: headersTimeoutMs
      })
      : http.createServer(serverOptions)
    const accepted = server instanceof https.Server ? 'secureConnection' : 'connection'
    cap.guard(server, accepted)
    server.on(accepted, (socket: Socket) => { callers.set(socket, connectionCaller(socket, name ?? formatListenAddress(address, server))) })
    server.on('request', front.onRequest)
    server.on('upgrade', front.onUpgrade)
    server.on('clientError', front.onClientError)
    return server
  }

  const closeListeners = async (): Promise<void> => {
    const servers = listening.splice(0)
    const stopped = servers.map(async ({ server }) => await new Promise<void>((resolve) => server.close(() => resolve())))
    for (const { server } of servers) (server as http.Server).closeIdleConnections?.()
    front.endEndlessStreams()
    const drained = Promise.allSettled([...front.inFlight])
    const timeout = options.closeTimeoutMs ?? 10_000
    let timer: NodeJS.Timeout | undefined
    await Promise.race([drained, new Promise<void>((resolve) => { timer = setTimeout(resolve, timeout) })])
    clearTimeout(timer)
    for (const socket of front.hijacked) socket.destroy()
    for (const { server } of servers) (server as http.Server).closeAllConnections?.()
    cap.destroyAll()
    await Promise.all(stopped)
    await Promise.all(servers.map(async ({ address }) => { await removeSocketFile(address) }))
  }

  const server: DockerServer = {
    get addresses () {
      return listening.map(({ address, server }) => formatListenAddress(address, server))
    },
    get connections () { return cap.size },
    start: async () => {
      try {
        for (const [index, address] of parsed.entries()) {
          const httpServer = makeServer(address, named[index]?.name)
          await listenOn(httpServer, address)
          listening.push({ address, server: httpServer })
          log.info('listening', { address: formatListenAddress(address, httpServer) })
        }
      } catch (error) {
        await closeListeners()
        throw error
      }
    },
    close: async () => {
      closing ??= closeListeners()
      await closing
    },
    [Symbol.asyncDispose]: async () => { await server.close() }
  }
  return server
}
