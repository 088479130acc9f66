import { randomBytes } from 'node:crypto'
import http2 from 'node:http2'
import { ErrorCode, SwarmError, toSwarmError } from '../errors.js'
import { silentLogger, type Logger } from '../logger.js'
import type { AbortOptions, ByteStream, Message, Sender } from '../message.js'
import { ACCEPTED } from '../message.js'
import { errorMessage, replyAndClose } from '../server.js'
import { IncomingAttachment, abortAttachment, sendAttachment } from './attachment.js'
import { UnclaimedAttachments, type Unclaimed, type WireLimits } from './connection-limits.js'
import {
  DEFAULT_MAX_MESSAGE_SIZE, FRAME_HEADER_SIZE, FrameParser, FrameType, INITIAL_CHANNEL_WINDOW,
  UnknownVerbError, decodeCreditPayload, decodeErrorPayload, decodeMessagePayload, encodeCreditPayload,
  encodeErrorPayload, packMessage, writeFrameHeader, type MessagePayload
} from './frame.js'

/** PEM text or a path to a PEM file. */
export interface TlsOptions {
  /** The CA that signed the peer's certificate. */
  ca: string | Buffer
  /** This end's certificate. */
  cert: string | Buffer
  /** This end's private key. */
  key: string | Buffer
}

/** Options of every wire connection. */
export interface WireOptions {
  /** Where the peer's messages to this end's root channel (channel 0) go. Without one they are answered `Error [NOT_IMPLEMENTED]`. */
  service?: Sender
  /** The largest frame payload accepted from the peer, in bytes. Default 16 MiB. */
  maxMessageSize?: number
  log?: Logger
  /** Mutual TLS for `tls://` addresses. */
  tls?: TlsOptions
  /** Milliseconds between HTTP/2 PINGs; a PING unanswered for as long closes the connection. 0 disables. Default 15000. */
  keepAlive?: number
  /** What the peer may make this end hold for it (PROTOCOL.md §8). */
  limits?: WireLimits
}

/** A connection to a peer. */
export interface WireConnection extends AsyncDisposable {
  /** Messages sent here arrive at the peer's `service`. */
  readonly remote: Sender
  /** Settles when the connection ends: `undefined` after a clean close, the error otherwise. */
  readonly closed: Promise<Error | undefined>
  /** Closes the connection; pending requests on it reject. */
  close (error?: Error): Promise<void>
}

/** The `:path` of the control stream. */
export const CONTROL_PATH = '/libswarm/1/control'
/** The `:path` prefix of attachment streams; the decimal attachment id follows. */
export const ATTACHMENT_PATH = '/libswarm/1/attachment/'
/** The header in which each end announces its `maxMessageSize`. */
export const MAX_MESSAGE_SIZE_HEADER = 'libswarm-max-message-size'
/**
 * The header with which a dialer asks for a return connection (its value a token of 32 hex
 * digits) and with which the listener accepts it (echoing the token). See PROTOCOL.md §3.1.
 */
export const RETURN_HEADER = 'libswarm-return'
/**
 * The header in which each end lists, comma-separated, the optional parts of the protocol it
 * reads (PROTOCOL.md §3): `caller`, a MESSAGE's fifth item. Unknown names are ignored.
 */
export const FEATURES_HEADER = 'libswarm-features'
/** The features this end reads. */
const FEATURES = 'caller,stop'
/** The content type of the control stream. */
export const CONTROL_CONTENT_TYPE = 'application/vnd.libswarm.frames'

/** Big windows: measured 660-1,020 MB/s on one stream against ~400 MB/s with the defaults. */
export const H2_WINDOW = 16 * 1024 * 1024
/** HTTP/2 settings both ends send. */
export const H2_SETTINGS: http2.Settings = {
  initialWindowSize: H2_WINDOW,
  maxFrameSize: 16 * 1024 * 1024 - 1,
  enablePush: false,
  maxConcurrentStreams: 4096
}
/** Session options both ends use (maxSessionMemory in MB: big windows need room). */
export const H2_SESSION_OPTIONS = { settings: H2_SETTINGS, maxSessionMemory: 512 }

const { NGHTTP2_CANCEL, NGHTTP2_PROTOCOL_ERROR } = http2.constants
const BLOCK_SIZE = 64 * 1024
const REMOTE = Symbol('libswarm.wire.remote')

function noop (): void {}

/** Copies `source[start, end)` into `target` at `at`; short payloads (most messages) without making a view. */
function copyBytes (source: Uint8Array, start: number, end: number, target: Uint8Array, at: number): void {
  if (end - start <= 64) {
    for (let i = start; i < end; i++) target[at++] = source[i] as number
  } else {
    target.set(start === 0 && end === source.length ? source : source.subarray(start, end), at)
  }
}

interface PendingSend {
  message: Message
  resolve: () => void
  reject: (error: Error) => void
  signal?: AbortSignal | undefined
  onAbort?: (() => void) | undefined
}

/** A channel the peer exported, seen from here: the state behind a {@link RemoteSender}. */
class RemoteChannel {
  credit = INITIAL_CHANNEL_WINDOW
  /** Registered for RELEASE when its handle is garbage-collected unclosed. */
  watched = false
  queue: PendingSend[] | undefined
  state: 'open' | 'closing' | 'releasing' | 'closed' = 'open'
  error: Error | undefined
  closeError: Error | undefined
  /** Made when someone asks whether the channel was abandoned: most handles are never asked. */
  private abandon: AbortController | undefined
  /** Channels exported as the ret of a message on this handle that the peer has not named yet. */
  unheard: Set<ExportedChannel> | undefined

  /**
   * @param replies - the channel is a request's return channel (it was the `ret` of a message
   *   sent on a service channel); replies sent on it hand over services, not return channels.
   */
  constructor (readonly wire: WireSession, readonly id: number, readonly replies = false) {}

  /** Aborts when the peer resets the channel or the connection ends: nobody listens any more. */
  abandonedSignal (): AbortSignal {
    if (this.abandon === undefined) {
      this.abandon = new AbortController()
      if (this.error !== undefined) this.abandon.abort(this.error)
    }
    return this.abandon.signal
  }

