import { setMaxListeners } from 'node:events'
import type { Verb } from './verbs.js'

/** A byte stream: an attachment to a message. Pulling from it is what applies backpressure. */
export type ByteStream = AsyncIterable<Uint8Array>

/**
 * A libswarm message: a verb, string arguments, an optional return channel on which
 * the receiver answers, and an optional byte-stream attachment.
 */
export interface Message {
  readonly verb: Verb
  readonly args: readonly string[]
  /** Where replies go. A reply may itself carry a `ret`: that is how Attach hands back a child. */
  readonly ret?: Sender | undefined
  /** A byte stream travelling with the message (stdin of an attach, a tar to load, ...). */
  readonly stream?: ByteStream | undefined
  /**
   * Who sent the request, as the front that received it saw them (dockerserver sets it from
   * the connection, never from the request's content). Services pass it on unchanged.
   */
  readonly caller?: Caller | undefined
}

/** The identity of a request's sender, as a front saw it. Every field is optional. */
export interface Caller {
  /** The name of the listener the request arrived on (one swarmd may serve several sockets). */
  readonly listener?: string | undefined
  /** The peer's user and group ids (and process id) on a unix socket, where the platform gives them. */
  readonly uid?: number | undefined
  readonly gid?: number | undefined
  readonly pid?: number | undefined
  /** The verified TLS client certificate, over mutual TLS. */
  readonly certificate?: CallerCertificate | undefined
  /** The peer's address over TCP (`127.0.0.1:51234`). */
  readonly address?: string | undefined
}

/** The parts of a verified client certificate a policy names callers by. */
export interface CallerCertificate {
  /** The subject, as `CN=ci,O=example` (RFC 4514 order as the certificate gives it). */
  readonly subject: string
  /** Subject alternative names, as `DNS:ci.example`, `IP:10.0.0.1`, `URI:spiffe://...`, `email:...`. */
  readonly sans: readonly string[]
  /** SHA-256 fingerprint, hex with colons as node:tls gives it. */
  readonly fingerprint256?: string | undefined
}

/**
 * The promise a sender returns when it took a message at once. Receivers that wait for
 * acceptance (the wire's channel credit) recognise it and skip the wait.
 */
export const ACCEPTED: Promise<void> = Promise.resolve()

/** Options of any call that may wait. */
export interface AbortOptions {
  signal?: AbortSignal | undefined
}

/** The sending end of a channel. */
export interface Sender {
  /**
   * Sends one message. Resolves once the channel accepted it: a bounded channel makes
   * a sender wait while its receiver is behind. Rejects with CHANNEL_CLOSED once closed.
   */
  send (message: Message, options?: AbortOptions): Promise<void>
  /** Closes the channel; with an error, the receiver's pending and later receives reject with it. */
  close (error?: Error): Promise<void>
  /**
   * Aborts once nobody listens on the channel any more: its receiver closed it or stopped
   * iterating, the wire peer reset it, or the connection to the peer ended. A responder
   * stops the work behind its replies then (an engine request, a followed log). Optional:
   * a sender without it cannot tell; read it through {@link abandonedSignal}. A wrapper
   * around a sender forwards it (`get abandoned () { return inner.abandoned }`).
   */
  readonly abandoned?: AbortSignal | undefined
}

/** The receiving end of a channel. Iterating it yields messages until the channel closes. */
export interface Receiver extends AsyncIterable<Message> {
  /** The next message, or `undefined` once the channel closed cleanly. Rejects if it closed with an error. */
  receive (options?: AbortOptions): Promise<Message | undefined>
  /** Stops receiving: the sender's pending and later sends reject with CHANNEL_CLOSED. */
  close (error?: Error): Promise<void>
}

/** Builds a message. */
export function message (verb: Verb, args: readonly string[] = [], extra: { ret?: Sender | undefined, stream?: ByteStream | undefined, caller?: Caller | undefined } = {}): Message {
  return extra.caller === undefined ? { verb, args, ret: extra.ret, stream: extra.stream } : { verb, args, ret: extra.ret, stream: extra.stream, caller: extra.caller }
}

/** Never aborts: the signal of a sender that cannot tell. Shared, so its listeners must be removed. */
const NEVER: AbortSignal = new AbortController().signal
setMaxListeners(0, NEVER)

/**
 * The signal that aborts once nobody listens on `ret` ({@link Sender.abandoned}); for no
 * `ret`, or a sender that cannot tell, a signal that never aborts. Remove your listener when
 * the work is done.
 *
 * @example
 * const signal = abandonedSignal(message.ret)
 * const reply = await fetch(url, { signal }) // stops when the requester leaves
 */
export function abandonedSignal (ret: Sender | undefined): AbortSignal {
  return ret?.abandoned ?? NEVER
}

/** True when `value` has the shape of a {@link Sender}. */
export function isSender (value: unknown): value is Sender {
  return typeof value === 'object' && value !== null &&
    typeof (value as Sender).send === 'function' && typeof (value as Sender).close === 'function'
}
