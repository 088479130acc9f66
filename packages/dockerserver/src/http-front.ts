import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Socket } from 'node:net'
import type { Writable } from 'node:stream'
import { ErrorCode, SwarmError, toSwarmError, type Caller, type Logger, type Sender } from '@libswarm/core'
import {
  UNMAPPED_OPERATION, decodeDockerReply, encodeDockerRequest, queryFlag, queryValue, statusForCode,
  type DockerOperationSpec, type DockerQuery, type DockerReply, type DockerRequest
} from '@libswarm/docker-api'
import { DEFAULT_MAX_API_VERSION, MIN_API_VERSION, isApiVersion, splitVersionPrefix, unsupportedVersionMessage } from './api-version.js'
import { pumpToWritable, readAll, readExactly, readableByteStream } from './byte-streams.js'
import { errorBody, headerValue, isFinalStatus, rawResponseHead, responseHeaders } from './http-reply.js'
import { ReplySlot } from './reply-slot.js'
import { RequestRefusal, contentTypeRefusal, isJavaScriptInternal, parseJsonBody, withinTimeout } from './request-body.js'
import { endLingering } from './lingering-close.js'
import { createRouteLookup, type RouteLookup } from './route-table.js'

/** Options of {@link DockerHttpFront}. */
export interface DockerHttpFrontOptions {
  readonly next: Sender
  /** Who is on the other end of a connection, as its listener saw them when it accepted it. */
  readonly callerOf?: ((socket: Socket) => Caller | undefined) | undefined
  readonly log: Logger
  /** The largest JSON body read into memory. */
  readonly maxBodySize: number
  /** How long a JSON body may take to arrive once the headers are in (0: no limit). */
  readonly bodyTimeoutMs?: number
  /** How long a hijacked connection may linger after its output ended, waiting for the client to close. */
  readonly lingerMs?: number
}

/** Request headers that describe the hop, not the request. */
const HOP_REQUEST_HEADERS = new Set(['host', 'content-length', 'transfer-encoding', 'keep-alive', 'te', 'trailer', 'expect', 'proxy-connection'])
const PING_OPERATIONS = new Set(['SystemPing', 'SystemPingHead'])
const EMPTY = Buffer.alloc(0)

interface RequestTarget {
  /** The path below the version prefix, as sent (not decoded). */
  readonly path: string
  readonly query: DockerQuery
  readonly version: string | undefined
}

/** Where an answer goes: node:http's response, or a connection node:http handed over. */
interface Responder {
  readonly headersSent: boolean
  readonly writable: Writable
  /** Aborted when the client goes away before the answer is complete. */
  readonly signal: AbortSignal
  /** Called (once, before `signal` aborts) when the client goes away; `undefined` stops it. */
  onGone: ((reason: SwarmError) => void) | undefined
  head (status: number, headers: Record<string, string>, body?: string): void
  /** A whole answer, after which the connection closes: the part of the request still unread is dropped. */
  answerAndClose (status: number, headers: Record<string, string>, body: string): void
  end (): void
  destroy (): void
}

/**
 * The HTTP side of dockerserver: every request (and every upgrade) becomes a Docker
 * request message sent down the chain, and its Ack or Error becomes the HTTP answer.
 */
export class DockerHttpFront {
  private readonly lookup: RouteLookup = createRouteLookup()
  private learnedMaxVersion: string | undefined
  private readonly verdicts = new Map<string, string | undefined>()
  private verdictsFor: string | undefined
  /** Requests still being answered, for a graceful close. */
  readonly inFlight = new Set<Promise<void>>()
  /** Connections taken over from node:http (attach, exec, BuildKit sessions). */
  readonly hijacked = new Set<Socket>()
  /** Answers streaming what never ends by itself (events, logs -f, stats): close() ends them at once. */
  private readonly endless = new Set<Responder>()

  constructor (private readonly options: DockerHttpFrontOptions) {}

  /** The newest API version accepted now: the backend's, once a ping or version reply told it. */
  get maxVersion (): string { return this.learnedMaxVersion ?? DEFAULT_MAX_API_VERSION }

  /** node:http's `request` listener. */
  readonly onRequest = (req: IncomingMessage, res: ServerResponse): void => {
    const responder = new ResponseResponder(res)
    this.track(this.handle(req, responder), responder)
  }