  send (message: Message, options?: AbortOptions): Promise<void> {
    if (this.state !== 'open') return Promise.reject(this.closedError())
    const signal = options?.signal
    if (signal?.aborted === true) return Promise.reject(signal.reason as Error)
    if (this.queue === undefined && this.credit > 0 && !this.wire.congested) {
      try {
        this.credit -= this.wire.writeMessage(this.id, message, this)
      } catch (error) {
        return Promise.reject(error)
      }
      return ACCEPTED
    }
    return new Promise<void>((resolve, reject) => {
      const pending: PendingSend = { message, resolve, reject, signal }
      if (signal !== undefined) {
        pending.onAbort = () => {
          const index = this.queue?.indexOf(pending) ?? -1
          if (index >= 0) this.queue?.splice(index, 1)
          reject(signal.reason as Error)
        }
        signal.addEventListener('abort', pending.onAbort, { once: true })
      }
      ;(this.queue ??= []).push(pending)
      this.wire.waiting.add(this)
    })
  }

  /** Writes queued messages while credit lasts. */
  pump (): void {
    const queue = this.queue
    if (queue === undefined) return
    while (queue.length > 0 && this.credit > 0 && !this.wire.congested) {
      const pending = queue.shift() as PendingSend
      if (pending.onAbort !== undefined) pending.signal?.removeEventListener('abort', pending.onAbort)
      try {
        this.credit -= this.wire.writeMessage(this.id, pending.message, this)
        pending.resolve()
      } catch (error) {
        pending.reject(error as Error)
      }
    }
    if (queue.length > 0) return
    this.queue = undefined
    this.wire.waiting.delete(this)
    if (this.state === 'closing') this.finish(FrameType.Close)
    else if (this.state === 'releasing') this.finish(FrameType.Release)
  }

  close (error?: Error): Promise<void> {
    if (this.state !== 'open') return ACCEPTED
    this.wire.forget(this)
    this.state = 'closing'
    this.closeError = error
    if (error !== undefined) this.rejectQueued(this.closedError())
    if (this.queue === undefined) this.finish(FrameType.Close)
    return ACCEPTED
  }

  /** The handle was garbage-collected without being closed. */
  collected (): void {
    if (this.state !== 'open') return
    this.state = 'releasing'
    if (this.queue === undefined) this.finish(FrameType.Release)
  }

  private finish (type: number): void {
    this.state = 'closed'
    this.wire.imports.delete(this.id)
    if (this.wire.ended) return
    if (type === FrameType.Close && this.closeError !== undefined) {
      const error = toSwarmError(this.closeError)
      this.wire.writeFrame(FrameType.Close, this.id, encodeErrorPayload(error.code, error.message))
    } else {
      this.wire.writeFrame(type, this.id)
    }
  }

  /** The peer reset the channel, or the connection ended. */
  fail (error: Error): void {
    this.unheard = undefined
    if (this.state === 'closed') return
    this.state = 'closed'
    this.error = error
    this.wire.imports.delete(this.id)
    this.wire.forget(this)
    this.rejectQueued(error)
    this.abandon?.abort(error)
  }

  private rejectQueued (error: Error): void {
    const queue = this.queue
    if (queue === undefined) return
    this.queue = undefined
    this.wire.waiting.delete(this)
    for (const pending of queue) {
      if (pending.onAbort !== undefined) pending.signal?.removeEventListener('abort', pending.onAbort)
      pending.reject(error)
    }
  }

  closedError (): Error {
    return this.error ?? new SwarmError(ErrorCode.ChannelClosed, 'channel is closed')
  }
}

/** The {@link Sender} handed to application code for a channel the peer exported. */
class RemoteSender implements Sender {
  readonly [REMOTE]: RemoteChannel
  constructor (channel: RemoteChannel) { this[REMOTE] = channel }
  send (message: Message, options?: AbortOptions): Promise<void> { return this[REMOTE].send(message, options) }
  close (error?: Error): Promise<void> { return this[REMOTE].close(error) }
  get abandoned (): AbortSignal { return this[REMOTE].abandonedSignal() }
}

const collected = new FinalizationRegistry<RemoteChannel>((channel) => { channel.collected() })

/** How the transport set a session up; not part of the public options. */
export interface SessionSetup {
  /** Dialing end over a socket: opens the return connection (a second socket to the same listener). */
  openReturn?: () => Promise<http2.ClientHttp2Session>
  /** Listening end over sockets: connections waiting for their return connection, by token. */
  returns?: Map<string, WireSession>
  /** Milliseconds a listener waits for an announced return connection. */
  handshakeTimeout?: number
}

const RETURN_TOKEN = /^[0-9a-f]{32}$/

/** Which way a control stream carries frames for this end. */
type ControlUse = 'read' | 'write' | 'both'

/**
 * A local {@link Sender} this end exported to the peer under a channel id. `replies` marks
 * the return channel of a request, which the connection's end closes (its requester must
 * learn that no reply comes); any other (a service handed out in a reply, such as a tree's
 * child every Attach shares) is only forgotten then, as on RELEASE.
 */
class ExportedChannel {
  pending = 0
  /** Bytes accepted and not yet credited back. */
  consumed = 0
  /** Bytes received and not yet credited back: the peer's window is spent when it reaches the window. */
  unacked = 0
  state: 'open' | 'closing' | 'closed' = 'open'
  closeError: Error | undefined
  /** Removes the listener on the sender's `abandoned` signal. */
  unwatch: (() => void) | undefined
  /** The handle whose message carried this channel as its ret, until the peer names the channel. */
  via: RemoteChannel | undefined
  /** The peer sent the channel back as the ret of a message of its own: it is answered here too. */
  handedBack = false
  constructor (readonly id: number, readonly sender: Sender, readonly replies = false) {}

  /** The channel leaves the open state: its abandonment no longer matters. */
  leave (state: 'closing' | 'closed'): void {
    this.state = state
    this.unwatch?.()
    this.unwatch = undefined
  }
}

interface BoundMessage {
  message: Message
  freshRet: RemoteChannel | undefined
  attachment: IncomingAttachment | undefined
}

/** Listening end: an attachment of this end's message, waiting for the peer's GET. */
class OutgoingSource implements Unclaimed {
  constructor (readonly source: ByteStream, private readonly forget: () => void) {}
  buffered (): number { return 0 }
  /** Nobody will fetch it: the source is told to stop (a log stream, say, lets its resources go). */
  drop (_h2Code: number, error: Error): void {
    this.forget()
    if (this.source instanceof IncomingAttachment) {
      this.source.cancel(error)
      return
    }
    try {
      Promise.resolve(this.source[Symbol.asyncIterator]().return?.()).catch(noop)
    } catch {}
  }
}

