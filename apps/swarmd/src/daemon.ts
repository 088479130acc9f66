import { endOfChain, spawnChain, silentLogger, type Chain, type ChainLink, type Logger, type Message, type Sender, type Service, type ServiceResolver } from '@libswarm/core'

/** Options of {@link startSwarmd}. */
export interface SwarmdOptions {
  /** The chain, front first: spec strings or parsed links. */
  links: ReadonlyArray<ChainLink | string>
  resolve: ServiceResolver
  log?: Logger
  /** What the last service forwards to. Default core's end of chain. */
  tail?: Sender
}

/** How a shutdown went. */
export interface ShutdownResult {
  /** False when the timeout ran out before in-flight requests finished or services closed. */
  readonly clean: boolean
  /** Requests still unanswered when the shutdown gave up. */
  readonly inFlight: number
}

/** A running swarmd chain. */
export interface Swarmd extends AsyncDisposable {
  readonly chain: Chain
  /** Requests that passed the front service and whose replies are not finished yet. */
  readonly inFlight: number
  /**
   * Stops the front service (it stops accepting), waits for the requests it let in to
   * finish, then closes the rest of the chain; gives up after `timeout` milliseconds.
   */
  shutdown (timeout?: number): Promise<ShutdownResult>
}

/**
 * Counts the messages passing a sender whose return channel is not closed yet. It
 * counts only once enabled: swarmd enables the one behind the front service.
 */
class InFlightTracker implements Sender {
  enabled = false
  count = 0
  private idleWaiters: Array<() => void> = []

  constructor (readonly target: Sender) {}

  async send (message: Message, options?: { signal?: AbortSignal | undefined }): Promise<void> {
    if (!this.enabled || message.ret === undefined) {
      await this.target.send(message, options)
      return
    }
    const ret = message.ret
    let done = false
    const finish = (): void => {
      if (done) return
      done = true
      if (--this.count === 0) for (const resolve of this.idleWaiters.splice(0)) resolve()
    }
    this.count++
    try {
      await this.target.send({ ...message, ret: { send: async (reply, replyOptions) => { await ret.send(reply, replyOptions) }, close: async (error) => { finish(); await ret.close(error) }, get abandoned () { return ret.abandoned } } }, options)
    } catch (error) {
      finish()
      throw error
    }
  }

  async close (error?: Error): Promise<void> { await this.target.close(error) }

  async idle (): Promise<void> {
    if (this.count === 0) return
    await new Promise<void>((resolve) => { this.idleWaiters.push(resolve) })
  }
}

/**
 * Spawns a chain as swarmd does, with core's `spawnChain`, and tracks the requests in
 * flight behind the front service so that a shutdown can let them finish.
 */
export async function startSwarmd (options: SwarmdOptions): Promise<Swarmd> {
  const log = options.log ?? silentLogger
  const trackers = new Map<Sender, InFlightTracker>()
  const tracked = (service: Service): Service => ({
    name: service.name,
    usage: service.usage,
    spawn: async (args, context) => {
      const tracker = new InFlightTracker(context.next)
      trackers.set(context.next, tracker)
      return await service.spawn(args, { ...context, next: tracker })
    }
  })
  // A tail of our own, so the front's next is told apart from the end of a child's chain.
  const tail: Sender = options.tail ?? { send: async (message, sendOptions) => { await endOfChain.send(message, sendOptions) }, close: async () => {} }
  const chain = await spawnChain(options.links, { resolve: async (name) => tracked(await options.resolve(name)), log, tail })
  const front = chain.instances[0]
  const frontTracker = trackers.get(chain.instances[1] ?? tail)
  if (frontTracker !== undefined) frontTracker.enabled = true

  let shuttingDown: Promise<ShutdownResult> | undefined
  const shutdown = async (timeout = 10_000): Promise<ShutdownResult> => {
    shuttingDown ??= (async () => {
      const deadline = Date.now() + timeout
      let clean = await within(deadline, async () => { await front?.close() })
      if (!clean) log.warn('the front service did not close in time')
      const inFlight = frontTracker?.count ?? 0
      if (inFlight > 0) log.info('waiting for requests in flight', { inFlight })
      if (!await within(deadline, async () => { await frontTracker?.idle() })) {
        clean = false
        log.warn('requests still in flight at the shutdown timeout', { inFlight: frontTracker?.count ?? 0 })
      }
      const left = frontTracker?.count ?? 0
      if (!await within(Math.max(deadline, Date.now() + 1000), async () => { await chain.close() })) {
        clean = false
        log.warn('services did not close in time')
      }
      return { clean, inFlight: left }
    })()
    return await shuttingDown
  }

  return {
    chain,
    get inFlight () { return frontTracker?.count ?? 0 },
    shutdown,
    [Symbol.asyncDispose]: async () => { await shutdown() }
  }
}

async function within (deadline: number, work: () => Promise<void>): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined
  try {
    return await Promise.race([
      work().then(() => true, () => true),
      new Promise<boolean>((resolve) => { timer = setTimeout(() => { resolve(false) }, Math.max(0, deadline - Date.now())) })
    ])
  } finally {
    clearTimeout(timer)
  }
}