  /** node:http's `upgrade` listener: the connection is ours from here on. */
  readonly onUpgrade = (req: IncomingMessage, socket: Socket, head: Buffer): void => {
    socket.on('error', () => {})
    socket.setNoDelay(true)
    socket.setTimeout(0)
    socket.pause()
    if (head.length > 0) socket.unshift(head)
    this.adopt(socket)
    const responder = new SocketResponder(socket, req.method === 'HEAD', this.options.lingerMs)
    this.track(this.handle(req, responder, socket), responder)
  }

  /**
   * node:http's `clientError` listener: what node:http refuses itself (a bad request line,
   * headers over the limit, headers too slow) is answered as dockerd's errors are, in JSON.
   */
  readonly onClientError = (error: NodeJS.ErrnoException, socket: Socket): void => {
    socket.on('error', () => {})
    // A response already under way, or a client already gone, cannot get an answer. (A request
    // whose body breaks has a response object, not yet begun: the answer goes out instead.)
    const response = (socket as { _httpMessage?: { headersSent?: boolean } | null })._httpMessage
    if (error.code === 'ECONNRESET' || !socket.writable || response?.headersSent === true) {
      socket.destroy()
      return
    }
    const [status, message] = clientErrorAnswer(error)
    const body = errorBody(message)
    const headers = { ...this.defaultHeaders(''), 'Content-Type': 'application/json', 'Content-Length': String(Buffer.byteLength(body)), Connection: 'close' }
    socket.write(rawResponseHead(status, headers) + body)
    endLingering(socket)
  }

  /** Keeps `work` in flight for close(); a failure nobody answered is answered as a 500 (or the connection cut). */
  private track (work: Promise<void>, responder: Responder): void {
    const guarded = work.catch((error: unknown) => {
      this.options.log.error('request failed', { error: error instanceof Error ? error.message : String(error) })
      try {
        if (responder.headersSent) responder.destroy()
        else this.answerError(responder, new RequestRefusal(ErrorCode.Internal, INTERNAL_ERROR_MESSAGE), { close: true })
      } catch {
        responder.destroy()
      }
    })
    this.inFlight.add(guarded)
    void guarded.finally(() => this.inFlight.delete(guarded))
  }

  private adopt (socket: Socket): void {
    // node:http's sockets allow half-open connections, node:https's do not: there a client's
    // close_notify would end our side too. The docker CLI half-closes a hijacked connection as
    // soon as it has no stdin to send (`docker run` without -i) and still reads the output,
    // which must reach it over TLS as over plain TCP.
    socket.allowHalfOpen = true
    this.hijacked.add(socket)
    socket.once('close', () => this.hijacked.delete(socket))
  }

  private async handle (req: IncomingMessage, responder: Responder, upgraded?: Socket): Promise<void> {
    const method = req.method ?? 'GET'
    const target = parseRequestTarget(req.url ?? '/')
    if (target === undefined) {
      this.answerError(responder, new SwarmError(ErrorCode.BadRequest, `invalid request URI ${JSON.stringify(req.url)}`))
      return
    }
    if (target.version !== undefined) {
      const refusal = this.versionRefusal(target.version)
      if (refusal !== undefined) {
        this.answerError(responder, new SwarmError(ErrorCode.BadRequest, refusal))
        return
      }
    }
    const match = this.lookup(method, target.path)
    const spec = match?.spec
    const base: DockerRequest = {
      operation: spec?.operation ?? UNMAPPED_OPERATION,
      target: match?.target ?? '',
      path: match?.path,
      query: target.query,
      headers: requestHeaders(req),
      version: target.version,
      method: spec === undefined ? method : undefined,
      url: spec === undefined ? target.path : undefined,
      caller: this.options.callerOf?.(req.socket)
    }
    if (spec?.response === 'hijack') {
      await this.hijack(req, base, upgraded)
      return
    }
    const request = upgraded === undefined
      ? await this.withBody(req, base, spec, responder)
      : await this.withUpgradedBody(req, upgraded, base, spec, responder)
    if (request === undefined) return
    let reply: DockerReply
    try {
      reply = await this.exchange(request, responder)
    } catch (error) {
      this.answerError(responder, toSwarmError(error))
      return
    }
    await this.answer(responder, request, reply, method)
  }