const noService: Sender = {
  send: async (message) => {
    void replyAndClose(message.ret, errorMessage(new SwarmError(ErrorCode.NotImplemented, 'this end of the connection has no service')))
  },
  close: async () => {}
}

const closedChannel: Sender = {
  send: async () => { throw new SwarmError(ErrorCode.ChannelClosed, 'channel is closed') },
  close: async () => {}
}

/**
 * One wire connection: every channel's frames on a control stream, each attachment on a
 * stream of its own. Over a socket it takes two HTTP/2 sessions, one for each direction's
 * bytes (return mode); over a pair of pipes, one. See PROTOCOL.md.
 */
export class WireSession implements WireConnection {
  readonly remote: Sender
  readonly closed: Promise<Error | undefined>
  /** Resolves once the peer answered the control stream (client) or opened it (server). */
  readonly ready: Promise<void>
  readonly imports = new Map<number, RemoteChannel>()
  readonly waiting = new Set<RemoteChannel>()
  congested = false
  ended = false

  private readonly exports = new Map<number, ExportedChannel>()
  private readonly incoming = new Map<number, IncomingAttachment>()
  private readonly outgoing = new Map<number, OutgoingSource>()
  /** Attachments held for the peer until someone here reads them (or it fetches them), within the limits. */
  readonly unclaimed: UnclaimedAttachments
  /** Channels whose credit is due but held back while the peer does not read what this end writes. */
  private readonly withheld = new Set<ExportedChannel>()
  /** Channels on which the peer sent past its window: reading stops until they are back within. */
  private readonly overdrawn = new Set<ExportedChannel>()
  /** The control stream frames are read from. */
  private reader: http2.Http2Stream | undefined
  /** Attachment streams in flight, both directions: ended with CANCEL when the connection ends. */
  private readonly streams = new Set<http2.Http2Stream>()
  /** Attachments the client end is fetching. */
  private readonly fetching = new Set<IncomingAttachment>()
  private readonly log: Logger
  private readonly maxMessageSize: number
  private peerMaxMessageSize = DEFAULT_MAX_MESSAGE_SIZE
  /** The peer announced it reads a MESSAGE's caller: an older peer would refuse the frame. */
  private peerReadsCaller = false
  /** The peer stops sending an attachment on a STOP frame (feature `stop`), so this end need not reset it. */
  private peerStopsAttachments = false
  /** Listening end: the attachments being sent, by id, on the streams the peer fetched them with. */
  private readonly sending = new Map<number, http2.Http2Stream>()
  /**
   * The peer's headers arrived (the listener has the dialer's at once). Until then the dialer
   * holds its sends, as it does while congested: how to write them depends on the peer's features.
   */
  private peerHeard: boolean
  private readonly parser: FrameParser
  /** The control stream frames are written to (in return mode, not the one they are read from). */
  private control: http2.Http2Stream | undefined
  private readonly controlStreams: http2.Http2Stream[] = []
  /** Handles bound this turn, held here until {@link watchHandles} registers those still open. */
  private readonly unwatched: RemoteSender[] = []
  /** Return mode: the second session, on which the listener's frames and attachments travel. */
  private returnSession: http2.Http2Session | undefined
  private returnToken: string | undefined
  private returnTimer: NodeJS.Timeout | undefined
  /** Dialing end: the listener did not accept a return connection. */
  returnRefused = false
  private readonly returns: Map<string, WireSession> | undefined
  private readonly handshakeTimeout: number
  private nextChannel: number
  private nextAttachment: number
  private block = Buffer.allocUnsafe(BLOCK_SIZE)
  private blockStart = 0
  private blockPos = 0
  private out: Buffer[] = []
  private flushScheduled = false
  private settleClosed!: (error: Error | undefined) => void
  private settleReady!: (error?: Error) => void
  private keepAliveTimer: NodeJS.Timeout | undefined
  private closing: Promise<void> | undefined

  constructor (readonly session: http2.Http2Session, readonly role: 'client' | 'server', options: WireOptions = {}, setup: SessionSetup = {}) {
    this.log = options.log ?? silentLogger
    this.returns = setup.returns
    this.handshakeTimeout = setup.handshakeTimeout ?? 10_000
    this.maxMessageSize = options.maxMessageSize ?? DEFAULT_MAX_MESSAGE_SIZE
    this.unclaimed = new UnclaimedAttachments(options.limits)
    this.peerHeard = role === 'server'
    this.congested = role === 'client'
    this.nextChannel = role === 'client' ? 1 : 2
    this.nextAttachment = role === 'client' ? 1 : 2
    this.closed = new Promise((resolve) => { this.settleClosed = resolve })
    this.ready = new Promise<void>((resolve, reject) => {
      this.settleReady = (error) => { if (error === undefined) resolve(); else reject(error) }
    })
    this.ready.catch(noop)
    this.exports.set(0, new ExportedChannel(0, options.service ?? noService))
    const root = new RemoteChannel(this, 0)
    this.imports.set(0, root)
    this.remote = new RemoteSender(root)
    this.parser = new FrameParser(this.maxMessageSize, {
      frame: (type, channel, source, start, end) => { this.onFrame(type, channel, source, start, end) },
      oversized: (type, channel, length) => {
        this.onChannelError(type, channel, new SwarmError(ErrorCode.MessageTooLarge,
          `a frame of ${length} bytes on channel ${channel} exceeds the limit of ${this.maxMessageSize} bytes`))
      }
    })

    this.watchSession(session)
    if (role === 'client') {
      const token = setup.openReturn === undefined ? undefined : randomBytes(16).toString('hex')
      const control = (session as http2.ClientHttp2Session).request({
        ':method': 'POST',
        ':path': CONTROL_PATH,
        'content-type': CONTROL_CONTENT_TYPE,
        [MAX_MESSAGE_SIZE_HEADER]: String(this.maxMessageSize),
        [FEATURES_HEADER]: FEATURES,
        ...(token === undefined ? {} : { [RETURN_HEADER]: token })
      }, { endStream: false })
      control.once('response', (headers) => {
        const status = Number(headers[':status'])
        if (status !== 200) {
          this.teardown(new SwarmError(ErrorCode.Protocol, `the peer answered the control stream with status ${status}`))
          return
        }
        this.readPeerLimit(headers)
        this.peerHeard = true
        if (control.writableNeedDrain !== true) this.resumeSends()
        if (token === undefined || setup.openReturn === undefined) {
          this.settleReady()
        } else if (headers[RETURN_HEADER] !== token) {
          this.returnRefused = true
          this.teardown(new SwarmError(ErrorCode.Protocol, 'the peer does not accept a return connection'))
        } else {
          void this.openReturn(setup.openReturn, token)
        }
      })
      this.attachControl(control, token === undefined ? 'both' : 'write')
    } else {
      session.on('stream', (stream, headers) => { this.onStream(stream, headers) })
    }
    const keepAlive = options.keepAlive ?? 15_000
    if (keepAlive > 0) {
      this.keepAliveTimer = setInterval(() => { this.ping(keepAlive) }, keepAlive)
      this.keepAliveTimer.unref()
    }
  }

