import type { Sender } from '@libswarm/core'

/** One host a provisioning service serves: its name, its engine's address, its engine. */
export interface ServedHost {
  readonly name: string
  /** Where its engine is, as aggregate shows a node's address (`IP`, `IP:PORT`). */
  readonly address: string
  /** Its engine: a Sender speaking the Docker messages. */
  readonly engine: Sender
}

/** A host added to or removed from a {@link HostSource}. */
export interface ServedHostChange {
  change: 'added' | 'removed'
  host: ServedHost
}

/**
 * What `createProvisioningService` serves: a set of hosts that may change. A started
 * `HostSet` is one; a service that finds its hosts elsewhere (a fixed list, another
 * system's registry of engines) gives its own.
 */
export interface HostSource {
  /** The provider (`aws`, `orchard`): first in every error message, and the service in the aggregate hint. */
  readonly name: string
  /** The set, in error messages: `swarm web`, `Shipyard http://shipyard:8080`. */
  readonly description: string
  /** Said after UNAVAILABLE when there is no host (`--dry-run launches none`). */
  readonly emptyNote?: string | undefined
  /** The hosts whose engines answer, by name. */
  readonly hosts: ReadonlyMap<string, ServedHost>
  /** Listens to hosts added and removed; returns the function that stops listening. */
  subscribe: (listener: (change: ServedHostChange) => void) => () => void
  /** What `Get provision` answers (as JSON); without it `Get provision` is a Docker message like any other. */
  describe?: () => unknown
  /** Lets go of the hosts: what closing the service does last. */
  close: () => Promise<void>
}
