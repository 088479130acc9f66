import { ErrorCode, SwarmError, isSwarmError, request, type ServiceInstance } from '@libswarm/core'
import type { StateDirectory } from './state-directory.js'
import { knownHostsFile } from './host-keys.js'

/** Where a host's engine is and the name its certificate was issued for. */
export interface HostEngineAddress {
  /** The host's IP address (or DNS name). */
  address: string
  /** The engine's TLS port. Default 2376. */
  port?: number
  /** The name in the host's server certificate, or its host key's name in known_hosts (checked instead of the address). */
  tlsName: string
  /** Reach the engine over ssh as this user instead of mutual TLS. */
  ssh?: HostSsh | undefined
}

/** How hosts are reached over ssh. */
export interface HostSsh {
  /** The user to log in as (the image's: `ubuntu`, `ec2-user`, `root`...). */
  user: string
  /** The private key to log in with; default ssh's own (agent, `~/.ssh/id_*`, `~/.ssh/config`). */
  keyFile?: string | undefined
  /** sshd's port on the hosts. */
  port: number
}

/**
 * `@libswarm/dockerclient` (with dockerode and its modem) takes 0.05-0.2 s to load: loaded at a
 * host's first ping, which comes after the cloud's first calls, not before swarmd's first one.
 */
let dockerClientModule: Promise<typeof import('@libswarm/dockerclient')> | undefined

/**
 * A `dockerclient` for a provisioned host's engine over mutual TLS: it presents the state
 * directory's client certificate and accepts only a server certificate signed by its CA
 * for `tlsName`. With `ssh`, over ssh instead: `ssh://USER@ADDRESS:PORT`, the host key
 * checked against the state directory's known_hosts entry for `tlsName`. The client is made at
 * the first message sent (an error making it, such as an unreadable certificate file, is that
 * message's UNAVAILABLE).
 */
export function connectHostEngine (host: HostEngineAddress, state: StateDirectory): ServiceInstance {
  const address = host.address.includes(':') ? `[${host.address}]` : host.address
  const ssh = host.ssh
  const clientOptions = ssh !== undefined
    ? {
        address: `ssh://${ssh.user}@${address}:${ssh.port}`,
        sshKey: ssh.keyFile,
        sshKnownHosts: knownHostsFile(state.dir),
        // the host proves the key made for it, whatever its address: no other key is accepted or learnt
        sshOptions: [`HostKeyAlias=${host.tlsName}`, 'StrictHostKeyChecking=yes', 'CheckHostIP=no'],
        env: {}
      }
    : {
        address: `tcp://${address}:${host.port ?? 2376}`,
        tlsVerify: true,
        tlsCaCert: state.caCertFile,
        tlsCert: state.clientCertFile,
        tlsKey: state.clientKeyFile,
        tlsServerName: host.tlsName,
        env: {}
      }
  let client: ServiceInstance | undefined
  let making: Promise<ServiceInstance> | undefined
  let closed = false
  const make = async (): Promise<ServiceInstance> => {
    if (closed) throw new SwarmError(ErrorCode.ChannelClosed, `the engine client of ${address} is closed`)
    making ??= (dockerClientModule ??= import('@libswarm/dockerclient')).then((module) => {
      client = module.createDockerClient(clientOptions)
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
  /** How the engine is reached, for the message: `TLS` (default) or `ssh`. */
  over?: string | undefined
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
      const attempt = AbortSignal.timeout(Math.min(left, 5000))
      const signal = options.signal === undefined ? attempt : AbortSignal.any([options.signal, attempt])
      await request(engine, 'Get', ['SystemPing', '', '{}'], { signal })
      return
    } catch (error) {
      options.signal?.throwIfAborted()
      // a last attempt cut short by the deadline says less than the failure before it (a refused key, a changed host key)
      if (last === undefined || Date.now() < deadline - 50) last = error
      if (isSwarmError(error) && error.code !== ErrorCode.Unavailable && error.code !== ErrorCode.Aborted && error.code !== ErrorCode.Timeout) return
    }
    await new Promise((resolve) => setTimeout(resolve, Math.min(options.intervalMs ?? 100, Math.max(0, deadline - Date.now()))))
  }
  const reason = last instanceof Error ? last.message : String(last)
  throw new SwarmError(ErrorCode.Timeout, `${what}: its engine did not answer over ${options.over ?? 'TLS'} within ${Math.round(options.timeoutMs / 1000)} s (last: ${reason})`)
}
