import { Agent as HttpAgent, request as httpRequest, type ClientRequest, type IncomingMessage, type RequestOptions } from 'node:http'
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https'
import type { Socket } from 'node:net'
import { ErrorCode, SwarmError, type ByteStream } from '@libswarm/core'
import type { DockerReply, DockerRequest } from '@libswarm/docker-api'
import { buildEngineRequest, replyHeaders, type EngineHttpRequest } from './engine-request.js'
import type { EngineEndpoint } from './engine-address.js'
import { engineStream } from './engine-stream.js'
import { engineConnectionLost, engineHttpError, engineUnreachable } from './errors.js'
import { SshAgent } from './ssh-connection.js'

/** Largest error or JSON body read into memory (bigger JSON answers still pass, error texts are cut). */
const MAX_ERROR_BODY = 1 << 20

/** Forwards Docker requests to one engine over HTTP(S) or a unix socket. */
export class EngineForwarder {
  readonly address: string
  readonly #endpoint: EngineEndpoint
  readonly #agent: HttpAgent
  readonly #inflight = new Set<RequestCancel>()
  #closed = false

  constructor (endpoint: EngineEndpoint) {
    this.#endpoint = endpoint
    this.address = endpoint.address
    const modem = endpoint.modem
    // keep-alive for plain requests; a socket the engine closed meanwhile is retried once (see #send)
    this.#agent = endpoint.ssh !== undefined
      ? new SshAgent(endpoint.ssh)
      : modem.protocol === 'https'
      ? new HttpsAgent({ keepAlive: true, ca: modem.ca, cert: modem.cert, key: modem.key, rejectUnauthorized: endpoint.rejectUnauthorized, servername: endpoint.servername })
      : new HttpAgent({ keepAlive: true })
  }

