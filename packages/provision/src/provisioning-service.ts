import { ErrorCode, SwarmError, abandonedSignal, createServer, type Logger, type Message, type Sender, type ServiceInstance } from '@libswarm/core'
import { isDockerRequest } from '@libswarm/docker-api'
import { HostSet, type HostProvider, type HostSetOptions } from './host-set.js'
import type { HostSource, ServedHost, ServedHostChange } from './host-source.js'

/**
 * A provisioning service over a {@link HostSource} (a started {@link HostSet}, say), speaking
 * the provisioning contract (core README, "Provisioning services"):
 *
 * - `Ls` (no arguments): `Ack [NAME...]`, the hosts whose engines answer;
 * - `Watch` (no arguments): `Ack [added, NAME, ADDRESS]` for each host now, `Ack [synced]`,
 *   then one `Ack [added|removed, NAME, ADDRESS]` per change, until either side closes;
 * - `Attach NAME`: `Ack [NAME, ADDRESS]` whose `ret` is the host's engine (a Sender speaking
 *   the Docker messages); closing it lets go of the attachment, not of the host;
 * - `Get provision` (when the source can `describe` itself): `Ack [JSON]`, for a host set the
 *   swarm, its hosts and the `--dry-run` plan;
 * - a Docker request: forwarded to the one host's engine (UNAVAILABLE without a host;
 *   BAD_REQUEST with several, which belong under `aggregate`).
 *
 * Closing the service closes its watchers, then the source (a host set terminates its hosts
 * only with `--terminate-on-stop`).
 *
 * @example
 * // a fixed list of engines, closed with the service
 * createProvisioningService({
 *   name: 'mycloud',
 *   description: 'this chain',
 *   hosts: new Map([['alpha', { name: 'alpha', address: '10.0.0.1:2376', engine }]]),
 *   subscribe: () => () => {},
 *   close: async () => { await engine.close() }
 * })
 */
export function createProvisioningService (source: HostSource): ServiceInstance {
  const watchers = new Set<Sender>()
  const names = (): string => [...source.hosts.keys()].join(', ')
  const forward = async (message: Message): Promise<undefined> => {
    const hosts = [...source.hosts.values()]
    if (hosts.length === 0) throw new SwarmError(ErrorCode.Unavailable, `${source.name}: no host of ${source.description} is up${source.emptyNote === undefined ? '' : ` (${source.emptyNote})`}`)
    if (hosts.length > 1) throw new SwarmError(ErrorCode.BadRequest, `${source.name}: ${source.description} has ${hosts.length} hosts (${names()}); put it under aggregate to use them as one engine ('aggregate "${source.name} ..."')`)
    await (hosts[0] as ServedHost).engine.send(message)
    return undefined
  }
  return createServer({
    Ls: async (message) => isDockerRequest(message) ? await forward(message) : { verb: 'Ack', args: [...source.hosts.keys()] },
    Attach: async (message) => {
      if (isDockerRequest(message)) return await forward(message)
      const name = message.args[0] ?? ''
      const host = source.hosts.get(name)
      if (host === undefined) throw new SwarmError(ErrorCode.NotFound, `${source.name}: no host ${JSON.stringify(name)} in ${source.description} (${source.hosts.size === 0 ? 'it has none' : `its hosts: ${names()}`})`)
      return { verb: 'Ack', args: [host.name, host.address], ret: attachment(host) }
    },
    Get: async (message) => {
      if (isDockerRequest(message) || message.args[0] !== 'provision' || source.describe === undefined) return await forward(message)
      return { verb: 'Ack', args: [JSON.stringify(source.describe())] }
    },
    Watch: async (message) => {
      if (isDockerRequest(message)) return await forward(message)
      const ret = message.ret
      if (ret === undefined) return undefined
      watch(source, ret, watchers)
      return undefined
    },
    default: forward
  }, {
    onClose: async () => {
      await Promise.allSettled([...watchers].map(async (ret) => { await ret.close() }))
      await source.close()
    }
  })
}

function watch (source: HostSource, ret: Sender, watchers: Set<Sender>): void {
  watchers.add(ret)
  let queue = Promise.resolve()
  let done = false
  const stop = (): void => {
    if (done) return
    done = true
    unsubscribe()
    watchers.delete(ret)
    signal.removeEventListener('abort', stop)
    void ret.close().catch(() => {})
  }
  // replies go out in order, each after the one before was taken
  const send = (change: ServedHostChange): void => {
    queue = queue.then(async () => {
      if (done) return
      try {
        await ret.send({ verb: 'Ack', args: [change.change, change.host.name, change.host.address] })
      } catch {
        stop()
      }
    })
  }
  const unsubscribe = source.subscribe(send)
  const signal = abandonedSignal(ret)
  signal.addEventListener('abort', stop, { once: true })
  for (const host of source.hosts.values()) send({ change: 'added', host })
  // the list so far is complete: a watcher of a set without hosts hears that much at once
  queue = queue.then(async () => {
    if (done) return
    try {
      await ret.send({ verb: 'Ack', args: ['synced'] })
    } catch {
      stop()
    }
  })
}

/** A host's engine as an attachment: closing it lets go of the attachment, the engine stays. */
function attachment (host: ServedHost): Sender {
  let closed = false
  return {
    send: async (message, options) => {
      if (closed) throw new SwarmError(ErrorCode.ChannelClosed, `the attachment to host ${host.name} is closed`)
      await host.engine.send(message, options)
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