  /** Adds the body of a request node:http parsed: JSON parsed, streams passed on pull by pull. */
  private async withBody (req: IncomingMessage, request: DockerRequest, spec: DockerOperationSpec | undefined, responder: Responder): Promise<DockerRequest | undefined> {
    const refusal = contentTypeRefusal(request.operation, request.version, req.headers['content-type'], hasBody(req))
    if (refusal !== undefined) {
      this.answerError(responder, refusal, { close: hasBody(req) })
      return undefined
    }
    if (!hasBody(req)) return request
    const kind = bodyKind(spec, req)
    if (kind === 'stream') return { ...request, stream: readableByteStream(req) }
    let bytes: Buffer
    try {
      bytes = await this.readBody(req, contentLength(req), async (limit) => await readAll(req, limit))
    } catch (error) {
      this.answerError(responder, toSwarmError(error), { close: true })
      return undefined
    }
    // A body cut short (the client left, or its chunks broke and node:http answered) goes nowhere.
    if (!req.complete) return undefined
    if (kind === 'ignore') return request
    return this.withJson(request, bytes, responder)
  }

  /**
   * Reads a body that is kept in memory: over the size limit it is a 413 (at once when the
   * declared length says so), and it must arrive within the body timeout (408 after).
   */
  private async readBody (req: IncomingMessage, declared: number, read: (limit: number) => Promise<Buffer>): Promise<Buffer> {
    const limit = this.options.maxBodySize
    if (declared > limit) throw tooLarge(`request body of ${declared} bytes is over the limit of ${limit} bytes`)
    try {
      return await withinTimeout(read(limit), this.options.bodyTimeoutMs ?? 0, `the body of ${req.method ?? ''} ${req.url ?? ''}`)
    } catch (error) {
      if (error instanceof RangeError) throw tooLarge(`request body is over the limit of ${limit} bytes`)
      throw error
    }
  }

  /** The same for a request that asked for an upgrade it does not get: its body is read off the socket. */
  private async withUpgradedBody (req: IncomingMessage, socket: Socket, request: DockerRequest, spec: DockerOperationSpec | undefined, responder: Responder): Promise<DockerRequest | undefined> {
    if (req.headers['transfer-encoding'] !== undefined) {
      this.answerError(responder, new SwarmError(ErrorCode.BadRequest, 'a chunked body cannot come with an Upgrade header'))
      return undefined
    }
    const refusal = contentTypeRefusal(request.operation, request.version, req.headers['content-type'], hasBody(req))
    if (refusal !== undefined) {
      this.answerError(responder, refusal)
      return undefined
    }
    let bytes: Buffer
    try {
      bytes = await this.readBody(req, contentLength(req), async (limit) => await readUpgradeBody(req, socket, contentLength(req), limit))
    } catch (error) {
      this.answerError(responder, toSwarmError(error))
      return undefined
    }
    if (bytes.length === 0) return request
    const kind = bodyKind(spec, req)
    if (kind === 'stream') return { ...request, stream: oneChunk(bytes) }
    if (kind === 'ignore') return request
    return this.withJson(request, bytes, responder)
  }

  private withJson (request: DockerRequest, bytes: Buffer, responder: Responder): DockerRequest | undefined {
    let body: unknown
    try {
      body = parseJsonBody(bytes)
    } catch (error) {
      this.answerError(responder, toSwarmError(error))
      return undefined
    }
    return body === undefined ? request : { ...request, body }
  }