  /** Ends the connection when `session` fails or closes; widens its connection window. */
  private watchSession (session: http2.Http2Session): void {
    session.on('error', (error) => { this.teardown(toSwarmError(error, ErrorCode.Unavailable)) })
    session.on('close', () => { this.teardown(new SwarmError(ErrorCode.Unavailable, 'connection lost')) })
    session.on('goaway', noop)
    const widen = (): void => { try { session.setLocalWindowSize(H2_WINDOW) } catch {} }
    if ((session as { connecting?: boolean }).connecting === true) session.once('connect', widen)
    else widen()
  }

  /** Dialing end, return mode: opens the second session and reads the listener's frames there. */
  private async openReturn (open: () => Promise<http2.ClientHttp2Session>, token: string): Promise<void> {
    let session: http2.ClientHttp2Session
    try {
      session = await open()
    } catch (error) {
      // The listener answered the first socket, so it is there: one connection will do.
      this.returnRefused = true
      this.teardown(toSwarmError(error, ErrorCode.Unavailable))
      return
    }
    if (this.ended) {
      session.destroy()
      return
    }
    this.returnSession = session
    this.watchSession(session)
    const control = session.request({ ':method': 'GET', ':path': CONTROL_PATH, [RETURN_HEADER]: token }, { endStream: true })
    control.once('response', (headers) => {
      const status = Number(headers[':status'])
      if (status === 200) {
        this.settleReady()
        return
      }
      // 404: the second socket reached another listener (a balancer in between); one connection will do.
      this.returnRefused = status === 404
      this.teardown(new SwarmError(ErrorCode.Protocol, `the peer answered the return connection with status ${status}`))
    })
    this.attachControl(control, 'read')
  }

  /** Listening end, return mode: `session` is the connection announced with this end's token. */
  acceptReturn (session: http2.ServerHttp2Session, control: http2.ServerHttp2Stream): void {
    this.forgetReturnToken()
    if (this.ended) {
      session.destroy()
      return
    }
    this.returnSession = session
    this.watchSession(session)
    session.on('stream', (stream, headers) => { this.onStream(stream, headers) })
    control.respond({ ':status': 200, 'content-type': CONTROL_CONTENT_TYPE })
    this.attachControl(control, 'write')
    this.settleReady()
  }

  private forgetReturnToken (): void {
    if (this.returnTimer !== undefined) clearTimeout(this.returnTimer)
    this.returnTimer = undefined
    if (this.returnToken !== undefined && this.returns?.get(this.returnToken) === this) this.returns.delete(this.returnToken)
    this.returnToken = undefined
  }

  private ping (timeout: number): void {
    if (this.ended) return
    for (const session of [this.session, this.returnSession]) {
      if (session === undefined || session.destroyed) continue
      const timer = setTimeout(() => { this.teardown(new SwarmError(ErrorCode.Unavailable, 'the peer stopped answering pings')) }, timeout)
      timer.unref()
      try {
        session.ping((error) => {
          clearTimeout(timer)
          if (error !== null && !this.ended) this.teardown(toSwarmError(error, ErrorCode.Unavailable))
        })
      } catch {
        clearTimeout(timer)
      }
    }
  }

  private readPeerLimit (headers: http2.IncomingHttpHeaders): void {
    const limit = Number(headers[MAX_MESSAGE_SIZE_HEADER])
    if (Number.isSafeInteger(limit) && limit > 0) this.peerMaxMessageSize = limit
    const features = headers[FEATURES_HEADER]
    const names = typeof features === 'string' ? features.split(',').map((name) => name.trim()) : []
    this.peerReadsCaller = names.includes('caller')
    this.peerStopsAttachments = names.includes('stop')
  }

  /** The control stream takes writes again: held credit goes out, held sends go on. */
  private resumeSends (): void {
    this.congested = false
    for (const entry of this.withheld) this.grant(entry)
    this.withheld.clear()
    for (const channel of [...this.waiting]) channel.pump()
  }

  private attachControl (control: http2.Http2Stream, use: ControlUse): void {
    this.controlStreams.push(control)
    if (use !== 'read') {
      this.control = control
      control.on('drain', () => { if (this.peerHeard) this.resumeSends() })
    }
    if (use === 'write') {
      // Nothing is read here (the listener's return GET has no body, the dialer's POST no
      // response body); flowing, the stream still reports its close.
      control.on('data', noop)
    } else {
      this.reader = control
      control.on('data', (chunk: Buffer) => { this.parser.push(chunk) })
      // The peer's END_STREAM leaves this end's half open; Node also ends the readable side of
      // every stream when the socket just drops, and then the stream is already closed.
      control.on('end', () => {
        const dropped = control.closed || control.destroyed || control.session?.destroyed !== false
        this.teardown(dropped ? new SwarmError(ErrorCode.Unavailable, 'connection lost') : undefined)
      })
    }
    control.on('error', (error) => { this.teardown(toSwarmError(error, ErrorCode.Unavailable)) })
    control.on('close', () => { this.teardown(new SwarmError(ErrorCode.Unavailable, 'control stream closed')) })
    this.scheduleFlush()
  }

