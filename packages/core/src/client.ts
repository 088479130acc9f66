import { ErrorCode, SwarmError } from './errors.js'
import type { AbortOptions, ByteStream, Caller, Message, Sender } from './message.js'
import { ACCEPTED } from './message.js'
import { pipe } from './pipe.js'
import { errorFromMessage } from './server.js'
import type { Verb } from './verbs.js'

/** Options of a client request. */
export interface RequestOptions extends AbortOptions {
  /** A byte stream to attach to the request. */
  stream?: ByteStream | undefined
  /** Who the request is made for: a service forwarding a message passes on `message.caller`. */
  caller?: Caller | undefined
}

/**
 * A return channel that keeps only the first reply: the cheapest way to await one answer.
 * It is abandoned when the request's signal aborts (without a signal, never).
 */
class FirstReply implements Sender {
  readonly reply: Promise<Message>
  private settle!: (message: Message) => void
  private fail!: (error: Error) => void
  private done = false

  constructor (readonly abandoned: AbortSignal | undefined) {
    this.reply = new Promise<Message>((resolve, reject) => { this.settle = resolve; this.fail = reject })
  }

  send (message: Message): Promise<void> {
    if (this.done) return Promise.reject(new SwarmError(ErrorCode.ChannelClosed, 'the request already has its reply'))
    this.done = true
    this.settle(message)
    return ACCEPTED
  }

  async close (error?: Error): Promise<void> {
    if (this.done) return
    this.done = true
    this.fail(error ?? new SwarmError(ErrorCode.ChannelClosed, 'return channel closed without a reply'))
  }
}

/**
 * Sends `verb args` to `target` and resolves with the first reply. An Error reply
 * rejects with its typed {@link SwarmError}.
 */
export async function request (target: Sender, verb: Verb, args: readonly string[] = [], options: RequestOptions = {}): Promise<Message> {
  const signal = options.signal
  signal?.throwIfAborted()
  const ret = new FirstReply(signal)
  let onAbort: (() => void) | undefined
  if (signal !== undefined) {
    onAbort = () => { void ret.close(signal.reason as Error) }
    signal.addEventListener('abort', onAbort, { once: true })
  }
  try {
    await target.send(options.caller === undefined ? { verb, args, ret, stream: options.stream } : { verb, args, ret, stream: options.stream, caller: options.caller }, { signal })
    const reply = await ret.reply
    if (reply.verb === 'Error') throw errorFromMessage(reply)
    return reply
  } finally {
    if (onAbort !== undefined) signal?.removeEventListener('abort', onAbort)
  }
}

/**
 * Sends `verb args` to `target` and yields every reply until the responder closes the
 * return channel. An Error reply throws its typed {@link SwarmError}. Breaking out of
 * the loop closes the return channel, telling the responder to stop.
 */
export async function * requestStream (target: Sender, verb: Verb, args: readonly string[] = [], options: RequestOptions & { highWaterMark?: number } = {}): AsyncGenerator<Message, void, undefined> {
  const signal = options.signal
  signal?.throwIfAborted()
  const [replies, ret] = pipe({ highWaterMark: options.highWaterMark ?? 64 })
  await target.send(options.caller === undefined ? { verb, args, ret, stream: options.stream } : { verb, args, ret, stream: options.stream, caller: options.caller }, { signal })
  try {
    while (true) {
      const reply = await replies.receive({ signal })
      if (reply === undefined) return
      if (reply.verb === 'Error') throw errorFromMessage(reply)
      yield reply
    }
  } finally {
    await replies.close()
  }
}

/**
 * Calls a service by verb. Every method sends its message, awaits the reply on the
 * return channel and turns an Error reply into a typed {@link SwarmError}.
 *
 * @example
 * const client = new Client(service)
 * const names = (await client.ls()).args
 */
export class Client {
  constructor (readonly target: Sender) {}

  /** Any verb, first reply. */
  async request (verb: Verb, args: readonly string[] = [], options?: RequestOptions): Promise<Message> {
    return await request(this.target, verb, args, options)
  }

  /** Ls: the names the service holds. */
  async ls (args: readonly string[] = [], options?: RequestOptions): Promise<Message> { return await this.request('Ls', args, options) }
  /** Spawn: create something from `args`. */
  async spawn (args: readonly string[] = [], options?: RequestOptions): Promise<Message> { return await this.request('Spawn', args, options) }
  /** Attach: the reply's `ret` is the named child. */
  async attach (name: string, args: readonly string[] = [], options?: RequestOptions): Promise<Message> { return await this.request('Attach', [name, ...args], options) }
  /** Attach and return a client for the named child. */
  async child (name: string, options?: RequestOptions): Promise<Client> {
    const reply = await this.attach(name, [], options)
    if (reply.ret === undefined) throw new SwarmError(ErrorCode.Protocol, `Attach ${name} was answered without a channel`)
    return new Client(reply.ret)
  }

  /** Get a value. */
  async get (args: readonly string[] = [], options?: RequestOptions): Promise<Message> { return await this.request('Get', args, options) }
  /** Set a value. */
  async set (args: readonly string[] = [], options?: RequestOptions): Promise<Message> { return await this.request('Set', args, options) }
  /** Start something. */
  async start (args: readonly string[] = [], options?: RequestOptions): Promise<Message> { return await this.request('Start', args, options) }
  /** Stop something. */
  async stop (args: readonly string[] = [], options?: RequestOptions): Promise<Message> { return await this.request('Stop', args, options) }
  /** Connect: hand a stream or channel to the service. */
  async connect (args: readonly string[] = [], options?: RequestOptions): Promise<Message> { return await this.request('Connect', args, options) }
  /** Log a line to the service. */
  async log (args: readonly string[] = [], options?: RequestOptions): Promise<Message> { return await this.request('Log', args, options) }
  /** Report an error to the service: `Error [code, message]`. */
  async error (code: string, text: string, options?: RequestOptions): Promise<Message> { return await this.request('Error', [code, text], options) }
  /** Send a file (the byte stream in `options.stream`). */
  async file (args: readonly string[] = [], options?: RequestOptions): Promise<Message> { return await this.request('File', args, options) }
  /** Watch: every message the service sends until it closes the channel or the loop breaks. */
  watch (args: readonly string[] = [], options?: RequestOptions): AsyncGenerator<Message, void, undefined> { return requestStream(this.target, 'Watch', args, options) }
  /** Any verb, every reply. */
  stream (verb: Verb, args: readonly string[] = [], options?: RequestOptions): AsyncGenerator<Message, void, undefined> { return requestStream(this.target, verb, args, options) }
}
