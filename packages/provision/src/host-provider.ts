import type { AbortOptions } from '@libswarm/core'

/** The tags (metadata) a provisioner puts on every host it launches: the cloud's tags are its state. */
export const HOST_TAGS = {
  /** The swarm the host belongs to: hosts are found again by it. */
  swarm: 'libswarm:swarm',
  /** Set only on hosts libswarm launched: the only hosts it ever terminates. */
  launchedBy: 'libswarm:launched-by',
  /**
   * The name the host proves: its server certificate's, or with ssh its host key's (the
   * `HostKeyAlias` its key is recorded under in the state directory's known_hosts).
   */
  tlsName: 'libswarm:tls-name'
} as const

/** A host's state in terms every cloud maps to. */
export type CloudHostState = 'pending' | 'running' | 'stopping' | 'stopped' | 'failed' | 'gone'

/** A host as the cloud lists it. */
export interface CloudHost {
  /** The cloud's id (instance id, server id). */
  id: string
  /** Its name (a `Name` tag, a server name), when it has one. */
  name?: string | undefined
  state: CloudHostState
  /** The address its engine is reached on (public, else private IP), once known. */
  address?: string | undefined
  /** Its tags or metadata. */
  tags: Readonly<Record<string, string>>
}

/** One host to launch. */
export interface LaunchRequest {
  /** Tags to put on the host at launch: {@link HOST_TAGS} and the user's `--tag`s. */
  tags: Record<string, string>
  /** The cloud-init user data (plain text; the provider encodes it as its API wants). */
  userData: string
}

/**
 * What a cloud gives the host set: list the swarm's hosts, launch one, wait for it, terminate.
 * Each call takes `{ signal }`; errors are SwarmErrors with a clear message (credentials,
 * unknown image or type, capacity), thrown at once rather than retried forever.
 */
export interface HostProvider {
  /** `aws`, `rackspace`: in messages and the default state directory. */
  readonly name: string
  /** The hosts tagged for `swarm`, in any state but gone. */
  list: (swarm: string, options?: AbortOptions) => Promise<CloudHost[]>
  /** Launches one host and returns it (usually pending). */
  launch: (request: LaunchRequest, options?: AbortOptions) => Promise<CloudHost>
  /**
   * Waits until the host runs and has an address (the cloud's waiter); fails when it stops, fails
   * or times out. Calls `onAddress` when it sees the host with an address before it runs, so that
   * its engine is pinged from then on.
   */
  waitRunning: (id: string, options: WaitRunningOptions) => Promise<CloudHost>
  terminate: (ids: readonly string[], options?: AbortOptions) => Promise<void>
  /** Asks the cloud whether the launch would be allowed, without launching (for `--dry-run`). */
  checkLaunch?: (request: LaunchRequest, options?: AbortOptions) => Promise<void>
  /** One line saying what a launch launches (image, type, region), for `--dry-run`. */
  describeLaunch: () => string
}

/** Options of {@link HostProvider.waitRunning}. */
export interface WaitRunningOptions extends AbortOptions {
  timeoutMs: number
  /** Told of the host as soon as it has an address, while still pending (optional for a provider to call). */
  onAddress?: ((host: CloudHost) => void) | undefined
}
