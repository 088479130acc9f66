import { randomBytes } from 'node:crypto'
import { dockerUserData } from './cloud-init.js'
import { HOST_TAGS, type LaunchRequest } from './host-provider.js'
import { openStateDirectory, type StateDirectory } from './state-directory.js'

/** One launch request and the name its server certificate was issued for. */
export interface PreparedLaunch {
  tlsName: string
  request: LaunchRequest
}

/** What {@link prepareLaunches} needs of a host set's options. */
export interface LaunchOptions {
  swarm: string
  count: number
  dryRun: boolean
  enginePort: number
  tags: Record<string, string>
  stateDir: string
}

/**
 * A host set's launch requests, made ahead: the state directory is opened and a server
 * certificate issued for each of the `count` hosts (the user data that carries it written)
 * from the moment this is made, so that the work overlaps the cloud's first answers
 * (authentication, lookups, the listing of the swarm) instead of following them.
 */
export class PreparedLaunches {
  /** The state directory, once opened. */
  readonly state: Promise<StateDirectory>
  private readonly ready: Array<Promise<PreparedLaunch>> = []

  constructor (private readonly options: LaunchOptions) {
    this.state = openStateDirectory(options.stateDir)
    this.state.catch(() => {})
    if (options.dryRun) return
    for (let index = 0; index < options.count; index++) {
      const prepared = this.make()
      prepared.catch(() => {})
      this.ready.push(prepared)
    }
  }

  /** A launch request: one made ahead, else a new one. */
  async next (): Promise<PreparedLaunch> {
    return await (this.ready.shift() ?? this.make())
  }

  /** The launch request of a host whose certificate is for `tlsName`. */
  async request (tlsName: string): Promise<LaunchRequest> {
    const state = await this.state
    const server = await state.issueServerCertificate(tlsName)
    return {
      tags: { ...this.options.tags, [HOST_TAGS.swarm]: this.options.swarm, [HOST_TAGS.launchedBy]: 'libswarm', [HOST_TAGS.tlsName]: tlsName },
      userData: dockerUserData({ caCert: state.caCert, serverCert: server.cert, serverKey: server.key, port: this.options.enginePort })
    }
  }

  private async make (): Promise<PreparedLaunch> {
    const tlsName = `h-${randomBytes(6).toString('hex')}.${dnsLabel(this.options.swarm)}.libswarm`
    return { tlsName, request: await this.request(tlsName) }
  }
}

/**
 * Starts preparing a host set's launches now: what a provisioner calls first in its `spawn`,
 * before it authenticates and looks up images, and hands to {@link startProvisioningService}.
 *
 * @example
 * const launches = prepareLaunches(hostSet)
 * const provider = await myCloudProvider(values) // authenticates meanwhile
 * return await startProvisioningService(provider, hostSet, context.log, launches)
 */
export function prepareLaunches (options: LaunchOptions): PreparedLaunches {
  return new PreparedLaunches(options)
}

/** A swarm name as one DNS label. */
function dnsLabel (text: string): string {
  const label = text.toLowerCase().replace(/[^a-z0-9-]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 40)
  return label === '' ? 'swarm' : label
}
