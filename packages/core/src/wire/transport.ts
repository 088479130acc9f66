import { readFileSync } from 'node:fs'
import { chmod, lstat, unlink } from 'node:fs/promises'
import http2 from 'node:http2'
import net from 'node:net'
import tls from 'node:tls'
import { ErrorCode, SwarmError, toSwarmError } from '../errors.js'
import { silentLogger } from '../logger.js'
import type { AbortOptions } from '../message.js'
import { formatWireAddress, parseWireAddress, type WireAddress } from './address.js'
import { SocketDuplex } from './socket-duplex.js'
import { CONTROL_PATH, H2_SESSION_OPTIONS, RETURN_HEADER, WireSession, type TlsOptions, type WireConnection, type WireOptions } from './connection.js'

/** A listening wire endpoint. */
export interface WireListener extends AsyncDisposable {
  /** The address, with the real port when listening on port 0. */
  readonly address: string
  /**
   * Stops accepting connections; those already open go on until {@link close}. A front
   * that drains (lets the replies in flight reach their peers) calls this first.
   */
  stopAccepting (): void
  /** Stops accepting, closes every connection and removes a unix socket file. */
  close (): Promise<void>
}

/** Options of {@link listen}. */
export interface ListenOptions extends WireOptions {
  /** Called with every accepted connection. */
  onConnection?: (connection: WireConnection) => void
  /**
   * Milliseconds an accepted socket may take to open its first stream, and a connection
   * to open the return connection it announced, before it is closed. Default 10000.
   */
  handshakeTimeout?: number
}

/**
 * Single-session mode (a peer without return connections): the dialing end runs HTTP/2
 * over a {@link SocketDuplex}, so that one end always reads (PROTOCOL.md §10).
 */
function wrap (socket: net.Socket): net.Socket {
  const duplex = new SocketDuplex(socket, socket)
  duplex.on('error', () => {})
  return duplex as unknown as net.Socket
}

function pem (value: string | Buffer): string | Buffer {
  if (typeof value !== 'string' || value.includes('-----BEGIN')) return value
  return readFileSync(value)
}

function tlsMaterial (options: TlsOptions | undefined, address: string): { ca: string | Buffer, cert: string | Buffer, key: string | Buffer } {
  if (options === undefined) throw new SwarmError(ErrorCode.InvalidArguments, `${address} needs tls options (ca, cert, key)`)
  return { ca: pem(options.ca), cert: pem(options.cert), key: pem(options.key) }
}

function connectionError (error: unknown, address: string): SwarmError {
  if ((error as { code?: unknown })?.code === 'ABORT_ERR' || (error as Error)?.name === 'AbortError') return toSwarmError(error)
  const code = String((error as { code?: unknown })?.code ?? '')
  const text = (error as Error)?.message ?? String(error)
  const tlsFailure = /SSL|CERT|TLS|ALERT|HANDSHAKE|SELF_SIGNED|UNABLE_TO/i.test(code + ' ' + text)
  return new SwarmError(tlsFailure ? ErrorCode.Unauthorized : ErrorCode.Unavailable, `cannot connect to ${address}: ${text}`, { cause: error })
}

async function openSocket (target: WireAddress, address: string, options: WireOptions & AbortOptions): Promise<net.Socket> {
  let socket: net.Socket
  let event = 'connect'
  if (target.kind === 'unix') {
    socket = net.connect({ path: target.path as string })
  } else if (target.kind === 'tcp') {
    socket = net.connect({ host: target.host as string, port: target.port as number, noDelay: true })
  } else {
    const host = target.host as string
    socket = tls.connect({
      host,
      port: target.port as number,
      ...tlsMaterial(options.tls, address),
      ALPNProtocols: ['h2'],
      servername: net.isIP(host) === 0 ? host : undefined
    })
    socket.setNoDelay(true)
    event = 'secureConnect'
  }
  const signal = options.signal
  await new Promise<void>((resolve, reject) => {
    const cleanup = (): void => {
      socket.off(event, onConnect)
      socket.off('error', onError)
      signal?.removeEventListener('abort', onAbort)
    }
    const onConnect = (): void => { cleanup(); resolve() }
    const onError = (error: Error): void => { cleanup(); socket.destroy(); reject(connectionError(error, address)) }
    const onAbort = (): void => { cleanup(); socket.destroy(); reject(toSwarmError(signal?.reason)) }
    socket.once(event, onConnect)
    socket.once('error', onError)
    signal?.addEventListener('abort', onAbort, { once: true })
  })
  return socket
}

