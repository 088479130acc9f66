import type { Message, Receiver, Sender } from './message.js'
import { pipe } from './pipe.js'
import type { ServiceInstance } from './service.js'

/** What a task's body is given. */
export interface TaskContext {
  /** Messages sent to the task. */
  readonly input: Receiver
  /** Where the task sends its output (the rest of the chain). */
  readonly output: Sender
  /** Aborted when the task is closed. */
  readonly signal: AbortSignal
}

/**
 * A service that runs between the chain's input and output as one async function,
 * reading messages in order: the shape for a service that transforms a flow rather
 * than answering requests.
 *
 * @example
 * const upper = createTask(output, async ({ input, output }) => {
 *   for await (const m of input) await output.send({ ...m, args: m.args.map((a) => a.toUpperCase()) })
 * })
 */
export function createTask (output: Sender, body: (context: TaskContext) => Promise<void>, options: { highWaterMark?: number } = {}): ServiceInstance {
  const [input, inputSender] = pipe({ highWaterMark: options.highWaterMark })
  const controller = new AbortController()
  const running = body({ input, output, signal: controller.signal }).catch(async (error: Error) => {
    await input.close(error)
  })
  return {
    send: async (message: Message, sendOptions) => { await inputSender.send(message, sendOptions) },
    close: async (error) => {
      await inputSender.close(error)
      controller.abort(error)
      await running
    }
  }
}