  /**
   * Sends the request down the chain and waits for its first reply. If the client leaves
   * first (or anything fails), the reply channel is closed, which tells the backend to stop;
   * after a reply it is left to the backend to close, as core's `request` does.
   */
  private async exchange (request: DockerRequest, responder: Responder): Promise<DockerReply> {
    const signal = responder.signal
    const slot = new ReplySlot(signal)
    let answered = false
    if (signal.aborted) throw toSwarmError(signal.reason, ErrorCode.Aborted)
    responder.onGone = (reason) => { slot.shut(reason) }
    try {
      try {
        await this.options.next.send(encodeDockerRequest(request, slot), { signal })
      } catch (error) {
        throw toSwarmError(error, ErrorCode.Unavailable)
      }
      const message = await slot.receive()
      if (message === undefined) throw new SwarmError(ErrorCode.Protocol, `the chain closed the reply channel of ${request.operation} without a reply`)
      if (message.verb === 'Error') throw new SwarmError(message.args[0] ?? ErrorCode.Internal, message.args[1] ?? 'unknown error')
      if (message.verb !== 'Ack') throw new SwarmError(ErrorCode.Protocol, `the chain answered ${request.operation} with ${message.verb}, not Ack`)
      let reply: DockerReply
      try {
        reply = decodeDockerReply(message)
      } catch (error) {
        throw new SwarmError(ErrorCode.Protocol, `the chain's reply to ${request.operation} is malformed`, { cause: error })
      }
      this.learnVersion(request.operation, reply)
      answered = true
      return reply
    } finally {
      responder.onGone = undefined
      if (!answered) slot.shut(signal.aborted ? toSwarmError(signal.reason, ErrorCode.Aborted) : new SwarmError(ErrorCode.ChannelClosed, 'receiver closed the channel'))
    }
  }

  /** dockerd's refusal of an API version outside the range, remembered per version (clients send the same one every time). */
  private versionRefusal (version: string): string | undefined {
    const max = this.maxVersion
    if (this.verdictsFor !== max) {
      this.verdicts.clear()
      this.verdictsFor = max
    }
    if (this.verdicts.has(version)) return this.verdicts.get(version)
    const refusal = unsupportedVersionMessage(version, MIN_API_VERSION, max)
    if (this.verdicts.size < 64) this.verdicts.set(version, refusal)
    return refusal
  }

  private learnVersion (operation: string, reply: DockerReply): void {
    if (reply.status !== 200) return
    let version: unknown
    if (PING_OPERATIONS.has(operation) || operation === 'SystemVersion') version = headerValue(reply.headers, 'api-version')
    if (version === undefined && operation === 'SystemVersion' && reply.body !== undefined && reply.body !== '') {
      try {
        version = (JSON.parse(reply.body) as { ApiVersion?: unknown }).ApiVersion
      } catch {}
    }
    if (isApiVersion(version)) this.learnedMaxVersion = version
  }

  /** dockerd's headers on every answer, for a backend that sends none of its own. */
  defaultHeaders (operation: string): Record<string, string> {
    const headers: Record<string, string> = { 'Api-Version': this.maxVersion, Ostype: 'linux', 'Docker-Experimental': 'false' }
    if (PING_OPERATIONS.has(operation)) {
      headers['Builder-Version'] = '1'
      headers['Cache-Control'] = 'no-cache, no-store, must-revalidate'
      headers.Pragma = 'no-cache'
    }
    return headers
  }