/**
 * Connects to a wire endpoint and resolves once the peer accepted the control stream
 * (so a TLS peer that refuses this end's certificate fails here, with UNAUTHORIZED).
 *
 * @example
 * await using connection = await dial('unix:///run/swarm.sock')
 * const reply = await request(connection.remote, 'Ls')
 */
export async function dial (address: string, options: WireOptions & AbortOptions = {}): Promise<WireConnection> {
  return await dialWith(address, options, true)
}

/**
 * Return mode (`withReturn`): two sockets, each session on node's native socket path and
 * each carrying one direction's bytes; when the listener refuses the second, dials again
 * without. Otherwise one socket, its session over a SocketDuplex.
 */
async function dialWith (address: string, options: WireOptions & AbortOptions, withReturn: boolean): Promise<WireConnection> {
  options.signal?.throwIfAborted()
  const target = parseWireAddress(address)
  const authority = target.kind === 'tls' ? 'https://localhost' : 'http://localhost'
  const socket = await openSocket(target, address, options)
  // Over TLS 1.3 a server refuses a client certificate after the client's handshake
  // completed: the alert arrives as a socket error, which names the real cause.
  let socketError: Error | undefined
  socket.on('error', (error) => { socketError ??= error })
  const session = http2.connect(authority, {
    ...H2_SESSION_OPTIONS,
    createConnection: () => withReturn ? socket : wrap(socket)
  })
  const openReturn = async (): Promise<http2.ClientHttp2Session> => {
    const second = await openSocket(target, address, options)
    second.on('error', () => {})
    return http2.connect(authority, { ...H2_SESSION_OPTIONS, createConnection: () => second })
  }
  const connection = new WireSession(session, 'client', options, withReturn ? { openReturn } : {})
  const signal = options.signal
  let onAbort: (() => void) | undefined
  try {
    await new Promise<void>((resolve, reject) => {
      connection.ready.then(resolve, reject)
      if (signal !== undefined) {
        onAbort = () => { reject(toSwarmError(signal.reason)) }
        signal.addEventListener('abort', onAbort, { once: true })
      }
    })
  } catch (error) {
    await connection.close(toSwarmError(error))
    if (connection.returnRefused) return await dialWith(address, options, false)
    if (isAbort(error)) throw toSwarmError(error)
    if (target.kind === 'tls' && (socketError === undefined || isReset(socketError))) {
      // Node refuses a client certificate by closing the socket without a TLS alert; when the
      // client's HTTP/2 preface reaches the closed socket first, that close arrives as a reset.
      throw new SwarmError(ErrorCode.Unauthorized, `cannot connect to ${address}: the server closed the connection after the TLS handshake; it probably refused this client's certificate`, { cause: error })
    }
    throw connectionError(socketError ?? (error as { cause?: unknown }).cause ?? error, address)
  } finally {
    if (onAbort !== undefined) signal?.removeEventListener('abort', onAbort)
  }
  return connection
}

function isReset (error: Error): boolean {
  const code = (error as NodeJS.ErrnoException).code
  return code === 'ECONNRESET' || code === 'EPIPE'
}

function isAbort (error: unknown): boolean {
  return (error as { code?: unknown })?.code === ErrorCode.Aborted
}

