import { ErrorCode, SwarmError, isSwarmError, request, type ServiceInstance } from '@libswarm/core'
import type { StateDirectory } from './state-directory.js'

/** Where a host's engine is and the name its certificate was issued for. */
export interface HostEngineAddress {
  /** The host's IP address (or DNS name). */
  address: string
  /** The engine's TLS port. Default 2376. */
  port?: number
  /** The name in the host's server certificate (checked instead of the address). */
  tlsName: string
}

/**
 * `@libswarm/dockerclient` (with dockerode and its modem) takes 0.05-0.2 s to load: loaded at a
 * host's first ping, which comes after the cloud's first calls, not before swarmd's first one.
 */
let dockerClientModule: Promise<typeof import('@libswarm/dockerclient')> | undefined

/**
 * A `dockerclient` for a provisioned host's engine over mutual TLS: it presents the state
 * directory's client certificate and accepts only a server certificate signed by its CA
 * for `tlsName`. The client is made at the first message sent (an error making it, such as an
 * unreadable certificate file, is that message's UNAVAILABLE).
 */
export function connectHostEngine (host: HostEngineAddress, state: StateDirectory): ServiceInstance {
  const address = host.address.includes(':') ? `[${host.address}]` : host.address
  let client: ServiceInstance | undefined
  let making: Promise<ServiceInstance> | undefined
  let closed = false
  const make = async (): Promise<ServiceInstance> => {
    if (closed) throw new SwarmError(ErrorCode.ChannelClosed, `the engine client of ${address} is closed`)
    making ??= (dockerClientModule ??= import('@libswarm/dockerclient')).then((module) => {
      client = module.createDockerClient({
        address: `tcp://${address}:${host.port ?? 2376}`,
        tlsVerify: true,
        tlsCaCert: state.caCertFile,
        tlsCert: state.clientCertFile,
        tlsKey: state.clientKeyFile,
        tlsServerName: host.tlsName,
        env: {}
      })
      return client
    }, (error: unknown) => { throw new SwarmError(ErrorCode.Unavailable, `cannot load @libswarm/dockerclient: ${(error as Error).message}`, { cause: error }) })
    try {
      return await making
    } catch (error) {
      // made here, not by the engine: never an answer that tells the engine is up
      throw isSwarmError(error) && error.code === ErrorCode.Unavailable ? error : new SwarmError(ErrorCode.Unavailable, `cannot make the engine client of ${address}: ${(error as Error).message}`, { cause: error })
    }
  }
  return {
    send: async (message, options) => { await (client ?? await make()).send(message, options) },
    close: async (error) => {
      closed = true
      const made = await making?.catch(() => undefined)
      await made?.close(error)
    }
  }
}

/** Options of {@link waitForEngine}. */
export interface WaitForEngineOptions {
  /** Give up after this long. */
  timeoutMs: number
  /** Between pings. Default 100 ms: a refused connection costs little, and each interval is idle time once the engine is up. */
  intervalMs?: number
  signal?: AbortSignal | undefined
}

/**
 * Pings an engine until it answers (a booting host's engine is not up yet), and fails with
 * TIMEOUT, naming the last error (a refused certificate shows there), when it does not
 * within the timeout. An engine that answers with an HTTP error is up: that passes.
 */
export async function waitForEngine (engine: ServiceInstance, what: string, options: WaitForEngineOptions): Promise<void> {
  const deadline = Date.now() + options.timeoutMs
  let last: unknown
  while (true) {
    options.signal?.throwIfAborted()
    const left = deadline - Date.now()
    if (left <= 0) break
    try {
      const signal = options.signal === undefined ? AbortSignal.timeout(Math.min(left, 5000)) : AbortSignal.any([options.signal, AbortSignal.timeout(Math.min(left, 5000))])
      await request(engine, 'Get', ['SystemPing', '', '{}'], { signal })
      return
    } catch (error) {
      options.signal?.throwIfAborted()
      last = error
      if (isSwarmError(error) && error.code !== ErrorCode.Unavailable && error.code !== ErrorCode.Aborted && error.code !== ErrorCode.Timeout) return
    }
    await new Promise((resolve) => setTimeout(resolve, Math.min(options.intervalMs ?? 100, Math.max(0, deadline - Date.now()))))
  }
  const reason = last instanceof Error ? last.message : String(last)
  throw new SwarmError(ErrorCode.Timeout, `${what}: its engine did not answer over TLS within ${Math.round(options.timeoutMs / 1000)} s (last: ${reason})`)
}
