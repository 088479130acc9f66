import { spawn as spawnProcess, type ChildProcessWithoutNullStreams } from 'node:child_process'
import { createInterface } from 'node:readline'
import { ErrorCode, SwarmError, connectStreams, defineService, toSwarmError } from '@libswarm/core'
import type { Logger, Message, Sender, Service, ServiceInstance, WireConnection } from '@libswarm/core'

/** Options of {@link spawnExec}. */
export interface ExecOptions {
  /** The program to run: a path, or a name looked up in PATH. */
  program: string
  args?: string[]
  /** Milliseconds between SIGTERM and SIGKILL when the service closes. Default 5000. */
  killTimeout?: number
  cwd?: string
  env?: NodeJS.ProcessEnv
}

const USAGE = 'exec PROGRAM [ARGS...]'

/**
 * Runs `program`, a libswarm service written in any language, with the wire on its
 * stdio: this end is the HTTP/2 client on the child's stdout/stdin and the child is the
 * server. Messages sent to the instance go to the child's root channel; messages the
 * child sends to its peer's root channel go to `next`; each line the child writes on
 * stderr goes to `log`. When the child exits, pending and later requests are answered
 * `Error [UNAVAILABLE]`; `close` ends the connection and stops the child, with SIGTERM
 * and then SIGKILL.
 */
export async function spawnExec (options: ExecOptions, context: { next: Sender, log: Logger }): Promise<ServiceInstance> {
  const { program } = options
  const log = context.log
  const child = spawnProcess(program, options.args ?? [], {
    stdio: ['pipe', 'pipe', 'pipe'],
    cwd: options.cwd,
    env: options.env
  }) as ChildProcessWithoutNullStreams
  await new Promise<void>((resolve, reject) => {
    child.once('spawn', resolve)
    child.once('error', (error: NodeJS.ErrnoException) => {
      const reason = error.code === 'ENOENT' ? 'no such program' : error.code === 'EACCES' ? 'permission denied' : error.message
      reject(new SwarmError(ErrorCode.InvalidArguments, `exec: cannot run ${program}: ${reason}`, { cause: error }))
    })
  })
  child.on('error', (error) => { log.warn('exec: child process error', { error: error.message }) })
  child.stdin.on('error', () => {})

  const pid = child.pid
  createInterface({ input: child.stderr, crlfDelay: Infinity }).on('line', (line) => {
    log.info(line, { stream: 'stderr', program, pid })
  })

  let exitReason: string | undefined
  const exited = new Promise<void>((resolve) => {
    child.once('exit', (code, signal) => {
      exitReason = signal === null ? `exited with code ${code ?? 'unknown'}` : `was killed by ${signal}`
      if (!closing) log.warn(`exec: ${program} ${exitReason}`, { pid })
      resolve()
      failPending()
    })
  })

  const connection: WireConnection = connectStreams(child.stdout, child.stdin, { role: 'client', service: context.next, log })
  void connection.closed.then((error) => {
    if (!closing && error !== undefined) log.warn('exec: wire connection ended', { error: error.message })
    failPending()
  })

  /** Return channels of requests still waiting for the child's replies. */
  const pending = new Set<PendingReply>()
  const unavailable = (): SwarmError => new SwarmError(ErrorCode.Unavailable, `exec: ${program} ${exitReason ?? 'is not connected'}`)
  function failPending (): void {
    for (const reply of [...pending]) reply.fail(unavailable())
  }

  /** A lost connection usually means the child is exiting: wait a little to say how it ended. */
  const explain = async (error: SwarmError): Promise<SwarmError> => {
    if (exitReason === undefined) {
      let timer: ReturnType<typeof setTimeout> | undefined
      await Promise.race([exited, new Promise((resolve) => { timer = setTimeout(resolve, 500) })])
      clearTimeout(timer)
    }
    return exitReason === undefined ? error : unavailable()
  }

  let closing = false
  let closed: Promise<void> | undefined
  const killTimeout = options.killTimeout ?? 5000
  const stop = async (): Promise<void> => {
    closing = true
    await connection.close().catch(() => {})
    if (exitReason === undefined) {
      child.kill('SIGTERM')
      const timer = setTimeout(() => {
        log.warn(`exec: ${program} did not stop on SIGTERM within ${killTimeout} ms: SIGKILL`, { pid })
        child.kill('SIGKILL')
      }, killTimeout)
      await exited
      clearTimeout(timer)
    }
    failPending()
  }

  return {
    send: async (message, sendOptions) => {
      if (closing) throw new SwarmError(ErrorCode.ChannelClosed, `exec ${program} is closed`)
      if (exitReason !== undefined) {
        await answerError(message.ret, unavailable())
        return
      }
      const ret = message.ret === undefined ? undefined : new PendingReply(message.ret, pending, explain)
      try {
        await connection.remote.send(ret === undefined ? message : { ...message, ret }, sendOptions)
      } catch (error) {
        ret?.settle()
        const swarmError = toSwarmError(error)
        if (swarmError.code === ErrorCode.ChannelClosed || swarmError.code === ErrorCode.Unavailable) {
          // A send held until the child's first answer fails when its pipes close: say how it ended.
          await answerError(message.ret, await explain(unavailable()))
          return
        }
        throw swarmError
      }
    },
    close: async () => {
      closed ??= stop()
      await closed
    }
  }
}

async function answerError (ret: Sender | undefined, error: SwarmError): Promise<void> {
  if (ret === undefined) return
  await ret.send({ verb: 'Error', args: [error.code, error.message] }).catch(() => {})
  await ret.close().catch(() => {})
}

/**
 * A request's return channel while the child owes it replies: passes replies through,
 * and turns a connection lost into `Error [UNAVAILABLE]` for the requester.
 */
class PendingReply implements Sender {
  private done = false

  constructor (private readonly ret: Sender, private readonly pending: Set<PendingReply>, private readonly explain: (error: SwarmError) => Promise<SwarmError>) {
    pending.add(this)
  }

  async send (reply: Message, options?: { signal?: AbortSignal | undefined }): Promise<void> {
    if (this.done) throw new SwarmError(ErrorCode.ChannelClosed, 'the request is finished')
    await this.ret.send(reply, options)
  }

  async close (error?: Error): Promise<void> {
    if (this.done) return
    if (error !== undefined && toSwarmError(error).code === ErrorCode.Unavailable) {
      this.settle()
      await answerError(this.ret, await this.explain(toSwarmError(error)))
      return
    }
    this.settle()
    await this.ret.close(error)
  }

  get abandoned (): AbortSignal | undefined { return this.ret.abandoned }

  settle (): void {
    this.done = true
    this.pending.delete(this)
  }

  fail (error: SwarmError): void {
    if (this.done) return
    this.settle()
    void answerError(this.ret, error)
  }
}

/** Splits `exec`'s arguments: the program, then its own arguments. */
function parseExecArgs (args: readonly string[]): ExecOptions {
  const [program, ...rest] = args
  if (program === undefined || program === '') throw new SwarmError(ErrorCode.InvalidArguments, `exec: missing PROGRAM; usage: ${USAGE}`)
  return { program, args: rest }
}

/**
 * `exec PROGRAM [ARGS...]`: a service written in any language, run as a child process
 * speaking the libswarm wire (PROTOCOL.md in @libswarm/core) on its stdin and stdout.
 *
 * @example
 * swarmd 'serve unix:///tmp/swarm.sock' 'exec python3 ./my_service.py --verbose' 'dockerclient'
 */
export const exec: Service = defineService({
  name: 'exec',
  usage: USAGE,
  spawn: async (args, context) => await spawnExec(parseExecArgs(args), context)
})