async function removeStaleSocket (path: string): Promise<void> {
  let stat
  try {
    stat = await lstat(path)
  } catch {
    return
  }
  if (!stat.isSocket()) throw new SwarmError(ErrorCode.Conflict, `${path} exists and is not a socket`)
  const alive = await new Promise<boolean>((resolve) => {
    const probe = net.connect({ path })
    probe.once('connect', () => { probe.destroy(); resolve(true) })
    probe.once('error', () => { resolve(false) })
  })
  if (alive) throw new SwarmError(ErrorCode.Conflict, `${path} is in use by another listener`)
  await unlink(path).catch(() => {})
}

/** The mode of a listening unix socket, as dockerd's: its owner and group may connect. */
const SOCKET_MODE = 0o660

/**
 * Binds a unix socket under a umask that leaves no more than {@link SOCKET_MODE}, so that it
 * is never open to everyone, not even before the chmod that follows (node binds synchronously
 * within `listen`). Worker threads cannot change the umask: there the chmod alone applies.
 */
function listenUnix (server: net.Server, path: string, done: () => void): void {
  let previous: number | undefined
  try {
    previous = process.umask(0o777 & ~SOCKET_MODE)
  } catch {}
  try {
    server.listen(path, done)
  } finally {
    if (previous !== undefined) process.umask(previous)
  }
}

/**
 * Listens on `unix:///path`, `tcp://host:port` or `tls://host:port` (mutual TLS: a
 * client without a certificate signed by `tls.ca` is refused). A unix socket gets mode 0660. Every accepted
 * connection's root messages go to `options.service`.
 *
 * @example
 * await using listener = await listen('tcp://127.0.0.1:0', { service })
 * console.log(listener.address) // tcp://127.0.0.1:41234
 */
