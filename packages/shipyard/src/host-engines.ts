import { ErrorCode, SwarmError, abandonedSignal, createServer, type Message, type Sender, type ServiceInstance } from '@libswarm/core'
import { isDockerRequest } from '@libswarm/docker-api'

/** One engine of the set, by name. */
export interface HostEngine {
  readonly name: string
  /** `host:port`, as aggregate shows a node's address. */
  readonly address: string
  readonly engine: ServiceInstance
}

/** A set of engines that may change: what {@link serveHostEngines} serves. */
export interface EngineSet {
  readonly hosts: ReadonlyMap<string, HostEngine>
  /** Hears each engine added or removed; returns the unsubscribe function. */
  subscribe: (listener: (change: 'added' | 'removed', host: HostEngine) => void) => () => void
  close: () => Promise<void>
}

/**
 * Serves a set of engines by the provisioning contract (core README, "Provisioning
 * services"): `Ls` lists them, `Watch` reports each as added, then every change until either
 * side closes, `Attach NAME` hands out one engine, and a Docker message goes to the only
 * engine (UNAVAILABLE with none, BAD_REQUEST with several: use aggregate). Closing it closes
 * the set.
 */
export function serveHostEngines (provider: string, set: EngineSet): ServiceInstance {
  const watchers = new Set<Sender>()
  const forward = async (message: Message): Promise<undefined> => {
    const hosts = [...set.hosts.values()]
    if (hosts.length === 0) throw new SwarmError(ErrorCode.Unavailable, `${provider}: no engine answers`)
    if (hosts.length > 1) throw new SwarmError(ErrorCode.BadRequest, `${provider}: ${hosts.length} engines (${[...set.hosts.keys()].join(', ')}); put them under aggregate to use them as one engine ('aggregate "@libswarm/${provider} ..."')`)
    await (hosts[0] as HostEngine).engine.send(message)
    return undefined
  }
  return createServer({
    Ls: async (message) => isDockerRequest(message) ? await forward(message) : { verb: 'Ack', args: [...set.hosts.keys()] },
    Attach: async (message) => {
      if (isDockerRequest(message)) return await forward(message)
      const host = set.hosts.get(message.args[0] ?? '')
      if (host === undefined) throw new SwarmError(ErrorCode.NotFound, `${provider}: no engine ${JSON.stringify(message.args[0] ?? '')} here (${[...set.hosts.keys()].join(', ')})`)
      let closed = false
      const attachment: Sender = {
        send: async (inner, options) => {
          if (closed) throw new SwarmError(ErrorCode.ChannelClosed, `the attachment to ${host.name} is closed`)
          await host.engine.send(inner, options)
        },
        close: async () => { closed = true }
      }
      return { verb: 'Ack', args: [host.name, host.address], ret: attachment }
    },
    Watch: async (message) => {
      if (isDockerRequest(message)) return await forward(message)
      const ret = message.ret
      if (ret === undefined) return undefined
      watchers.add(ret)
      // replies go out in order, each after the one before was taken
      let queue = Promise.resolve()
      const tell = (change: 'added' | 'removed', host: HostEngine): void => {
        queue = queue.then(async () => {
          if (!watchers.has(ret)) return
          try {
            await ret.send({ verb: 'Ack', args: [change, host.name, host.address] })
          } catch {
            stop()
          }
        })
      }
      const unsubscribe = set.subscribe(tell)
      const signal = abandonedSignal(ret)
      const stop = (): void => {
        unsubscribe()
        signal.removeEventListener('abort', stop)
        if (watchers.delete(ret)) void ret.close().catch(() => {})
      }
      signal.addEventListener('abort', stop, { once: true })
      for (const host of set.hosts.values()) tell('added', host)
      return undefined
    },
    default: forward
  }, {
    onClose: async () => {
      await Promise.allSettled([...watchers].map(async (ret) => { await ret.close() }))
      watchers.clear()
      await set.close()
    }
  })
}
