import http from 'node:http'
import https from 'node:https'
import type { Server } from 'node:net'
import { SwarmError, isLoopbackHost, silentLogger, type Logger, type Sender } from '@libswarm/core'
import { DockerServerErrorCode } from './errors.js'
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
  /** Where to listen, as dockerd's `-H`: `unix:///path.sock`, `tcp://127.0.0.1:2375`. */
  readonly addresses: readonly string[]
  /** Where requests go: the rest of the chain. */
  readonly next: Sender
  /** Serve TLS on tcp:// addresses. */
  readonly tls?: DockerServerTlsOptions | undefined
  /** Allow plain TCP on a host other than loopback (anyone who reaches it controls the backend). */
  readonly allowInsecureTcp?: boolean | undefined
  /** How long `close()` lets requests in flight finish before cutting them. Default 10 s. */
  readonly closeTimeoutMs?: number | undefined
  /** The largest JSON request body accepted. Default 64 MiB. */
  readonly maxBodySize?: number | undefined
  readonly log?: Logger | undefined
}

/** A Docker Engine API listening on one or more addresses. */
export interface DockerServer extends AsyncDisposable {
  /** Starts listening on every address; fails (listening nowhere) if any address fails. */
  start (): Promise<void>
  /** The addresses listened on, with the ports actually bound. */
  readonly addresses: readonly string[]
  /** Stops accepting, lets requests in flight finish (up to the close timeout), then closes and removes unix sockets. */
  close (): Promise<void>
}

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
  const parsed = options.addresses.map((text) => parseListenAddress(text, { tls: options.tls !== undefined }))
  if (parsed.length === 0) throw new SwarmError(DockerServerErrorCode.BadAddress, 'dockerserver needs at least one address (unix:///PATH or tcp://HOST:PORT)')
  for (const [index, address] of parsed.entries()) {
    if (address.kind !== 'tcp' || isLoopbackHost(address.host)) continue
    const text = options.addresses[index] ?? ''
    if (options.tls === undefined && options.allowInsecureTcp !== true) {
      throw new SwarmError(DockerServerErrorCode.InsecureTcp,
        `refusing plain TCP on ${text}: anyone who reaches it controls the engine; use a loopback host, TLS (--tlsverify), or --allow-insecure-tcp`)
    }
    if (options.tls === undefined) log.warn('dockerserver: plain TCP beyond loopback (--allow-insecure-tcp): anyone who reaches it controls the engine', { address: text })
    else if (options.tls.verify !== true) log.warn('dockerserver: TLS without client verification beyond loopback (no --tlsverify): anyone who reaches it controls the engine', { address: text })
  }
  const front = new DockerHttpFront({ next: options.next, log, maxBodySize: options.maxBodySize ?? 64 * 1024 * 1024 })
  const listening: Array<{ address: ListenAddress, server: Server }> = []
  let closing: Promise<void> | undefined

  const makeServer = (address: ListenAddress): http.Server => {
    // dockerd (Go) accepts 1 MiB of headers; X-Registry-Config for a build carries every saved login.
    const serverOptions: http.ServerOptions = { requestTimeout: 0, keepAliveTimeout: 5_000, noDelay: true, maxHeaderSize: 1024 * 1024 }
    const server = address.kind === 'tcp' && options.tls !== undefined
      ? https.createServer({
        ...serverOptions,
        cert: options.tls.cert,
        key: options.tls.key,
        ca: options.tls.ca,
        requestCert: options.tls.verify === true,
        rejectUnauthorized: options.tls.verify === true,
        minVersion: 'TLSv1.2'
      })
      : http.createServer(serverOptions)
    server.on('request', front.onRequest)
    server.on('upgrade', front.onUpgrade)
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
    await Promise.all(stopped)
    await Promise.all(servers.map(async ({ address }) => { await removeSocketFile(address) }))
  }

  const server: DockerServer = {
    get addresses () {
      return listening.map(({ address, server }) => formatListenAddress(address, server))
    },
    start: async () => {
      try {
        for (const address of parsed) {
          const httpServer = makeServer(address)
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