  /** A stream the peer opened (the listener hands over the first one of a session itself). */
  onStream (stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders): void {
    stream.on('error', noop)
    const path = headers[':path'] ?? ''
    const method = headers[':method']
    if (path === CONTROL_PATH && method === 'POST') {
      if (this.control !== undefined) {
        stream.close(NGHTTP2_PROTOCOL_ERROR)
        return
      }
      this.readPeerLimit(headers)
      const token = headers[RETURN_HEADER]
      const returnMode = this.returns !== undefined && typeof token === 'string' && RETURN_TOKEN.test(token) && !this.returns.has(token)
      stream.respond({
        ':status': 200,
        'content-type': CONTROL_CONTENT_TYPE,
        [MAX_MESSAGE_SIZE_HEADER]: String(this.maxMessageSize),
        [FEATURES_HEADER]: FEATURES,
        ...(returnMode ? { [RETURN_HEADER]: token } : {})
      })
      if (!returnMode) {
        this.attachControl(stream, 'both')
        this.settleReady()
        return
      }
      this.attachControl(stream, 'read')
      this.returnToken = token
      this.returns?.set(token, this)
      this.returnTimer = setTimeout(() => {
        this.teardown(new SwarmError(ErrorCode.Protocol, `the announced return connection did not arrive within ${this.handshakeTimeout} ms`))
      }, this.handshakeTimeout)
      this.returnTimer.unref()
      return
    }
    const id = path.startsWith(ATTACHMENT_PATH) ? Number(path.slice(ATTACHMENT_PATH.length)) : NaN
    if (Number.isSafeInteger(id) && method === 'POST' && id % 2 === 1) {
      this.track(stream)
      stream.once('end', () => { if (!stream.headersSent && !stream.closed) stream.respond({ ':status': 200 }, { endStream: true }) })
      this.incomingAttachment(id).provide(stream)
      return
    }
    if (Number.isSafeInteger(id) && method === 'GET') {
      const waiting = this.outgoing.get(id)
      if (waiting !== undefined) {
        this.outgoing.delete(id)
        this.unclaimed.release(waiting)
        this.track(stream)
        this.sending.set(id, stream)
        stream.once('close', () => { if (this.sending.get(id) === stream) this.sending.delete(id) })
        stream.respond({ ':status': 200, 'content-type': 'application/octet-stream' })
        void sendAttachment(waiting.source, stream)
        return
      }
    }
    stream.respond({ ':status': 404 }, { endStream: true })
  }

  private track (stream: http2.Http2Stream): void {
    this.streams.add(stream)
    stream.once('close', () => { this.streams.delete(stream) })
  }

  private incomingAttachment (id: number): IncomingAttachment {
    let attachment = this.incoming.get(id)
    if (attachment === undefined) {
      attachment = new IncomingAttachment(id, false, this.unclaimed)
      this.incoming.set(id, attachment)
      const known = attachment
      known.onDrop = () => { if (this.incoming.get(id) === known) this.incoming.delete(id) }
    } else {
      this.incoming.delete(id)
    }
    return attachment
  }

  // ---- writing ------------------------------------------------------------------

  /**
   * Appends one frame, its payload `payload[start, end)`, to the outgoing buffer, flushed once
   * per turn of the event loop.
   */
  writeFrame (type: number, channel: number, payload?: Uint8Array, start = 0, end = payload?.length ?? 0): void {
    const length = end - start
    const size = FRAME_HEADER_SIZE + length
    let target: Buffer
    let at: number
    if (size > BLOCK_SIZE / 4) {
      this.seal()
      target = Buffer.allocUnsafe(size)
      at = 0
      this.out.push(target)
    } else {
      if (this.blockPos + size > this.block.length) {
        this.seal()
        this.block = Buffer.allocUnsafe(BLOCK_SIZE)
        this.blockStart = this.blockPos = 0
      }
      target = this.block
      at = this.blockPos
      this.blockPos += size
    }
    writeFrameHeader(target, at, length, type, channel)
    if (payload !== undefined && length > 0) copyBytes(payload, start, end, target, at + FRAME_HEADER_SIZE)
    this.scheduleFlush()
  }

  private seal (): void {
    if (this.blockPos > this.blockStart) {
      this.out.push(this.block.subarray(this.blockStart, this.blockPos))
      this.blockStart = this.blockPos
    }
  }

  private scheduleFlush (): void {
    if (this.flushScheduled) return
    this.flushScheduled = true
    setImmediate(this.flush)
  }

  private readonly flush = (): void => {
    this.flushScheduled = false
    const control = this.control
    if (control === undefined || this.ended) return
    this.seal()
    const out = this.out
    if (out.length === 0) return
    this.out = []
    let ok: boolean
    if (out.length === 1) ok = control.write(out[0])
    else ok = control.write(Buffer.concat(out))
    if (!ok) this.congested = true
  }

  /**
   * Encodes and writes a MESSAGE on the handle `via` (id `channel`; a return channel when
   * `via.replies`); returns the bytes of channel credit it used.
   */
  writeMessage (channel: number, message: Message, via?: RemoteChannel): number {
    if (this.ended) throw new SwarmError(ErrorCode.ChannelClosed, 'connection is closed')
    let exported: Sender | undefined
    let exportedId = 0
    let retField: number | [number] | null = null
    const ret = message.ret
    if (ret !== undefined) {
      const remote = (ret as Partial<RemoteSender>)[REMOTE]
      if (remote !== undefined && remote.wire === this && remote.state === 'open') {
        retField = [remote.id]
      } else {
        exported = ret
        exportedId = this.nextChannel
        retField = exportedId
      }
    }
    const attachmentId = message.stream === undefined ? undefined : this.nextAttachment
    // A peer that did not announce `caller` would refuse the fifth item: it goes without.
    const caller = this.peerReadsCaller ? message.caller : undefined
    const packed = packMessage(message.verb, message.args, retField, attachmentId, caller)
    const length = packed.end - packed.start
    if (length > this.peerMaxMessageSize) {
      const error = new SwarmError(ErrorCode.MessageTooLarge, `a message of ${length} bytes exceeds the peer's limit of ${this.peerMaxMessageSize} bytes`)
      // Whoever waits on this channel (a requester, for a reply) learns why nothing came.
      if (via !== undefined && channel !== 0) via.credit -= this.writeMessage(channel, errorMessage(error))
      throw error
    }
    // Copied before anything else is packed: the bytes live in msgpackr's buffer.
    this.writeFrame(FrameType.Message, channel, packed, packed.start, packed.end)
    if (exported !== undefined) {
      this.nextChannel += 2
      const entry = new ExportedChannel(exportedId, exported, via?.replies !== true)
      this.exports.set(exportedId, entry)
      if (exported.abandoned !== undefined) this.watchAbandoned(entry, exported.abandoned)
      if (via !== undefined) {
        entry.via = via
        ;(via.unheard ??= new Set()).add(entry)
      }
    }
    if (attachmentId !== undefined) {
      this.nextAttachment += 2
      this.startAttachment(attachmentId, message.stream as ByteStream)
    }
    return FRAME_HEADER_SIZE + length
  }

