import { ErrorCode, SwarmError, isSwarmError, request, type ServiceInstance } from '@libswarm/core'
import { createDockerClient } from '@libswarm/dockerclient'
import type { StateDirectory } from './state-directory.js'
import type { HostSsh } from './host-set.js'
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

/**
 * A `dockerclient` for a provisioned host's engine over mutual TLS: it presents the state
 * directory's client certificate and accepts only a server certificate signed by its CA
 * for `tlsName`. With `ssh`, over ssh instead: `ssh://USER@ADDRESS:PORT`, the host key
 * checked against the state directory's known_hosts entry for `tlsName`.
 */
export function connectHostEngine (host: HostEngineAddress, state: StateDirectory): ServiceInstance {
  const address = host.address.includes(':') ? `[${host.address}]` : host.address
  if (host.ssh !== undefined) {
    return createDockerClient({
      address: `ssh://${host.ssh.user}@${address}:${host.ssh.port}`,
      sshKey: host.ssh.keyFile,
      sshKnownHosts: knownHostsFile(state.dir),
      // the host proves the key made for it, whatever its address: no other key is accepted or learnt
      sshOptions: [`HostKeyAlias=${host.tlsName}`, 'StrictHostKeyChecking=yes', 'CheckHostIP=no'],
      env: {}
    })
  }
  return createDockerClient({
    address: `tcp://${address}:${host.port ?? 2376}`,
    tlsVerify: true,
    tlsCaCert: state.caCertFile,
    tlsCert: state.clientCertFile,
    tlsKey: state.clientKeyFile,
    tlsServerName: host.tlsName,
    env: {}
  })
}

/** Options of {@link waitForEngine}. */
export interface WaitForEngineOptions {
  /** Give up after this long. */
  timeoutMs: number
  /** Between pings. Default 200 ms. */
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
    await new Promise((resolve) => setTimeout(resolve, Math.min(options.intervalMs ?? 200, Math.max(0, deadline - Date.now()))))
  }
  const reason = last instanceof Error ? last.message : String(last)
  throw new SwarmError(ErrorCode.Timeout, `${what}: its engine did not answer over ${options.over ?? 'TLS'} within ${Math.round(options.timeoutMs / 1000)} s (last: ${reason})`)
}
