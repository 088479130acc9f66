import { ErrorCode, SwarmError, defineService } from '@libswarm/core'
import type { Caller, Logger, Message, Sender, Service, ServiceInstance } from '@libswarm/core'

/** Options of the debug service. */
export interface DebugOptions {
  /** Arguments longer than this are cut in the log, with an ellipsis. Default 120. */
  maxArgLength?: number
}

const USAGE = 'debug [--max-arg-length N]'
const DEFAULT_MAX_ARG_LENGTH = 120

/** Parses `debug`'s arguments. */
export function parseDebugArgs (args: readonly string[]): Required<DebugOptions> {
  let maxArgLength = DEFAULT_MAX_ARG_LENGTH
  for (let index = 0; index < args.length; index++) {
    const arg = args[index] as string
    const [flag, inline] = arg.startsWith('--') && arg.includes('=') ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)] : [arg, undefined]
    if (flag !== '--max-arg-length') throw new SwarmError(ErrorCode.InvalidArguments, `debug: unexpected argument ${JSON.stringify(arg)}; usage: ${USAGE}`)
    const value = inline ?? args[++index]
    if (value === undefined || !/^\d+$/.test(value) || Number(value) < 1) {
      throw new SwarmError(ErrorCode.InvalidArguments, `debug: --max-arg-length needs a positive integer, got ${JSON.stringify(value ?? '')}`)
    }
    maxArgLength = Number(value)
  }
  return { maxArgLength }
}

function cut (args: readonly string[], max: number): string[] {
  return args.map((arg) => arg.length > max ? `${arg.slice(0, max)}…(${arg.length} chars)` : arg)
}

/**
 * The debug instance: logs every message and reply and forwards them unchanged.
 * Replies are observed through a wrapper around `ret` that forwards every reply, and
 * the close (with or without an error), to the original return channel.
 */
export function createDebug (next: Sender, log: Logger, options: DebugOptions = {}): ServiceInstance {
  const max = options.maxArgLength ?? DEFAULT_MAX_ARG_LENGTH
  let counter = 0
  let closed = false
  return {
    send: async (message, sendOptions) => {
      if (closed) throw new SwarmError(ErrorCode.ChannelClosed, 'debug is closed')
      const id = ++counter
      log.info(`in ${message.verb}`, {
        dir: 'in', id, verb: message.verb, args: cut(message.args, max), stream: message.stream !== undefined, ret: message.ret !== undefined,
        ...(message.caller === undefined ? {} : { caller: describeCaller(message.caller) })
      })
      const ret = message.ret === undefined ? undefined : observeReplies(message.ret, id, log, max)
      await next.send(ret === undefined ? message : { ...message, ret }, sendOptions)
    },
    close: async () => { closed = true }
  }
}

/** One short word for a caller: its listener, then its uid, certificate subject or address. */
function describeCaller (caller: Caller): string {
  const parts = [caller.listener ?? '-']
  if (caller.uid !== undefined) parts.push(`uid=${caller.uid}`)
  if (caller.certificate !== undefined) parts.push(caller.certificate.subject)
  else if (caller.address !== undefined) parts.push(caller.address)
  return parts.join(' ')
}

function observeReplies (ret: Sender, id: number, log: Logger, max: number): Sender {
  const started = performance.now()
  let replies = 0
  const elapsed = (): number => Math.round((performance.now() - started) * 1000) / 1000
  return {
    send: async (reply: Message, options) => {
      replies++
      log.info(`out ${reply.verb}`, {
        dir: 'out',
        id,
        verb: reply.verb,
        args: cut(reply.args, max),
        stream: reply.stream !== undefined,
        ret: reply.ret !== undefined,
        ...(replies === 1 ? { firstReplyMs: elapsed() } : { reply: replies })
      })
      await ret.send(reply, options)
    },
    close: async (error) => {
      if (error === undefined) log.debug('replies closed', { dir: 'out', id, replies, ms: elapsed() })
      else log.info('replies closed with an error', { dir: 'out', id, replies, ms: elapsed(), error: error.message })
      await ret.close(error)
    },
    get abandoned () { return ret.abandoned }
  }
}

/**
 * `debug [--max-arg-length N]`: logs each message passing through (direction, verb,
 * arguments cut to N characters, whether it carries a stream, time to first reply and
 * the reply's verb) at info level, and forwards it unchanged to the next service.
 *
 * @example
 * swarmd 'dockerserver unix:///tmp/swarm.sock' debug 'dockerclient unix:///var/run/docker.sock'
 */
export const debug: Service = defineService({
  name: 'debug',
  usage: USAGE,
  spawn: (args, context) => createDebug(context.next, context.log, parseDebugArgs(args))
})