  private async answer (responder: Responder, request: DockerRequest, reply: DockerReply, method: string): Promise<void> {
    if (!isFinalStatus(reply.status)) {
      this.answerError(responder, new SwarmError(ErrorCode.Protocol, `the chain answered ${request.operation} with HTTP status ${reply.status}`))
      return
    }
    const headers = responseHeaders(this.defaultHeaders(request.operation), reply.headers)
    let body = reply.body ?? ''
    if (PING_OPERATIONS.has(request.operation) && body === '' && reply.stream === undefined && method !== 'HEAD') body = 'OK'
    if (body !== '' && headerValue(headers, 'content-type') === undefined) {
      headers['Content-Type'] = /^\s*[[{"]/.test(body) ? 'application/json' : 'text/plain; charset=utf-8'
    }
    if (reply.stream === undefined) {
      responder.head(reply.status, headers, body)
      responder.end()
      return
    }
    responder.head(reply.status, headers)
    if (body !== '') responder.writable.write(body)
    const endless = isEndless(request)
    if (endless) this.endless.add(responder)
    let result
    try {
      result = await pumpToWritable(reply.stream, responder.writable, { abandonable: endless })
    } catch (error) {
      this.options.log.warn('reply stream failed', { operation: request.operation, error: error instanceof Error ? error.message : String(error) })
      if (/json/i.test(headerValue(headers, 'content-type') ?? '')) {
        const text = toSwarmError(error).message
        responder.writable.write(JSON.stringify({ errorDetail: { message: text }, error: text }) + '\n')
        responder.end()
      } else {
        responder.destroy()
      }
      return
    } finally {
      if (endless) this.endless.delete(responder)
    }
    if (result === 'ended') responder.end()
  }

  /**
   * Ends every answer that would otherwise stream until the client leaves, as dockerd does
   * when it stops: their producers stop, and close() need not wait for them.
   */
  endEndlessStreams (): void {
    for (const responder of this.endless) responder.end()
    this.endless.clear()
    // An attach whose client is gone is let go now, not at the close timeout. Over TCP a client
    // that closed its side cannot be told from one still reading (see probeDeparture): its
    // output ends now, as an endless stream's does.
    for (const socket of this.hijacked) {
      if (!socket.readableEnded) continue
      if (socket.localPort === undefined) probe(socket)
      else socket.destroy()
    }
  }

  /**
   * Answers an error as dockerd does: its status, `{"message": ...}` in JSON. A 500 that reads
   * as a JavaScript bug somewhere down the chain is logged and answered with a generic message.
   * With `close`, the connection closes after the answer (a body was left unread).
   */
  private answerError (responder: Responder, error: SwarmError, options: { close?: boolean } = {}): void {
    if (responder.headersSent) {
      responder.destroy()
      return
    }
    const status = error instanceof RequestRefusal && error.status !== undefined ? error.status : statusForCode(error.code)
    let message = error.message
    if (status === 500 && isJavaScriptInternal(message)) {
      this.options.log.error('internal error hidden from the client', { code: error.code, error: message })
      message = INTERNAL_ERROR_MESSAGE
    }
    const headers = responseHeaders(this.defaultHeaders(''), { 'Content-Type': 'application/json' })
    if (options.close === true) {
      responder.answerAndClose(status, headers, errorBody(message))
      return
    }
    responder.head(status, headers, errorBody(message))
    responder.end()
  }

  /**
   * Attach, exec start and BuildKit's session: the request goes down the chain first
   * (its reply says what to answer), then the connection becomes a raw byte stream each
   * way: the client's bytes are the request's stream, the reply's stream goes back.
   */
  private async hijack (req: IncomingMessage, request: DockerRequest, upgraded: Socket | undefined): Promise<void> {
    let failure: SwarmError | undefined = contentTypeRefusal(request.operation, request.version, req.headers['content-type'], hasBody(req))
    let bodyBytes: Buffer = EMPTY
    if (failure === undefined) {
      const length = contentLength(req)
      try {
        bodyBytes = await this.readBody(req, length, upgraded === undefined
          ? async (limit) => await readAll(req, limit)
          : async (limit) => await readUpgradeBody(req, upgraded, length, limit))
      } catch (error) {
        failure = toSwarmError(error)
      }
    }
    const socket = upgraded ?? takeOverSocket(req)
    if (upgraded === undefined) this.adopt(socket)
    const responder = new SocketResponder(socket, false, this.options.lingerMs)
    let body: unknown
    try {
      if (failure !== undefined) throw failure
      body = parseJsonBody(bodyBytes)
    } catch (error) {
      this.answerError(responder, toSwarmError(error))
      return
    }
    const stdin = readableByteStream(socket)
    let reply: DockerReply
    try {
      reply = await this.exchange({ ...request, body, stream: stdin }, responder)
    } catch (error) {
      stdin.release()
      this.answerError(responder, toSwarmError(error))
      return
    }
    if (reply.status >= 300 || reply.status < 100) {
      stdin.release()
      await this.answer(responder, request, reply, req.method ?? 'POST')
      return
    }
    const headers = responseHeaders(this.defaultHeaders(request.operation), reply.headers)
    if (headerValue(headers, 'content-type') === undefined) headers['Content-Type'] = 'application/vnd.docker.raw-stream'
    const upgrade = upgradeProtocol(req)
    if (upgrade !== undefined) {
      headers.Connection = 'Upgrade'
      headers.Upgrade = upgrade
    }
    socket.write(rawResponseHead(upgrade !== undefined ? 101 : 200, headers, upgrade !== undefined ? 'UPGRADED' : 'OK'))
    const stopProbing = probeDeparture(socket)
    if (reply.body !== undefined && reply.body !== '') socket.write(reply.body)
    let result = 'ended'
    if (reply.stream !== undefined) {
      try {
        result = await pumpToWritable(reply.stream, socket)
      } catch (error) {
        this.options.log.warn('hijacked stream failed', { operation: request.operation, error: error instanceof Error ? error.message : String(error) })
        result = 'failed'
      }
    }
    stdin.release()
    stopProbing()
    if (result !== 'ended') {
      socket.destroy()
      return
    }
    // The client closes once it has read everything; the timer only catches one that never does.
    socket.end()
    socket.resume()
    const linger = setTimeout(() => socket.destroy(), this.options.lingerMs ?? 30_000)
    linger.unref()
    socket.once('close', () => clearTimeout(linger))
  }
}

/** An answer through node:http's own response. */
class ResponseResponder implements Responder {
  private readonly controller = new AbortController()
  private answeredOnSocket = false
  onGone: ((reason: SwarmError) => void) | undefined
  constructor (private readonly res: ServerResponse) {
    res.once('close', () => {
      if (res.writableFinished) return
      const reason = new SwarmError(ErrorCode.Aborted, 'the client went away')
      this.onGone?.(reason)
      this.controller.abort(reason)
    })
  }

  get headersSent (): boolean { return this.res.headersSent || this.answeredOnSocket }
  get writable (): Writable { return this.res }
  get signal (): AbortSignal { return this.controller.signal }

  head (status: number, headers: Record<string, string>, body?: string): void {
    if (body === undefined) {
      this.res.writeHead(status, headers)
      this.res.flushHeaders()
      return
    }
    // A whole answer goes out with its Content-Length, as dockerd's do, not chunked.
    const bodyless = status === 204 || status === 304
    this.res.writeHead(status, bodyless ? headers : { ...headers, 'Content-Length': String(Buffer.byteLength(body)) })
    this.res.end(bodyless ? undefined : body)
  }

  answerAndClose (status: number, headers: Record<string, string>, body: string): void {
    // node:http would destroy the connection right after the answer, unread bytes and all;
    // the answer goes out on the connection taken back from it instead.
    const socket = takeOverSocket(this.res.req)
    this.answeredOnSocket = true
    socket.write(rawResponseHead(status, { ...headers, 'Content-Length': String(Buffer.byteLength(body)), Connection: 'close' }) + body)
    endLingering(socket)
  }

  end (): void { if (!this.res.writableEnded && !this.answeredOnSocket) this.res.end() }
  destroy (): void { this.res.destroy() }
}

/** An answer written by hand on a connection node:http no longer manages; the connection closes after it. */
class SocketResponder implements Responder {
  private readonly controller = new AbortController()
  private sent = false
  onGone: ((reason: SwarmError) => void) | undefined
  constructor (private readonly socket: Socket, private readonly bodiless = false, private readonly lingerMs = 30_000) {
    socket.once('close', () => {
      const reason = new SwarmError(ErrorCode.Aborted, 'the client went away')
      this.onGone?.(reason)
      this.controller.abort(reason)
    })
  }

  get headersSent (): boolean { return this.sent }
  get writable (): Writable { return this.socket }
  get signal (): AbortSignal { return this.controller.signal }

  head (status: number, headers: Record<string, string>, body?: string): void {
    this.sent = true
    const all: Record<string, string> = { ...headers, Connection: 'close' }
    if (body !== undefined) all['Content-Length'] = String(Buffer.byteLength(body))
    this.socket.write(rawResponseHead(status, all) + (this.bodiless || status === 204 || status === 304 ? '' : body ?? ''))
  }

  answerAndClose (status: number, headers: Record<string, string>, body: string): void {
    this.head(status, headers, body)
    this.end()
  }

  end (): void {
    this.socket.end()
    this.socket.resume()
    // The client closes once it has read the answer; the timer only catches one that never does.
    const linger = setTimeout(() => this.socket.destroy(), this.lingerMs)
    linger.unref()
    this.socket.once('close', () => clearTimeout(linger))
  }

  destroy (): void { this.socket.destroy() }
}

/** Splits `req.url` into the path below any `/vX.Y` prefix, the query and the version. */
export function parseRequestTarget (url: string): RequestTarget | undefined {
  let text = url
  if (!text.startsWith('/')) {
    try {
      const parsed = new URL(text)
      text = parsed.pathname + parsed.search
    } catch {
      return undefined
    }
  }
  const hash = text.indexOf('#')
  if (hash >= 0) text = text.slice(0, hash)
  const mark = text.indexOf('?')
  const rawPath = mark < 0 ? text : text.slice(0, mark)
  const search = mark < 0 ? '' : text.slice(mark + 1)
  const { version, path } = splitVersionPrefix(rawPath)
  const query: Record<string, string | string[]> = {}
  if (search === '') return { path, query, version }
  for (const [key, value] of new URLSearchParams(search)) {
    const existing = query[key]
    if (existing === undefined) query[key] = value
    else if (Array.isArray(existing)) existing.push(value)
    else query[key] = [existing, value]
  }
  return { path, query, version }
}

/** Canonical names already computed: clients send the same few headers again and again. */
const canonicalNames = new Map<string, string>()
const CANONICAL_CACHE_LIMIT = 512

/** Go's canonical header names (`X-Registry-Auth`), as dockerd's handlers see them, from a lower-case name. */
function canonicalHeaderName (lower: string): string {
  let name = canonicalNames.get(lower)
  if (name === undefined) {
    name = lower.replace(/(^|-)([a-z])/g, (_whole, dash: string, letter: string) => dash + letter.toUpperCase())
    if (canonicalNames.size < CANONICAL_CACHE_LIMIT) canonicalNames.set(lower, name)
  }
  return name
}

/** The request's headers minus hop-by-hop ones, with canonical names; a repeated header is a list. */
function requestHeaders (req: IncomingMessage): Record<string, string | string[]> {
  const headers: Record<string, string | string[]> = {}
  const raw = req.rawHeaders
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const lower = (raw[i] as string).toLowerCase()
    if (HOP_REQUEST_HEADERS.has(lower)) continue
    const name = canonicalHeaderName(lower)
    const value = raw[i + 1] as string
    const existing = headers[name]
    if (existing === undefined) headers[name] = value
    else if (Array.isArray(existing)) existing.push(value)
    else headers[name] = [existing, value]
  }
  return headers
}

function contentLength (req: IncomingMessage): number {
  const length = Number(req.headers['content-length'] ?? '0')
  return Number.isSafeInteger(length) && length > 0 ? length : 0
}

function hasBody (req: IncomingMessage): boolean {
  return req.headers['transfer-encoding'] !== undefined || contentLength(req) > 0
}

function isJsonContentType (req: IncomingMessage): boolean {
  return /^application\/([\w.+-]+\+)?json\b/i.test(req.headers['content-type'] ?? '')
}

/**
 * What becomes of a body: `json` is parsed into `request.body`, `stream` travels as the
 * message's byte stream. An operation without a body in the table keeps a JSON body
 * (old API versions sent one to start) and drops anything else; an unmapped request
 * keeps whatever it has.
 */
function bodyKind (spec: DockerOperationSpec | undefined, req: IncomingMessage): 'json' | 'stream' | 'ignore' {
  if (spec === undefined) return isJsonContentType(req) ? 'json' : 'stream'
  if (spec.body === 'none') return isJsonContentType(req) ? 'json' : 'ignore'
  return spec.body
}

/** The body of an upgrade request: node:http leaves it on the socket (or, in some versions, in `req`). */
async function readUpgradeBody (req: IncomingMessage, socket: Socket, length: number, limit: number): Promise<Buffer> {
  if (length === 0) return EMPTY
  const chunks: Buffer[] = []
  let have = 0
  while (req.readableLength > 0) {
    const chunk = req.read() as Buffer | null
    if (chunk === null) break
    chunks.push(chunk)
    have += chunk.length
  }
  if (have < length) chunks.push(await readExactly(socket, length - have, limit))
  return Buffer.concat(chunks)
}

/**
 * Takes a connection away from node:http for a hijack without Upgrade (old clients):
 * node's parser no longer sees the client's bytes, and the client's half-close no
 * longer ends our side of the connection.
 */
function takeOverSocket (req: IncomingMessage): Socket {
  const socket = req.socket
  socket.removeAllListeners('data')
  socket.removeAllListeners('end')
  socket.removeAllListeners('timeout')
  // A 'readable' listener makes node:http stop feeding its parser from the socket.
  const noop = (): void => {}
  socket.on('readable', noop)
  socket.off('readable', noop)
  socket.pause()
  socket.setTimeout(0)
  socket.setNoDelay(true)
  socket.on('error', () => {})
  return socket
}

/** The protocol the client asked to upgrade to (`tcp`, or `h2c` for BuildKit), if it asked. */
function upgradeProtocol (req: IncomingMessage): string | undefined {
  const upgrade = req.headers.upgrade
  if (upgrade === undefined || upgrade.trim() === '') return undefined
  return upgrade.split(',')[0]?.trim() ?? 'tcp'
}

function oneChunk (bytes: Buffer): AsyncIterable<Uint8Array> {
  return { async * [Symbol.asyncIterator] () { yield bytes } }
}

/** Requests whose answer streams until the client leaves: events without `until`, followed logs, stats streams. */
function isEndless (request: DockerRequest): boolean {
  switch (request.operation) {
    case 'SystemEvents': return queryValue(request.query, 'until') === undefined
    case 'ContainerLogs':
    case 'ServiceLogs':
    case 'TaskLogs': return queryFlag(request.query, 'follow')
    case 'ContainerStats': return queryValue(request.query, 'stream') === undefined || queryFlag(request.query, 'stream')
    default: return false
  }
}

/** How often a hijacked connection whose client half-closed is checked for a client gone for good. */
const DEPARTURE_PROBE_MS = 1000

/** A zero-byte write: on a unix socket it fails with EPIPE once the peer closed (a half-closed peer still takes it). */
function probe (socket: Socket): void {
  if (!socket.destroyed && socket.writable && socket.writableLength === 0) socket.write(EMPTY)
}

/**
 * Watches a hijacked connection for a client that left. A client's half-close is normal (the
 * docker CLI sends it once its stdin ends, and still reads the output), so it cannot be told
 * from a client that went away by its FIN alone; until the container prints again, nothing
 * would be written and the connection would sit in CLOSE_WAIT. So after the half-close a
 * zero-byte write probes it every second: over a unix socket it fails once the client is
 * gone, the socket closes, and the work below stops. Over TCP nothing shows on loopback
 * until the peer's FIN_WAIT2 expires; TCP keepalive then finds it. Returns a function that stops watching.
 */
function probeDeparture (socket: Socket): () => void {
  socket.setKeepAlive(true, 10_000)
  let timer: NodeJS.Timeout | undefined
  const onEnd = (): void => {
    timer ??= setInterval(() => { probe(socket) }, DEPARTURE_PROBE_MS)
    timer.unref()
  }
  const stop = (): void => {
    clearInterval(timer)
    socket.off('end', onEnd)
    socket.off('close', stop)
  }
  if (socket.readableEnded) onEnd()
  else socket.once('end', onEnd)
  socket.once('close', stop)
  return stop
}

/** What a client sees for a bug of ours or of a service below: the details go to the log. */
const INTERNAL_ERROR_MESSAGE = 'internal server error (details are in the server log)'

function tooLarge (message: string): RequestRefusal {
  return new RequestRefusal(ErrorCode.MessageTooLarge, message)
}

/** The status and message for what node:http refused itself, as Go's server would refuse it. */
function clientErrorAnswer (error: NodeJS.ErrnoException): [number, string] {
  switch (error.code) {
    case 'HPE_HEADER_OVERFLOW': return [431, 'request header fields too large']
    case 'ERR_HTTP_REQUEST_TIMEOUT': return [408, 'timed out waiting for the request headers']
    case 'HPE_INVALID_VERSION': return [505, 'unsupported protocol version']
    case 'HPE_CHUNK_EXTENSIONS_OVERFLOW': return [413, 'chunk extensions too large']
    default: return [400, `malformed HTTP request: ${error.message.replace(/^Parse Error: /, '')}`]
  }
}