  private startAttachment (id: number, source: ByteStream): void {
    if (this.role === 'server') {
      const waiting = new OutgoingSource(source, () => { if (this.outgoing.get(id) === waiting) this.outgoing.delete(id) })
      this.outgoing.set(id, waiting)
      // Waits for the peer's GET no longer than an unclaimed attachment waits to be read.
      this.unclaimed.admit(waiting, false)
      return
    }
    const stream = (this.session as http2.ClientHttp2Session).request({
      ':method': 'POST',
      ':path': ATTACHMENT_PATH + String(id),
      'content-type': 'application/octet-stream'
    }, { endStream: false })
    stream.on('error', noop)
    this.track(stream)
    stream.resume()
    void sendAttachment(source, stream)
  }

  /**
   * A local channel exported as a `ret` whose receiver stops listening: the peer learns it at
   * once from a RESET, and its handle's `abandoned` signal aborts (PROTOCOL.md §5).
   */
  private watchAbandoned (entry: ExportedChannel, signal: AbortSignal): void {
    const onAbort = (): void => {
      entry.unwatch = undefined
      if (entry.state !== 'open' || this.exports.get(entry.id) !== entry) return
      entry.leave('closed')
      this.exports.delete(entry.id)
      if (!this.ended) this.writeFrame(FrameType.Reset, entry.id, encodeErrorPayload(ErrorCode.ChannelClosed, 'the receiver stopped listening'))
    }
    if (signal.aborted) {
      onAbort()
      return
    }
    signal.addEventListener('abort', onAbort, { once: true })
    entry.unwatch = () => { signal.removeEventListener('abort', onAbort) }
  }

  /** Stops tracking a handle that was closed or failed. */
  forget (channel: RemoteChannel): void {
    if (channel.watched) collected.unregister(channel)
  }

  /**
   * Watches a handle for being garbage-collected unclosed, at the end of this turn: most
   * handles (the ret of a request) are closed within it, and then need no registration.
   */
  private watchLater (sender: RemoteSender): void {
    this.unwatched.push(sender)
    if (this.unwatched.length === 1) setImmediate(this.watchHandles)
  }

  private readonly watchHandles = (): void => {
    for (const sender of this.unwatched) {
      const channel = sender[REMOTE]
      if (channel.state === 'open' && !this.ended) {
        collected.register(sender, channel, channel)
        channel.watched = true
      }
    }
    this.unwatched.length = 0
  }

  // ---- reading ------------------------------------------------------------------

  /** A frame whose payload is `source[start, end)`. */
  private onFrame (type: number, channel: number, source: Buffer, start: number, end: number): void {
    try {
      switch (type) {
        case FrameType.Message: this.onMessage(channel, source, start, end); break
        case FrameType.Close: this.onClose(channel, decodeErrorPayload(source, start, end)); break
        case FrameType.Release: this.onRelease(channel); break
        case FrameType.Credit: this.onCredit(channel, decodeCreditPayload(source, start, end)); break
        case FrameType.Reset: this.onReset(channel, decodeErrorPayload(source, start, end) ?? new SwarmError(ErrorCode.ChannelClosed, 'the peer reset the channel')); break
        case FrameType.Stop: this.onStop(channel); break
        default: break
      }
    } catch (error) {
      this.onChannelError(type, channel, toSwarmError(error, ErrorCode.MalformedFrame))
    }
  }

  /**
   * The client stopped reading attachment `id`: this end resets the stream it sends it on (or
   * drops it before it is fetched). A reset the listening end sends costs the peer nothing, while
   * every reset a client sends counts against the listener's HTTP/2 rapid-reset limit (PROTOCOL.md §6).
   */
  private onStop (id: number): void {
    if (this.role !== 'server') return
    const stream = this.sending.get(id)
    if (stream !== undefined) {
      this.sending.delete(id)
      if (!stream.closed) stream.close(NGHTTP2_CANCEL)
      return
    }
    const waiting = this.outgoing.get(id)
    if (waiting === undefined) return
    this.outgoing.delete(id)
    this.unclaimed.release(waiting)
    waiting.drop(NGHTTP2_CANCEL, new SwarmError(ErrorCode.ChannelClosed, 'the peer stopped reading the attachment'))
  }

  /** Dialing end: asks the peer to stop sending attachment `id`; false when the peer cannot be asked. */
  private askToStop (id: number): boolean {
    if (!this.peerStopsAttachments || this.ended) return false
    this.writeFrame(FrameType.Stop, id)
    return true
  }

  private onCredit (channel: number, bytes: number): void {
    const remote = this.imports.get(channel)
    if (remote === undefined) return
    remote.credit += bytes
    if (remote.queue !== undefined) remote.pump()
  }

  private onMessage (channel: number, source: Buffer, start: number, end: number): void {
    const entry = this.exports.get(channel)
    if (entry?.via !== undefined) this.hear(entry)
    let decoded: MessagePayload
    try {
      decoded = decodeMessagePayload(source, start, end)
    } catch (error) {
      if (!(error instanceof UnknownVerbError)) throw error
      this.onUnknownVerb(entry, error, FRAME_HEADER_SIZE + end - start)
      return
    }
    const bound = this.bind(decoded, entry?.replies !== true)
    if (entry === undefined || entry.state !== 'open') {
      this.drop(bound, new SwarmError(ErrorCode.ChannelClosed, `channel ${channel} is closed`))
      return
    }
    const size = FRAME_HEADER_SIZE + end - start
    this.received(entry, size)
    entry.pending++
    let sent: Promise<void>
    try {
      sent = entry.sender.send(bound.message)
      if (typeof (sent as Partial<Promise<void>> | undefined)?.then !== 'function') sent = ACCEPTED
    } catch (error) {
      sent = Promise.reject(error)
    }
    if (sent === ACCEPTED) this.settled(entry, size)
    else sent.then(() => { this.settled(entry, size) }, (error: unknown) => { this.refused(entry, bound, error) })
  }