  /**
   * Sends the request and resolves with the engine's reply once its headers arrived; a
   * streaming or hijacked answer is the reply's stream, read only as fast as it is pulled.
   * An engine HTTP error rejects with the matching SwarmError, an unreachable engine with UNAVAILABLE.
   */
  async forward (request: DockerRequest, options: { signal?: AbortSignal | undefined } = {}): Promise<DockerReply> {
    options.signal?.throwIfAborted()
    if (this.#closed) throw new SwarmError(ErrorCode.Unavailable, `dockerclient for ${this.address} is closed`)
    const http = buildEngineRequest(request)
    const controller = new RequestCancel()
    const onAbort = (): void => { controller.abort(options.signal?.reason) }
    options.signal?.addEventListener('abort', onAbort, { once: true })
    this.#inflight.add(controller)
    const release = (): void => {
      this.#inflight.delete(controller)
      options.signal?.removeEventListener('abort', onAbort)
    }
    try {
      const reply = await this.#exchange(http, request, controller, release)
      if (reply.stream === undefined) release()
      return reply
    } catch (error) {
      release()
      controller.abort()
      throw error
    }
  }

  /** Aborts every request in flight and closes idle connections. */
  close (): void {
    this.#closed = true
    for (const controller of this.#inflight) controller.abort(new SwarmError(ErrorCode.Unavailable, `dockerclient for ${this.address} closed`))
    this.#inflight.clear()
    this.#agent.destroy()
  }

  #requestOptions (http: EngineHttpRequest, pooled: boolean): RequestOptions {
    const modem = this.#endpoint.modem
    const base: RequestOptions = {
      method: http.method,
      path: http.path,
      headers: { ...modem.headers, ...http.headers },
      // hijacked and streamed-body requests get a connection of their own, never a pooled one
      agent: pooled ? this.#agent : false
    }
    if (this.#endpoint.ssh !== undefined) {
      // dial-stdio's engine ignores the Host header's value, but HTTP/1.1 needs one
      // (node:http calls createConnection only when agent is undefined: `false` means a fresh default agent)
      const agent = this.#agent as SshAgent
      return pooled ? { ...base, host: 'docker' } : { ...base, agent: undefined, host: 'docker', createConnection: () => agent.connect() }
    }
    if (modem.socketPath !== undefined) return { ...base, socketPath: modem.socketPath }
    const tls = modem.protocol === 'https' ? { ca: modem.ca, cert: modem.cert, key: modem.key, rejectUnauthorized: this.#endpoint.rejectUnauthorized, servername: this.#endpoint.servername } : {}
    return { ...base, ...tls, host: modem.host, port: Number(modem.port) }
  }

  async #exchange (http: EngineHttpRequest, request: DockerRequest, controller: RequestCancel, release: () => void): Promise<DockerReply> {
    const pooled = !http.streamBody && http.response !== 'hijack'
    try {
      return await this.#send(http, request, controller, pooled, release)
    } catch (error) {
      // The engine may have closed a kept-alive connection (a restart, an idle timeout) just
      // as we reused it: nothing reached it, so one retry on a fresh connection is safe.
      if (pooled && (error as { reusedSocket?: boolean }).reusedSocket === true && !controller.aborted) {
        return await this.#send(http, request, controller, false, release)
      }
      throw error
    }
  }

  async #send (http: EngineHttpRequest, request: DockerRequest, controller: RequestCancel, pooled: boolean, release: () => void): Promise<DockerReply> {
    const options = this.#requestOptions(http, pooled)
    const send = this.#endpoint.modem.protocol === 'https' ? httpsRequest : httpRequest
    return await new Promise<DockerReply>((resolve, reject) => {
      let settled = false
      const fail = (error: unknown): void => {
        if (settled) return
        settled = true
        reject(error)
      }
      let req: ClientRequest
      try {
        req = send(options)
      } catch (error) {
        fail(engineUnreachable(this.address, error))
        return
      }
      // by hand rather than http.request's `signal`, which also watches the request's end (eos) on every request
      controller.onAbort(() => { req.destroy(abortError(controller.reason)) })
      req.on('error', (error) => {
        if (controller.aborted) {
          fail(new SwarmError(ErrorCode.Aborted, `request to engine at ${this.address} aborted`, { cause: error }))
          return
        }
        const wrapped = engineUnreachable(this.address, error)
        Object.assign(wrapped, { reusedSocket: req.reusedSocket && isResetLike(error) })
        fail(wrapped)
      })
      req.on('upgrade', (res: IncomingMessage, socket: Socket, head: Buffer) => {
        if (settled) { socket.destroy(); return }
        settled = true
        if (head.length > 0) socket.unshift(head)
        resolve(this.#hijacked(res, socket, request, controller, release))
      })
      req.on('response', (res: IncomingMessage) => {
        if (settled) { res.destroy(); return }
        void this.#answer(res, http, controller, release).then((reply) => {
          settled = true
          resolve(reply)
        }, fail)
      })
      if (http.json !== undefined) {
        req.end(http.json)
      } else if (http.streamBody && request.stream !== undefined) {
        void pumpRequestBody(request.stream, req)
      } else if (http.response === 'hijack') {
        // no body: the stdin goes on the upgraded connection, not as chunked HTTP body
        req.setHeader('Content-Length', '0')
        req.end()
      } else {
        req.end()
      }
    })
  }

  async #answer (res: IncomingMessage, http: EngineHttpRequest, controller: RequestCancel, release: () => void): Promise<DockerReply> {
    const status = res.statusCode ?? 500
    const headers = replyHeaders(res.headers)
    if (status >= 400) {
      const text = await readBody(res, MAX_ERROR_BODY, this.address)
      throw engineHttpError(status, res.statusMessage, text)
    }
    const streaming = http.response === 'stream' || http.response === 'hijack' ||
      (http.response === 'unknown' && res.headers['content-length'] === undefined && http.method !== 'HEAD')
    if (!streaming) {
      const body = await readBody(res, Number.POSITIVE_INFINITY, this.address)
      return { status, body, headers }
    }
    return { status, headers, stream: engineStream(res, this.address, { abandon: () => { controller.abort() }, finish: release }) }
  }

  #hijacked (res: IncomingMessage, socket: Socket, request: DockerRequest, controller: RequestCancel, release: () => void): DockerReply {
    const headers = replyHeaders(res.headers)
    const onAbort = (): void => { socket.destroy() }
    const forget = controller.onAbort(onAbort)
    socket.once('close', forget)
    if (request.stream !== undefined) void pumpStdin(request.stream, socket)
    return { status: res.statusCode ?? 101, headers, stream: engineStream(socket, this.address, { abandon: () => { socket.destroy() }, finish: release }) }
  }
}

