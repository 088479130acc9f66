/**
 * @packageDocumentation
 * `@libswarm/core/compliance`: the contract tests every service can run against itself,
 * whatever its test framework. Each test is a name and an async `run` that throws on
 * failure.
 *
 * @example
 * import { complianceTests } from '@libswarm/core/compliance'
 * for (const t of complianceTests({ service: hello, args: ['world'] })) it(t.name, t.run)
 */
import { ErrorCode, SwarmError } from './errors.js'
import { silentLogger } from './logger.js'
import { isSender, type Caller, type Message, type Sender } from './message.js'
import { createServer } from './server.js'
import type { Service, ServiceContext, ServiceInstance } from './service.js'
import { VERBS, type Verb } from './verbs.js'

/** One contract test. */
export interface ComplianceTest {
  readonly name: string
  run (): Promise<void>
}

/** Options of {@link complianceTests}. */
export interface ComplianceOptions {
  /** The service under test. */
  service: Service
  /** Its arguments, as swarmd would pass them. Default none. */
  args?: string[]
  /**
   * What the instance forwards to. Default: a service that answers every message with
   * `Error [NOT_IMPLEMENTED]`, as the end of a chain does. Messages reaching it count
   * as forwarded.
   */
  next?: Sender
  /** Spawns the children the service asks for (`context.spawn`). Default: each child answers every message with `Error [NOT_IMPLEMENTED]`. */
  spawn?: ServiceContext['spawn']
  /** The messages that must be answered or forwarded. Default: each verb with no arguments. */
  messages?: Array<{ verb: Verb, args?: string[] }>
  /**
   * Messages the service answers with an endless stream: replies that keep coming, or a reply
   * whose attachment does not end by itself (a followed log, an event feed). With them, a test
   * checks that the answer stops once nobody listens any more (`ret.abandoned` aborts): the
   * service closes `ret` (replies), or the reply's attachment ends. Default none, and no such test: a
   * service that never streams has nothing to stop.
   */
  streams?: Array<{ verb: Verb, args?: string[] }>
  /** How long to wait for a reply, a forward or a close, in milliseconds. Default 2000. */
  timeout?: number
}

const NAME = /^[a-z0-9][a-z0-9._-]*$/

interface Watched {
  /** Settles when the message got a reply, its ret was closed, or it reached `next`. */
  readonly outcome: Promise<string>
  readonly ret: Sender
  /** What reached `next` for it, if anything did. */
  readonly forwarded: () => Message | undefined
  /** Aborts `ret.abandoned`: the receiver of the replies left. */
  readonly abandon: () => void
}

/**
 * The contract tests for `options.service`: a valid name and usage; spawn returns an
 * instance; every verb sent with a return channel is answered or forwarded within the
 * timeout, never met with silence; a message without a return channel does not crash
 * it; close resolves and is idempotent; a send after close rejects or answers an Error;
 * a `ret` it wraps to forward a message carries the original's `abandoned` signal; a message
 * it forwards keeps its `caller`; and, for
 * the `streams` given, an endless answer stops once nobody listens any more.
 *
 * @example
 * // vitest
 * for (const t of complianceTests({ service: debug })) it(t.name, t.run)
 */