  /**
   * A message with a verb added after this end was built: answered `Error [NOT_IMPLEMENTED]`
   * on its ret, its attachment cancelled, its bytes credited; the channel goes on.
   */
  private onUnknownVerb (entry: ExportedChannel | undefined, error: UnknownVerbError, size: number): void {
    this.log.debug('wire message with an unknown verb', { verb: error.verbIndex })
    const bound = this.bind({ verb: 'Error', args: [], ret: error.ret, stream: error.stream }, entry?.replies !== true)
    bound.attachment?.cancel(error)
    void replyAndClose(bound.message.ret, errorMessage(error))
    if (entry === undefined || entry.state !== 'open') return
    this.received(entry, size)
    entry.pending++
    this.settled(entry, size)
  }

  /** Counts `size` bytes against the peer's window on `entry`; past it, stops reading (§7). */
  private received (entry: ExportedChannel, size: number): void {
    if (entry.unacked >= INITIAL_CHANNEL_WINDOW && !this.overdrawn.has(entry)) {
      this.log.warn('wire peer sent past its channel window; reading paused', { channel: entry.id })
      this.overdrawn.add(entry)
      this.reader?.pause()
    }
    entry.unacked += size
  }

  /** The peer named a channel this end exported as a ret: it knows of it. */
  private hear (entry: ExportedChannel): void {
    entry.via?.unheard?.delete(entry)
    entry.via = undefined
  }

  /** Turns ids into a ret handle (a return channel when `request`) and an attachment stream. */
  private bind (decoded: MessagePayload, request: boolean): BoundMessage {
    let ret: Sender | undefined
    let freshRet: RemoteChannel | undefined
    let attachment: IncomingAttachment | undefined
    // Checked before any id is bound, so that a refused frame leaves nothing behind.
    if (decoded.stream !== undefined && (decoded.stream % 2 === 1) !== (this.role === 'server')) {
      throw new SwarmError(ErrorCode.MalformedFrame, `malformed frame: attachment ${decoded.stream} was not the sender's to allocate`)
    }
    if (decoded.ret !== undefined) {
      if ('id' in decoded.ret) {
        const id = decoded.ret.id
        if (id === 0 || (id % 2 === 1) !== (this.role === 'server')) {
          throw new SwarmError(ErrorCode.MalformedFrame, `malformed frame: channel ${id} was not the sender's to allocate`)
        }
        freshRet = new RemoteChannel(this, id, request)
        this.imports.set(id, freshRet)
        const sender = new RemoteSender(freshRet)
        this.watchLater(sender)
        ret = sender
      } else {
        const back = this.exports.get(decoded.ret.back)
        if (back !== undefined) back.handedBack = true
        ret = back === undefined || back.state !== 'open' ? closedChannel : back.sender
      }
    }
    if (decoded.stream !== undefined) {
      const id = decoded.stream
      if (this.role === 'server') {
        attachment = this.incomingAttachment(id)
        attachment.expect()
      } else {
        attachment = new IncomingAttachment(id, true, this.unclaimed)
        attachment.askSenderToStop = () => this.askToStop(id)
        const session = (this.returnSession ?? this.session) as http2.ClientHttp2Session
        const stream = session.request({ ':method': 'GET', ':path': ATTACHMENT_PATH + String(id) }, { endStream: true })
        this.track(stream)
        const fetching = attachment
        this.fetching.add(fetching)
        stream.once('close', () => { this.fetching.delete(fetching) })
        attachment.provide(stream)
      }
    }
    const message: Message = decoded.caller === undefined
      ? { verb: decoded.verb, args: decoded.args, ret, stream: attachment }
      : { verb: decoded.verb, args: decoded.args, ret, stream: attachment, caller: decoded.caller }
    return { message, freshRet, attachment }
  }

  /** A message nobody will receive: its ret learns why, its attachment is cancelled. */
  private drop (bound: BoundMessage, error: Error): void {
    if (bound.freshRet !== undefined) void bound.freshRet.close(error)
    bound.attachment?.cancel(error)
  }

  private settled (entry: ExportedChannel, size: number): void {
    entry.pending--
    if (entry.state === 'open') {
      entry.consumed += size
      if (entry.consumed >= INITIAL_CHANNEL_WINDOW / 2 && !this.ended) {
        // While the peer leaves what this end writes unread, it gets no more credit: a peer
        // that sends requests and never reads the replies is held to its window (§7).
        if (this.congested) this.withheld.add(entry)
        else this.grant(entry)
      }
    } else if (entry.state === 'closing' && entry.pending === 0) {
      this.finishExport(entry)
    }
  }

  private grant (entry: ExportedChannel): void {
    if (entry.state !== 'open' || entry.consumed === 0 || this.ended) return
    this.writeFrame(FrameType.Credit, entry.id, encodeCreditPayload(entry.consumed))
    entry.unacked -= entry.consumed
    entry.consumed = 0
    if (entry.unacked < INITIAL_CHANNEL_WINDOW && this.overdrawn.delete(entry)) this.resumeReading()
  }

  /** `entry` is gone: nothing is held back on its account any more. */
  private unhold (entry: ExportedChannel): void {
    this.withheld.delete(entry)
    if (this.overdrawn.delete(entry)) this.resumeReading()
  }

  private resumeReading (): void {
    if (this.overdrawn.size === 0 && !this.ended) this.reader?.resume()
  }

  private refused (entry: ExportedChannel, bound: BoundMessage, reason: unknown): void {
    entry.pending--
    const error = toSwarmError(reason, ErrorCode.ChannelClosed)
    this.drop(bound, error)
    if (entry.state === 'open') {
      entry.leave('closed')
      this.exports.delete(entry.id)
      this.unhold(entry)
      if (!this.ended) this.writeFrame(FrameType.Reset, entry.id, encodeErrorPayload(error.code, error.message))
    } else if (entry.state === 'closing' && entry.pending === 0) {
      this.finishExport(entry)
    }
  }

