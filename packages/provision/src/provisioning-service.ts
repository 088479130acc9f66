import { ErrorCode, SwarmError, abandonedSignal, createServer, type Logger, type Message, type Sender, type ServiceInstance } from '@libswarm/core'
import { isDockerRequest } from '@libswarm/docker-api'
import { HostSet, type HostChange, type HostProvider, type HostSetOptions, type ReadyHost } from './host-set.js'

/**
 * A provisioning service over a started {@link HostSet}, speaking the provisioning contract
 * (core README, "Provisioning services"):
 *
 * - `Ls` (no arguments): `Ack [NAME...]`, the hosts whose engines answer;
 * - `Watch` (no arguments): `Ack [added, NAME, ADDRESS]` for each host now, then one
 *   `Ack [added|removed, NAME, ADDRESS]` per change, until either side closes;
 * - `Attach NAME`: `Ack [NAME, ADDRESS]` whose `ret` is the host's engine (a Sender speaking
 *   the Docker messages); closing it lets go of the attachment, not of the host;
 * - `Get provision`: `Ack [JSON]` with the swarm, its hosts and the `--dry-run` plan;
 * - a Docker request: forwarded to the one host's engine (UNAVAILABLE without a host;
 *   BAD_REQUEST with several, which belong under `aggregate`).
 *
 * Closing the service closes the host set (terminating hosts only with `--terminate-on-stop`).
 */
export function createProvisioningService (hostSet: HostSet): ServiceInstance {
  const watchers = new Set<Sender>()
  const forward = async (message: Message): Promise<undefined> => {
    const hosts = [...hostSet.hosts.values()]
    if (hosts.length === 0) throw new SwarmError(ErrorCode.Unavailable, `${hostSet.provider.name}: no host of swarm ${hostSet.options.swarm} is up${hostSet.options.dryRun ? ' (--dry-run launches none)' : ''}`)
    if (hosts.length > 1) throw new SwarmError(ErrorCode.BadRequest, `${hostSet.provider.name}: swarm ${hostSet.options.swarm} has ${hosts.length} hosts; put it under aggregate to use them as one engine ('aggregate "${hostSet.provider.name} ..."')`)
    await (hosts[0] as ReadyHost).engine.send(message)
    return undefined
  }
  return createServer({
    Ls: async (message) => isDockerRequest(message) ? await forward(message) : { verb: 'Ack', args: [...hostSet.hosts.keys()] },
    Attach: async (message) => {
      if (isDockerRequest(message)) return await forward(message)
      const name = message.args[0] ?? ''
      const host = hostSet.hosts.get(name)
      if (host === undefined) throw new SwarmError(ErrorCode.NotFound, `${hostSet.provider.name}: no host ${JSON.stringify(name)} in swarm ${hostSet.options.swarm}`)
      return { verb: 'Ack', args: [host.name, host.address], ret: attachment(host.engine) }
    },
    Get: async (message) => {
      if (isDockerRequest(message) || message.args[0] !== 'provision') return await forward(message)
      return {
        verb: 'Ack',
        args: [JSON.stringify({
          provider: hostSet.provider.name,
          swarm: hostSet.options.swarm,
          count: hostSet.options.count,
          launched: hostSet.launched,
          hosts: [...hostSet.hosts.values()].map((host) => ({ name: host.name, id: host.id, address: host.address, launched: host.launched })),
          plan: hostSet.plan ?? null
        })]
      }
    },
    Watch: async (message) => {
      if (isDockerRequest(message)) return await forward(message)
      const ret = message.ret
      if (ret === undefined) return undefined
      watch(hostSet, ret, watchers)
      return undefined
    },
    default: forward
  }, {
    onClose: async () => {
      await Promise.allSettled([...watchers].map(async (ret) => { await ret.close() }))
      await hostSet.close()
    }
  })
}

function watch (hostSet: HostSet, ret: Sender, watchers: Set<Sender>): void {
  watchers.add(ret)
  let queue = Promise.resolve()
  let done = false
  const stop = (): void => {
    if (done) return
    done = true
    unsubscribe()
    watchers.delete(ret)
    signal.removeEventListener('abort', stop)
  }
  // replies go out in order, each after the one before was taken
  const send = (change: HostChange): void => {
    queue = queue.then(async () => {
      if (done) return
      try {
        await ret.send({ verb: 'Ack', args: [change.change, change.host.name, change.host.address] })
      } catch {
        stop()
      }
    })
  }
  const unsubscribe = hostSet.subscribe(send)
  const signal = abandonedSignal(ret)
  signal.addEventListener('abort', stop, { once: true })
  for (const host of hostSet.hosts.values()) send({ change: 'added', host })
}

/** A host's engine as an attachment: closing it lets go of the attachment, the engine stays. */
function attachment (engine: Sender): Sender {
  let closed = false
  return {
    send: async (message, options) => {
      if (closed) throw new SwarmError(ErrorCode.ChannelClosed, 'the attachment to this host is closed')
      await engine.send(message, options)
    },
    close: async () => { closed = true }
  }
}

/**
 * Starts a host set for `provider` and serves it as a provisioning service: what a provisioner
 * package's `spawn` returns. A failed start has terminated what it launched and throws.
 *
 * @example
 * spawn: async (args, context) => {
 *   const { hostSet, values } = parseProvisionArgs('mycloud', args, MY_OPTIONS, MY_USAGE)
 *   return await startProvisioningService(myProvider(values), hostSet, context.log)
 * }
 */
export async function startProvisioningService (provider: HostProvider, options: HostSetOptions, log?: Logger): Promise<ServiceInstance> {
  const hostSet = new HostSet(provider, options, log)
  try {
    await hostSet.start()
  } catch (error) {
    await hostSet.close()
    throw error
  }
  return createProvisioningService(hostSet)
}