export function complianceTests (options: ComplianceOptions): ComplianceTest[] {
  const { service } = options
  const timeout = options.timeout ?? 2000
  const messages = options.messages ?? VERBS.map((verb) => ({ verb, args: [] }))
  const label = `${typeof service?.name === 'string' ? service.name : 'service'}:`

  const forwardListeners = new Set<(message: Message) => void>()
  const downstream = options.next ?? createServer({
    default: () => { throw new SwarmError(ErrorCode.NotImplemented, 'end of the compliance chain') }
  })
  const next: Sender = {
    send: async (message, sendOptions) => {
      for (const listener of forwardListeners) listener(message)
      await downstream.send(message, sendOptions)
    },
    close: async (error) => { await downstream.close(error) }
  }
  const children: ServiceInstance[] = []
  const context: ServiceContext = {
    next,
    log: silentLogger,
    spawn: options.spawn ?? (async () => {
      const child = createServer({ default: () => { throw new SwarmError(ErrorCode.NotImplemented, 'compliance child') } })
      children.push(child)
      return child
    })
  }

  const spawn = async (): Promise<ServiceInstance> => {
    const instance = await withTimeout(Promise.resolve(service.spawn([...(options.args ?? [])], context)), timeout, 'spawn did not resolve')
    if (!isSender(instance)) throw new Error(`${label} spawn must return an instance with send() and close(), got ${describe(instance)}`)
    return instance
  }
  const closeQuietly = async (instance: ServiceInstance): Promise<void> => {
    await withTimeout(instance.close(), timeout, 'close did not resolve').catch(() => {})
    for (const child of children.splice(0)) await child.close().catch(() => {})
  }

  /** Sends `verb args` with a watched return channel, whose receiver can be made to leave. */
  const sendWatched = async (instance: Sender, verb: Verb, args: string[], caller?: Caller): Promise<Watched> => {
    let settle!: (outcome: string) => void
    const outcome = new Promise<string>((resolve) => { settle = resolve })
    const receiver = new AbortController()
    const ret: Sender = {
      send: async (reply) => { settle(`reply ${reply.verb}`) },
      close: async (error) => { settle(error === undefined ? 'ret closed' : `ret closed with ${error.message}`) },
      abandoned: receiver.signal
    }
    const message: Message = caller === undefined ? { verb, args, ret } : { verb, args, ret, caller }
    let forwarded: Message | undefined
    // Messages are sent one at a time, so whatever reaches next meanwhile is this one, possibly rewritten.
    const onForward = (seen: Message): void => { forwarded ??= seen; settle('forwarded') }
    forwardListeners.add(onForward)
    void outcome.then(() => forwardListeners.delete(onForward))
    try {
      await withTimeout(instance.send(message), timeout, `send(${verb}) did not resolve`)
    } catch (error) {
      forwardListeners.delete(onForward)
      throw error
    }
    return { outcome, ret, forwarded: () => forwarded, abandon: () => { receiver.abort(new SwarmError(ErrorCode.ChannelClosed, 'the compliance receiver left')) } }
  }

  const tests: ComplianceTest[] = [
    {
      name: 'has a valid name and a one-line usage that starts with it',
      run: async () => {
        if (typeof service !== 'object' || service === null) throw new Error(`the service must be an object, got ${describe(service)}`)
        if (typeof service.name !== 'string' || !NAME.test(service.name)) throw new Error(`invalid service name ${JSON.stringify(service.name)}: use lowercase letters, digits, '.', '_' and '-'`)
        if (typeof service.usage !== 'string' || service.usage.trim() === '') throw new Error(`${label} usage must be a non-empty string`)
        if (service.usage.includes('\n')) throw new Error(`${label} usage must be one line, got ${JSON.stringify(service.usage)}`)
        if (service.usage.split(/\s/)[0] !== service.name) throw new Error(`${label} usage must start with the service name, got ${JSON.stringify(service.usage)}`)
        if (typeof service.spawn !== 'function') throw new Error(`${label} spawn must be a function`)
      }
    },
    {
      name: 'spawn returns an instance with send and close',
      run: async () => { await closeQuietly(await spawn()) }
    },
    {
      name: 'answers or forwards every verb sent with a return channel, never silence',
      run: async () => {
        const instance = await spawn()
        try {
          const silent: string[] = []
          for (const { verb, args = [] } of messages) {
            const { outcome } = await sendWatched(instance, verb, args)
            const result = await withTimeout(outcome, timeout, 'silence').catch(() => undefined)
            if (result === undefined) silent.push(verb)
          }
          if (silent.length > 0) {
            throw new Error(`${label} no reply, no close of ret and no forward to next within ${timeout} ms for: ${silent.join(', ')}`)
          }
        } finally {
          await closeQuietly(instance)
        }
      }
    },
    {
      name: 'survives messages without a return channel',
      run: async () => {
        const instance = await spawn()
        const unhandled: unknown[] = []
        const onUnhandled = (reason: unknown): void => { unhandled.push(reason) }
        process.on('unhandledRejection', onUnhandled)
        try {
          for (const { verb, args = [] } of messages) {
            await withTimeout(instance.send({ verb, args }), timeout, `send(${verb}) without ret did not resolve`)
          }
          // Give fire-and-forget handlers a moment to fail, then check the instance still takes messages.
          await new Promise((resolve) => setTimeout(resolve, 20))
          const probe = probeMessage(messages)
          const ret: Sender = { send: async () => {}, close: async () => {} }
          await withTimeout(instance.send({ verb: probe.verb, args: probe.args ?? [], ret }), timeout, `send(${probe.verb}) after messages without ret did not resolve`)
          if (unhandled.length > 0) throw new Error(`${label} unhandled rejection after a message without ret: ${describe(unhandled[0])}`)
        } finally {
          process.off('unhandledRejection', onUnhandled)
          await closeQuietly(instance)
        }
      }
    },
    {
      name: 'close resolves and is idempotent',
      run: async () => {
        const instance = await spawn()
        await withTimeout(instance.close(), timeout, 'close did not resolve')
        await withTimeout(instance.close(), timeout, 'a second close did not resolve')
        await closeQuietly(instance)
      }
    },
    {
      name: 'rejects or answers an Error to a send after close',
      run: async () => {
        const instance = await spawn()
        await closeQuietly(instance)
        let forwardedAfterClose = false
        const onForward = (): void => { forwardedAfterClose = true }
        forwardListeners.add(onForward)
        const probe = probeMessage(messages)
        let settle!: (outcome: string) => void
        const outcome = new Promise<string>((resolve) => { settle = resolve })
        const ret: Sender = {
          send: async (reply) => { settle(reply.verb === 'Error' ? 'error' : `reply ${reply.verb}`) },
          close: async (error) => { settle(error === undefined ? 'closed without an error' : 'error') }
        }
        const message: Message = { verb: probe.verb, args: probe.args ?? [], ret }
        try {
          try {
            await withTimeout(instance.send(message), timeout, 'send after close did not settle')
          } catch (error) {
            if (error instanceof Error && error.message.startsWith('timed out:')) throw new Error(`${label} ${error.message}`)
            return
          }
          const result = await withTimeout(outcome, timeout, 'silence').catch(() => 'silence')
          if (forwardedAfterClose) throw new Error(`${label} a closed instance forwarded ${probe.verb} to next; it must reject or answer an Error`)
          if (result !== 'error') throw new Error(`${label} a send after close must reject or answer an Error, got ${result}`)
        } finally {
          forwardListeners.delete(onForward)
        }
      }
    },
    {
      name: 'forwards the abandoned signal of a return channel it wraps',
      run: async () => {
        const instance = await spawn()
        try {
          const deaf: string[] = []
          for (const { verb, args = [] } of messages) {
            const watched = await sendWatched(instance, verb, args)
            await withTimeout(watched.outcome, timeout, 'silence').catch(() => undefined)
            const wrapped = watched.forwarded()?.ret
            // a message forwarded with the very same ret, or with none, has nothing to forward
            if (wrapped === undefined || wrapped === watched.ret) continue
            if (wrapped.abandoned?.aborted === true) throw new Error(`${label} the ret it forwarded with ${verb} was abandoned before its receiver left`)
            watched.abandon()
            if (!await abandonedWithin(wrapped, timeout)) deaf.push(verb)
          }
          if (deaf.length > 0) {
            throw new Error(`${label} wraps ret to forward ${deaf.join(', ')} but its abandoned signal did not abort within ${timeout} ms of the original's: forward it (\`get abandoned () { return ret.abandoned }\`)`)
          }
        } finally {
          await closeQuietly(instance)
        }
      }
    },
    {
      name: 'keeps the caller of a message it forwards',
      run: async () => {
        const instance = await spawn()
        try {
          const lost: string[] = []
          for (const { verb, args = [] } of messages) {
            const watched = await sendWatched(instance, verb, args, COMPLIANCE_CALLER)
            await withTimeout(watched.outcome, timeout, 'silence').catch(() => undefined)
            const forwarded = watched.forwarded()
            if (forwarded !== undefined && !sameCaller(forwarded.caller, COMPLIANCE_CALLER)) lost.push(`${verb} (forwarded with ${describe(forwarded.caller ?? null)})`)
          }
          if (lost.length > 0) {
            throw new Error(`${label} forwarded ${lost.join(', ')} instead of the caller it received, ${describe(COMPLIANCE_CALLER)}: pass \`caller: message.caller\` on`)
          }
        } finally {
          await closeQuietly(instance)
        }
      }
    }
  ]
  if ((options.streams ?? []).length > 0) {
    tests.push({
      name: 'stops an endless answer once nobody listens any more',
      run: async () => {
        const instance = await spawn()
        try {
          for (const { verb, args = [] } of options.streams ?? []) await checkStopsWhenAbandoned(instance, verb, args)
        } finally {
          await closeQuietly(instance)
        }
      }
    })
  }
  return tests

  /**
   * Sends one streaming message, waits for the first reply, then leaves: within the timeout
   * the service must end the reply's attachment, or, if it has none, close ret.
   */
  async function checkStopsWhenAbandoned (instance: Sender, verb: Verb, args: string[]): Promise<void> {
    const receiver = new AbortController()
    let first!: (reply: Message) => void
    const firstReply = new Promise<Message>((resolve) => { first = resolve })
    let closed!: () => void
    const closedRet = new Promise<'closed'>((resolve) => { closed = () => { resolve('closed') } })
    const ret: Sender = {
      send: async (reply) => { first(reply) },
      close: async () => { closed() },
      abandoned: receiver.signal
    }
    await withTimeout(instance.send({ verb, args, ret }), timeout, `send(${verb}) did not resolve`)
    const reply = await withTimeout(Promise.race([firstReply, closedRet]), timeout, `a first reply to ${verb}`)
      .catch(() => { throw new Error(`${label} no reply to ${verb} within ${timeout} ms: it is listed in streams`) })
    if (reply === 'closed') throw new Error(`${label} closed ret before any reply to ${verb}: it is listed in streams`)
    if (reply.verb === 'Error') throw new Error(`${label} answered ${verb} with Error ${describe(reply.args)}: it is listed in streams`)
    receiver.abort(new SwarmError(ErrorCode.ChannelClosed, 'the compliance receiver left'))
    // an answer in an attachment stops when the attachment ends (ret may be closed right after the reply); replies stop with ret's close
    const attachment = reply.stream?.[Symbol.asyncIterator]()
    const reading = new AbortController()
    const stop = attachment === undefined ? closedRet : drain(attachment, reading.signal)
    const stopped = await withTimeout(stop, timeout, 'stop').catch(() => undefined)
    reading.abort()
    if (stopped === undefined) {
      await attachment?.return?.().catch(() => {})
      throw new Error(`${label} went on answering ${verb} after its receiver left (ret.abandoned aborted): within ${timeout} ms ${attachment === undefined ? 'it did not close ret' : 'the reply\'s attachment did not end'}`)
    }
  }
}