  private onClose (channel: number, error: Error | undefined): void {
    const entry = this.exports.get(channel)
    if (entry === undefined) return
    this.hear(entry)
    this.closeExport(entry, error)
  }

  /** The peer is done with `entry`: the local channel closes once what it accepted settled. */
  private closeExport (entry: ExportedChannel, error: Error | undefined): void {
    this.exports.delete(entry.id)
    this.unhold(entry)
    entry.leave('closing')
    entry.closeError = error
    if (entry.pending === 0) this.finishExport(entry)
  }

  private finishExport (entry: ExportedChannel): void {
    entry.state = 'closed'
    if (entry.id === 0) return
    entry.sender.close(entry.closeError).catch(noop)
  }

  private onRelease (channel: number): void {
    const entry = this.exports.get(channel)
    if (entry === undefined) return
    this.hear(entry)
    this.exports.delete(channel)
    this.unhold(entry)
    entry.leave('closed')
    // Nobody but the peer could answer a request's return channel, unless it sent the channel
    // back here with a message of its own: else the request is dropped.
    if (entry.replies && !entry.handedBack) entry.sender.close(new SwarmError(ErrorCode.ChannelClosed, 'the peer dropped the request without answering it')).catch(noop)
  }

  /**
   * The peer reset a handle. A frame it could not read (too large, malformed) had a ret it
   * never learnt of: every channel exported as a ret on this handle and not named by the peer
   * since is closed with the error, so that no requester waits for a reply that cannot come.
   */
  private onReset (channel: number, error: SwarmError): void {
    const remote = this.imports.get(channel)
    if (remote === undefined) return
    const unheard = remote.unheard
    remote.fail(error)
    if (unheard === undefined || (error.code !== ErrorCode.MessageTooLarge && error.code !== ErrorCode.MalformedFrame)) return
    for (const entry of unheard) {
      entry.via = undefined
      if (this.exports.get(entry.id) === entry) this.closeExport(entry, error)
    }
  }

  /**
   * A frame for `channel` could not be used: the channel ends with `error` on both
   * sides and the connection goes on.
   */
  private onChannelError (type: number, channel: number, error: SwarmError): void {
    this.log.warn('wire channel error', { channel, type, code: error.code, error: error.message })
    if (type === FrameType.Credit || type === FrameType.Reset) {
      const remote = this.imports.get(channel)
      if (remote === undefined) return
      remote.fail(error)
      this.writeFrame(FrameType.Close, channel, encodeErrorPayload(error.code, error.message))
      return
    }
    const entry = this.exports.get(channel)
    if (entry === undefined) return
    this.hear(entry)
    this.writeFrame(FrameType.Reset, channel, encodeErrorPayload(error.code, error.message))
    this.closeExport(entry, error)
  }

  // ---- teardown -------------------------------------------------------------------

  private teardown (error: Error | undefined): void {
    if (this.ended) return
    this.ended = true
    if (this.keepAliveTimer !== undefined) clearInterval(this.keepAliveTimer)
    this.forgetReturnToken()
    if (error !== undefined) this.log.debug('wire connection ended', { error: error.message })
    const lost = new SwarmError(ErrorCode.Unavailable, `connection closed${error === undefined ? '' : `: ${error.message}`}`, { cause: error })
    this.settleReady(lost)
    for (const remote of [...this.imports.values()]) remote.fail(lost)
    for (const entry of this.exports.values()) {
      if (entry.id !== 0 && entry.state === 'open') {
        entry.leave('closed')
        if (entry.replies) entry.sender.close(lost).catch(noop)
      }
    }
    this.exports.clear()
    this.withheld.clear()
    this.overdrawn.clear()
    this.unclaimed.clear()
    for (const attachment of this.incoming.values()) attachment.cancel(lost, error === undefined)
    this.incoming.clear()
    for (const attachment of this.fetching) attachment.cancel(lost, error === undefined)
    this.fetching.clear()
    // A clean close lets the attachments whose bytes were all written finish before it ends the
    // control stream, so that the peer reads their end first, and aborts the others.
    const finishing: Array<Promise<unknown>> = []
    for (const stream of this.streams) {
      if (stream.closed) continue
      if (error === undefined && stream.writableEnded) finishing.push(new Promise((resolve) => stream.once('close', resolve)))
      else if (error === undefined) abortAttachment(stream)
      else stream.close(NGHTTP2_CANCEL)
    }
    this.streams.clear()
    this.sending.clear()
    for (const waiting of [...this.outgoing.values()]) waiting.drop(NGHTTP2_CANCEL, lost)
    this.outgoing.clear()
    this.settleClosed(error)
    if (error !== undefined) {
      for (const session of this.sessions()) session.destroy()
      return
    }
    this.flushNow()
    const end = (): void => {
      for (const control of this.controlStreams) if (!control.destroyed) control.end()
      for (const session of this.sessions()) {
        session.close()
        setTimeout(() => { if (!session.destroyed) session.destroy() }, 1000).unref()
      }
    }
    if (finishing.length === 0) {
      end()
      return
    }
    const timer = setTimeout(end, 1000)
    timer.unref()
    void Promise.all(finishing).then(() => { clearTimeout(timer); end() })
  }

  private sessions (): http2.Http2Session[] {
    return [this.session, this.returnSession].filter((session): session is http2.Http2Session => session !== undefined && !session.destroyed)
  }

  private flushNow (): void {
    if (this.control === undefined || this.control.destroyed) return
    const wasEnded = this.ended
    this.ended = false
    this.flush()
    this.ended = wasEnded
  }

  /** Closes the connection: pending requests on it reject with UNAVAILABLE. */
  async close (error?: Error): Promise<void> {
    this.closing ??= (async () => {
      if (!this.ended) {
        this.teardown(error)
        if (error !== undefined) return
      }
      await Promise.all(this.sessions().map(async (session) => {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, 1000)
          session.once('close', () => { clearTimeout(timer); resolve() })
        })
      }))
    })()
    await this.closing
  }

  async [Symbol.asyncDispose] (): Promise<void> {
    await this.close()
  }
}

/** Recognises a handle to a channel of some wire connection (used to avoid re-exporting it to the same peer). */
export function isRemoteSender (value: unknown): boolean {
  return typeof value === 'object' && value !== null && REMOTE in value
}

export { NGHTTP2_CANCEL }
