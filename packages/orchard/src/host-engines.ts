import { ErrorCode, SwarmError, abandonedSignal, createServer, type Message, type Sender, type ServiceInstance } from '@libswarm/core'
import { isDockerRequest } from '@libswarm/docker-api'

/** One Orchard host and its engine. */
export interface HostEngine {
  readonly name: string
  /** `IP:4243`, as aggregate shows a node's address. */
  readonly address: string
  readonly engine: ServiceInstance
}

/**
 * Serves a fixed set of hosts by the provisioning contract (core README, "Provisioning
 * services"): `Ls` lists them, `Watch` reports each as added and then holds until either side
 * closes (the set does not change while the service runs), `Attach NAME` hands out one engine,
 * and a Docker message goes to the only host (BAD_REQUEST with several: use aggregate).
 * Closing it closes the engines, then runs `onClose` (removing created hosts).
 */
export function serveHostEngines (hosts: readonly HostEngine[], onClose: () => Promise<void>): ServiceInstance {
  const byName = new Map(hosts.map((host) => [host.name, host]))
  const watchers = new Set<Sender>()
  const forward = async (message: Message): Promise<undefined> => {
    if (hosts.length > 1) throw new SwarmError(ErrorCode.BadRequest, `orchard: ${hosts.length} hosts (${[...byName.keys()].join(', ')}); put them under aggregate to use them as one engine ('aggregate "@libswarm/orchard ... ${[...byName.keys()].join(' ')}"')`)
    await (hosts[0] as HostEngine).engine.send(message)
    return undefined
  }
  return createServer({
    Ls: async (message) => isDockerRequest(message) ? await forward(message) : { verb: 'Ack', args: [...byName.keys()] },
    Attach: async (message) => {
      if (isDockerRequest(message)) return await forward(message)
      const host = byName.get(message.args[0] ?? '')
      if (host === undefined) throw new SwarmError(ErrorCode.NotFound, `orchard: no host ${JSON.stringify(message.args[0] ?? '')} here (${[...byName.keys()].join(', ')})`)
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
      const signal = abandonedSignal(ret)
      const stop = (): void => {
        watchers.delete(ret)
        void ret.close().catch(() => {})
      }
      signal.addEventListener('abort', stop, { once: true })
      try {
        for (const host of hosts) await ret.send({ verb: 'Ack', args: ['added', host.name, host.address] })
      } catch {
        stop()
      }
      return undefined
    },
    default: forward
  }, {
    onClose: async () => {
      await Promise.allSettled([...watchers].map(async (ret) => { await ret.close() }))
      await Promise.allSettled(hosts.map(async (host) => { await host.engine.close() }))
      await onClose()
    }
  })
}