export async function listen (address: string, options: ListenOptions): Promise<WireListener> {
  const target = parseWireAddress(address)
  const log = options.log ?? silentLogger
  const h2 = http2.createServer(H2_SESSION_OPTIONS)
  h2.setTimeout(0)
  const connections = new Set<WireSession>()
  const handshakeTimeout = options.handshakeTimeout ?? 10_000
  const returns = new Map<string, WireSession>()
  /** Sessions whose first stream has not arrived: it tells a new connection from a return connection. */
  const unrouted = new Set<http2.ServerHttp2Session>()
  h2.on('session', (session: http2.ServerHttp2Session) => {
    unrouted.add(session)
    const timer = setTimeout(() => {
      log.info('wire client closed: no stream within the handshake timeout', { ms: handshakeTimeout })
      session.destroy()
    }, handshakeTimeout)
    timer.unref()
    const forget = (): void => { clearTimeout(timer); unrouted.delete(session) }
    session.once('close', forget)
    session.once('stream', (stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders) => {
      forget()
      session.off('close', forget)
      if (headers[':method'] === 'GET' && headers[':path'] === CONTROL_PATH) {
        const token = headers[RETURN_HEADER]
        const connection = typeof token === 'string' ? returns.get(token) : undefined
        if (connection === undefined) {
          stream.on('error', () => {})
          stream.respond({ ':status': 404 }, { endStream: true })
          session.close()
          // A peer that never closes its end does not keep the socket.
          setTimeout(() => { if (!session.destroyed) session.destroy() }, 1000).unref()
          return
        }
        connection.acceptReturn(session, stream)
        return
      }
      const connection = new WireSession(session, 'server', options, { returns, handshakeTimeout })
      connections.add(connection)
      void connection.closed.then(() => { connections.delete(connection) })
      if (options.onConnection !== undefined) {
        try {
          options.onConnection(connection)
        } catch (error) {
          log.error('onConnection failed', { error: (error as Error).message })
        }
      }
      connection.onStream(stream, headers)
    })
  })
  h2.on('sessionError', (error) => { log.debug('wire session error', { error: error.message }) })
  h2.on('unknownProtocol', (socket: net.Socket) => { socket.destroy() })
  h2.on('error', (error) => { log.warn('wire server error', { error: error.message }) })
  const accept = (socket: net.Socket): void => {
    socket.on('error', () => {})
    if (target.kind === 'tls' && (socket as tls.TLSSocket).alpnProtocol !== 'h2') {
      log.info('wire client refused: ALPN h2 not negotiated')
      socket.destroy()
      return
    }
    if (target.kind === 'tcp') socket.setNoDelay(true)
    h2.emit('connection', socket)
  }
  let server: net.Server
  if (target.kind === 'tls') {
    server = tls.createServer({
      ...tlsMaterial(options.tls, address),
      requestCert: true,
      rejectUnauthorized: true,
      ALPNProtocols: ['h2']
    }, accept)
    server.on('tlsClientError', (error, socket) => {
      log.info('wire client refused', { error: error.message })
      socket.destroy()
    })
  } else {
    server = net.createServer(accept)
  }
  server.on('error', (error) => { log.warn('wire listener error', { error: error.message }) })
  if (target.kind === 'unix') await removeStaleSocket(target.path as string)
  await new Promise<void>((resolve, reject) => {
    const onError = (error: Error): void => { reject(new SwarmError(ErrorCode.Unavailable, `cannot listen on ${address}: ${error.message}`, { cause: error })) }
    server.once('error', onError)
    const done = (): void => { server.off('error', onError); resolve() }
    if (target.kind === 'unix') listenUnix(server, target.path as string, done)
    else server.listen(target.port, target.host, done)
  })
  if (target.kind === 'unix') await chmod(target.path as string, SOCKET_MODE)
  const bound = server.address()
  const real = target.kind === 'unix' || bound === null || typeof bound === 'string'
    ? address
    : formatWireAddress({ kind: target.kind, host: target.host, port: bound.port })
  let stopped: Promise<void> | undefined
  const stopAccepting = (): void => {
    stopped ??= new Promise<void>((resolve) => { server.close(() => { resolve() }) })
  }
  let closing: Promise<void> | undefined
  const close = async (): Promise<void> => {
    closing ??= (async () => {
      stopAccepting()
      await Promise.all([...connections].map(async (connection) => { await connection.close() }))
      for (const session of unrouted) session.destroy()
      h2.close()
      await stopped
      if (target.kind === 'unix') await unlink(target.path as string).catch(() => {})
    })()
    await closing
  }
  return { address: real, stopAccepting, close, [Symbol.asyncDispose]: close }
}

/**
 * A wire connection over a pair of byte streams, such as a child process's stdio.
 * The `client` end opens the control stream; the `server` end answers it.
 *
 * @example
 * // in swarmd (exec): the child program is the server on its stdin/stdout
 * const connection = connectStreams(child.stdout, child.stdin, { role: 'client' })
 * // in the child program
 * connectStreams(process.stdin, process.stdout, { role: 'server', service })
 */
export function connectStreams (input: NodeJS.ReadableStream, output: NodeJS.WritableStream, options: WireOptions & { role: 'client' | 'server' }): WireConnection {
  const duplex = new SocketDuplex(input, output)
  duplex.on('error', () => {})
  if (options.role === 'client') {
    const session = http2.connect('http://localhost', { ...H2_SESSION_OPTIONS, createConnection: () => duplex })
    return new WireSession(session, 'client', options)
  }
  const h2 = http2.createServer(H2_SESSION_OPTIONS)
  h2.setTimeout(0)
  h2.on('sessionError', () => {})
  let session: http2.ServerHttp2Session | undefined
  h2.once('session', (created: http2.ServerHttp2Session) => { session = created })
  h2.emit('connection', duplex)
  if (session === undefined) throw new SwarmError(ErrorCode.Internal, 'HTTP/2 server session was not created')
  return new WireSession(session, 'server', options)
}
