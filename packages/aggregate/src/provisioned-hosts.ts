import { pipe, request, toSwarmError, type Logger, type Sender } from '@libswarm/core'

/** How the aggregate adds and drops nodes: the narrow interface the follower needs. */
export interface NodeRoster<Node> {
  /** Adds a node for a host's engine; `live` once the aggregate runs (the node is started then). */
  add: (name: string, engine: Sender, addr: string, live: boolean) => Node
  /** Drops a node whose host the provisioner lost, and closes it. */
  remove: (node: Node) => void
}

/**
 * Asks a child whether it is a provisioning service (core README, "Provisioning services"):
 * one answers `Ls` without arguments with its hosts' names. A Docker engine answers an
 * Error (an `Ls` without a Docker operation is no Docker request): `undefined` then, as for
 * a child that does not answer within `timeoutMs`.
 */
export async function provisionedHostNames (child: Sender, timeoutMs: number): Promise<string[] | undefined> {
  try {
    const reply = await request(child, 'Ls', [], { signal: AbortSignal.timeout(timeoutMs) })
    return reply.verb === 'Ack' ? [...reply.args] : undefined
  } catch {
    return undefined
  }
}

/**
 * Follows a provisioning child: each of its hosts becomes a node (named by the host's name),
 * and hosts it adds or loses later (its `Watch`) are added or dropped.
 */
export class ProvisionedHosts<Node> {
  private readonly known = new Map<string, Node | undefined>()
  private readonly watching = new AbortController()
  private following: Promise<void> | undefined
  private live = false
  private closed = false

  constructor (readonly child: Sender, private readonly roster: NodeRoster<Node>, private readonly log: Logger) {}

  /** Adds a node for each of `names` (what `Ls` answered), then follows the child's `Watch`. */
  async start (names: readonly string[]): Promise<void> {
    await Promise.all(names.map(async (name) => { await this.attach(name) }))
    this.live = true
    this.following = this.follow()
  }

  private async attach (name: string, address?: string): Promise<void> {
    if (this.known.has(name) || this.closed) return
    this.known.set(name, undefined)
    try {
      const reply = await request(this.child, 'Attach', [name], { signal: AbortSignal.timeout(10_000) })
      if (reply.ret === undefined) throw new Error('Attach answered without the host\'s engine')
      if (this.closed) {
        await reply.ret.close()
        return
      }
      this.known.set(name, this.roster.add(name, reply.ret, reply.args[1] ?? address ?? name, this.live))
    } catch (error) {
      this.known.delete(name)
      this.log.warn('cannot attach a provisioned host', { host: name, error: toSwarmError(error).message })
    }
  }

  private async follow (): Promise<void> {
    const [replies, ret] = pipe({ highWaterMark: 64 })
    const signal = this.watching.signal
    try {
      // closing `replies` abandons `ret`: the provisioner stops sending
      signal.addEventListener('abort', () => { void replies.close().catch(() => {}) }, { once: true })
      await this.child.send({ verb: 'Watch', args: [], ret })
      while (!this.closed) {
        const reply = await replies.receive({ signal })
        if (reply === undefined) break
        if (reply.verb !== 'Ack') {
          this.log.warn('the provisioner\'s Watch answered an error', { error: reply.args.join(': ') })
          break
        }
        const [change, name, address] = reply.args
        if (name === undefined) continue
        if (change === 'added') await this.attach(name, address)
        else if (change === 'removed' && this.known.has(name)) {
          const node = this.known.get(name)
          this.known.delete(name)
          this.log.info('provisioned host removed', { host: name })
          if (node !== undefined) this.roster.remove(node)
        }
      }
    } catch (error) {
      if (!this.closed) this.log.warn('stopped following the provisioner', { error: toSwarmError(error).message })
    } finally {
      await replies.close().catch(() => {})
    }
  }

  /** Stops following and closes the provisioning child (which decides what happens to its hosts). */
  async close (): Promise<void> {
    if (this.closed) return
    this.closed = true
    this.watching.abort()
    await this.following?.catch(() => {})
    await this.child.close().catch(() => {})
  }
}