/** The caller the compliance tests send with: every field set. */
const COMPLIANCE_CALLER: Caller = {
  listener: 'compliance',
  uid: 4242,
  gid: 4343,
  pid: 4444,
  certificate: { subject: 'CN=compliance,O=libswarm', sans: ['DNS:compliance.example', 'IP:127.0.0.1'], fingerprint256: 'AB:CD:EF' },
  address: '127.0.0.1:4545'
}

/** The same caller, field by field (a forward may copy it). */
function sameCaller (a: Caller | undefined, b: Caller): boolean {
  const fields = (c: Caller): string => JSON.stringify([c.listener, c.uid, c.gid, c.pid, c.address, c.certificate?.subject, c.certificate?.sans, c.certificate?.fingerprint256])
  return a !== undefined && fields(a) === fields(b)
}

/** Whether `ret.abandoned` aborts within `ms`. */
async function abandonedWithin (ret: Sender, ms: number): Promise<boolean> {
  const signal = ret.abandoned
  if (signal === undefined) return false
  if (signal.aborted) return true
  let onAbort: (() => void) | undefined
  try {
    return await withTimeout(new Promise<boolean>((resolve) => {
      onAbort = () => { resolve(true) }
      signal.addEventListener('abort', onAbort, { once: true })
    }), ms, 'abandoned').catch(() => false)
  } finally {
    if (onAbort !== undefined) signal.removeEventListener('abort', onAbort)
  }
}

/** Reads an attachment until it ends or fails (what it held before does not count), or until `signal` aborts. */
async function drain (attachment: AsyncIterator<Uint8Array>, signal: AbortSignal): Promise<'ended'> {
  try {
    while (!signal.aborted && (await attachment.next()).done !== true) {}
  } catch {}
  return 'ended'
}

function probeMessage (messages: ReadonlyArray<{ verb: Verb, args?: string[] }>): { verb: Verb, args?: string[] } {
  return messages.find((candidate) => candidate.verb === 'Ls') ?? messages[0] ?? { verb: 'Ls' }
}

function describe (value: unknown): string {
  if (value instanceof Error) return `${value.name}: ${value.message}`
  try {
    return JSON.stringify(value) ?? String(value)
  } catch {
    return String(value)
  }
}

async function withTimeout<T> (promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_resolve, reject) => { timer = setTimeout(() => { reject(new Error(`timed out: ${what} within ${ms} ms`)) }, ms) })
    ])
  } finally {
    clearTimeout(timer)
  }
}