function isResetLike (error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException).code
  return code === 'ECONNRESET' || code === 'EPIPE' || code === 'ECONNREFUSED'
}

/**
 * Cancels one engine request: what an AbortController does here, without an EventTarget and
 * an AbortSignal per request (both cost more than the rest of a small request's bookkeeping).
 */
class RequestCancel {
  aborted = false
  reason: unknown
  #listeners: Array<() => void> | undefined

  abort (reason?: unknown): void {
    if (this.aborted) return
    this.aborted = true
    this.reason = reason
    const listeners = this.#listeners
    this.#listeners = undefined
    if (listeners !== undefined) for (const listener of listeners) listener()
  }

  /** Runs `listener` on abort (at once if already aborted); the returned function forgets it. */
  onAbort (listener: () => void): () => void {
    if (this.aborted) {
      listener()
      return () => {}
    }
    const listeners = this.#listeners ??= []
    listeners.push(listener)
    return () => {
      const index = this.#listeners?.indexOf(listener) ?? -1
      if (index >= 0) this.#listeners?.splice(index, 1)
    }
  }
}

/** The reply's body as text; at most `limit` bytes of it are kept. */
async function readBody (res: IncomingMessage, limit: number, address: string): Promise<string> {
  return await new Promise<string>((resolve, reject) => {
    const chunks: Buffer[] = []
    let size = 0
    let kept = 0
    const cleanup = (): void => {
      res.off('data', onData)
      res.off('end', onEnd)
      res.off('error', onError)
      res.off('close', onClose)
    }
    const onData = (chunk: Buffer): void => {
      if (size < limit) {
        chunks.push(chunk)
        kept += chunk.length
      }
      size += chunk.length
    }
    const onEnd = (): void => {
      cleanup()
      resolve(chunks.length === 1 ? (chunks[0] as Buffer).toString('utf8') : Buffer.concat(chunks, kept).toString('utf8'))
    }
    const onError = (error: Error): void => {
      cleanup()
      reject(engineConnectionLost(address, error))
    }
    const onClose = (): void => {
      if (res.complete) return
      const error = new Error('premature close') as NodeJS.ErrnoException
      error.code = 'ERR_STREAM_PREMATURE_CLOSE'
      onError(error)
    }
    res.on('data', onData)
    res.on('end', onEnd)
    res.on('error', onError)
    res.on('close', onClose)
  })
}

function abortError (reason: unknown): Error {
  const error = new Error('the request was aborted', { cause: reason })
  error.name = 'AbortError'
  return error
}

/** Writes a request body with backpressure, then ends the request; a failing source aborts it. */
async function pumpRequestBody (stream: ByteStream, req: ClientRequest): Promise<void> {
  try {
    for await (const chunk of stream) {
      if (req.destroyed) return
      if (!req.write(chunk)) await drained(req)
    }
    req.end()
  } catch (error) {
    req.destroy(error instanceof Error ? error : new Error(String(error)))
  }
}

/** The client's stdin onto the hijacked connection; its end is a half-close (`socket.end()`). */
async function pumpStdin (stream: ByteStream, socket: Socket): Promise<void> {
  const iterator = stream[Symbol.asyncIterator]()
  // once the engine hung up, tell the client's stdin to stop instead of waiting on it forever
  const stop = (): void => { void iterator.return?.()?.catch(() => {}) }
  socket.once('close', stop)
  try {
    while (true) {
      const result = await iterator.next()
      if (result.done === true || socket.destroyed || socket.writableEnded) break
      if (!socket.write(result.value)) await drained(socket)
    }
    if (!socket.destroyed && !socket.writableEnded) socket.end()
  } catch {
    socket.destroy()
  } finally {
    socket.off('close', stop)
  }
}

async function drained (writable: NodeJS.WritableStream & { destroyed: boolean, once: (event: string, listener: () => void) => unknown, off: (event: string, listener: () => void) => unknown }): Promise<void> {
  await new Promise<void>((resolve) => {
    const done = (): void => {
      writable.off('drain', done)
      writable.off('close', done)
      resolve()
    }
    writable.once('drain', done)
    writable.once('close', done)
  })
}
