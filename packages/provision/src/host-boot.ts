import { ErrorCode, SwarmError, isSwarmError, toSwarmError, type ServiceInstance } from '@libswarm/core'
import { waitForEngine } from './host-engine.js'
import type { CloudHost, HostProvider } from './host-provider.js'

/** Thrown when a host did not boot or its engine did not answer: what `--on-unreachable replace` replaces. */
export class HostBootError extends SwarmError {}

/** What {@link bootHost} needs besides the host. */
export interface BootHostOptions {
  provider: HostProvider
  /** A client for the host's engine at `address`, not yet used. */
  connect: (address: string) => ServiceInstance
  /** From now until the engine answers, the cloud's waiter included. */
  timeoutMs: number
  signal: AbortSignal
  /** How the engine is reached, for the messages: `TLS` (default) or `ssh`. */
  over?: string | undefined
}

/** A host whose engine answered, with the engine that answered. */
export interface BootedHost {
  host: CloudHost & { address: string }
  engine: ServiceInstance
}

/**
 * Waits until a host's engine answers (over TLS or ssh). Its engine is pinged at every address the host
 * shows, from the first one shown (EC2 answers RunInstances with the private address; Nova shows
 * one while the server builds), alongside the cloud's waiter: the host is up when an engine
 * answers, even before the waiter's next poll would say it runs. The waiter still decides a
 * failure (the host stopped, went to ERROR, did not run in time), and its address, when it
 * differs, is pinged too. Fails with a {@link HostBootError} when the host does not boot or its
 * engine does not answer in time.
 */
export async function bootHost (host: CloudHost, options: BootHostOptions): Promise<BootedHost> {
  const { provider } = options
  const deadline = Date.now() + options.timeoutMs
  const done = new AbortController()
  const signal = AbortSignal.any([options.signal, done.signal])
  const probes = new Map<string, { engine: ServiceInstance, answered: Promise<string> }>()
  let answer: ((address: string) => void) | undefined
  const firstAnswer = new Promise<string>((resolve) => { answer = resolve })
  const probe = (address: string | undefined): void => {
    if (address === undefined || address === '' || probes.has(address) || signal.aborted) return
    const engine = options.connect(address)
    const answered = waitForEngine(engine, `${provider.name} host ${host.id} (${address})`, { timeoutMs: Math.max(1000, deadline - Date.now()), signal, over: options.over }).then(() => address)
    answered.then((winner) => { answer?.(winner) }, () => {})
    probes.set(address, { engine, answered })
  }
  const finish = async (winner: string | undefined): Promise<void> => {
    done.abort(new SwarmError(ErrorCode.Aborted, `${provider.name}: host ${host.id} is up`))
    await Promise.allSettled([...probes].filter(([address]) => address !== winner).map(async ([, { engine }]) => { await engine.close() }))
  }
  try {
    probe(host.address)
    const cloud = host.state === 'running' && host.address !== undefined
      ? Promise.resolve(host)
      : provider.waitRunning(host.id, { timeoutMs: Math.max(1000, deadline - Date.now()), signal, onAddress: (seen) => { probe(seen.address) } })
    cloud.catch(() => {})
    const first = await Promise.race([cloud.then((running) => ({ running })), firstAnswer.then((address) => ({ address }))]).catch((error: unknown) => {
      options.signal.throwIfAborted()
      if (isSwarmError(error) && (error.code === ErrorCode.Timeout || error.code === ErrorCode.Unavailable)) throw new HostBootError(error.code, error.message, { cause: error })
      throw error
    })
    let address: string
    let running: CloudHost
    if ('address' in first) {
      // the engine answers: the host runs, whatever the waiter's last poll said
      address = first.address
      running = { ...host, state: 'running', address }
    } else {
      running = first.running
      if (running.address === undefined) throw new HostBootError(ErrorCode.Unavailable, `${provider.name}: host ${host.id} runs but has no address`)
      probe(running.address)
      const ping = probes.get(running.address)?.answered ?? firstAnswer
      address = await Promise.race([firstAnswer, ping]).catch((error: unknown) => {
        options.signal.throwIfAborted()
        throw new HostBootError(ErrorCode.Timeout, toSwarmError(error).message, { cause: error })
      })
    }
    await finish(address)
    options.signal.throwIfAborted()
    return { host: { ...running, address }, engine: (probes.get(address) as { engine: ServiceInstance }).engine }
  } catch (error) {
    await finish(undefined)
    throw error
  }
}
