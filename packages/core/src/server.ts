import { ErrorCode, SwarmError, isSwarmError, toSwarmError } from './errors.js'
import type { Message, Sender } from './message.js'
import { ACCEPTED } from './message.js'
import type { Verb } from './verbs.js'

/**
 * Handles one message. Returning a message sends it on `message.ret` and closes `ret`;
 * throwing sends an Error and closes `ret`; returning nothing leaves `ret` to the
 * handler, which is how a service forwards a message down the chain or streams replies.
 */
export type MessageHandler = (message: Message) => Promise<Message | undefined | void> | Message | undefined | void

/** A handler per verb, and `default` for every verb without one. */
export type VerbHandlers = Partial<Record<Verb, MessageHandler>> & { default?: MessageHandler }

/** Options of {@link createServer}. */
export interface ServerOptions {
  /** Runs once when the server is closed. */
  onClose?: (error?: Error) => Promise<void> | void
}

/** The Error message for an error: `Error [code, message]`. */
export function errorMessage (error: unknown): Message {
  const swarmError = toSwarmError(error)
  return { verb: 'Error', args: [swarmError.code, swarmError.message] }
}

/** The typed error an Error message carries. */
export function errorFromMessage (message: Message): SwarmError {
  const [code, text] = message.args
  return new SwarmError(code ?? ErrorCode.Internal, text ?? 'unknown error')
}

/** Sends `reply` on `ret` (if any) and closes it; errors from a closed `ret` are dropped: nobody is waiting. */
export async function replyAndClose (ret: Sender | undefined, reply: Message): Promise<void> {
  if (ret === undefined) return
  try {
    await ret.send(reply)
  } catch {}
  try {
    await ret.close()
  } catch {}
}

/**
 * A service's receiving end from a handler per verb. A verb without a handler (and no
 * `default`) gets `Error [NOT_IMPLEMENTED, ...]`.
 *
 * @example
 * const service = createServer({ Ls: () => message('Ack', ['a', 'b']) })
 */
export function createServer (handlers: VerbHandlers, options: ServerOptions = {}): Sender {
  let closed = false
  const dispatch = async (message: Message): Promise<void> => {
    const handler = handlers[message.verb] ?? handlers.default
    if (handler === undefined) {
      await replyAndClose(message.ret, errorMessage(new SwarmError(ErrorCode.NotImplemented, `verb ${message.verb} is not implemented`)))
      return
    }
    let reply: Message | undefined | void
    try {
      reply = await handler(message)
    } catch (error) {
      await replyAndClose(message.ret, errorMessage(isSwarmError(error) ? error : toSwarmError(error)))
      return
    }
    if (reply !== undefined) await replyAndClose(message.ret, reply)
  }
  return {
    send: (message) => {
      if (closed) return Promise.reject(new SwarmError(ErrorCode.ChannelClosed, 'service is closed'))
      void dispatch(message)
      return ACCEPTED
    },
    close: async (error) => {
      if (closed) return
      closed = true
      await options.onClose?.(error)
    }
  }
}
