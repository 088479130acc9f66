import { randomBytes } from 'node:crypto'
import { dockerUserData, sshDockerUserData } from './cloud-init.js'
import type { HostSsh } from './host-engine.js'
import { issueSshHostKey } from './host-keys.js'
import { HOST_TAGS, type LaunchRequest } from './host-provider.js'
import { openStateDirectory, type StateDirectory } from './state-directory.js'

/** One launch request and the name its server certificate (or ssh host key) was issued for. */
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
  ssh?: HostSsh | undefined
  tags: Record<string, string>
  stateDir: string
}

/**
 * A host set's launch requests, made ahead: the state directory is opened and a server
 * certificate (with `ssh`, an ssh host key) issued for each of the `count` hosts (the user data
 * that carries it written)
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

  /** The launch request of a host whose certificate (or ssh host key) is for `tlsName`; `dry-run` records no host key. */
  async request (tlsName: string): Promise<LaunchRequest> {
    const state = await this.state
    const tags = { ...this.options.tags, [HOST_TAGS.swarm]: this.options.swarm, [HOST_TAGS.launchedBy]: 'libswarm', [HOST_TAGS.tlsName]: tlsName }
    const ssh = this.options.ssh
    if (ssh !== undefined) {
      // a dry run asks the cloud only: no host key recorded for a host that will not exist
      const hostKey = tlsName === 'dry-run' ? DRY_RUN_HOST_KEY : await issueSshHostKey(state.dir, tlsName)
      return { tags, userData: sshDockerUserData({ hostKey, user: ssh.user }) }
    }
    const server = await state.issueServerCertificate(tlsName)
    return { tags, userData: dockerUserData({ caCert: state.caCert, serverCert: server.cert, serverKey: server.key, port: this.options.enginePort }) }
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

/** What a dry run's user data shows in place of a host key (nothing is launched with it). */
const DRY_RUN_HOST_KEY = { privateKey: '(made at launch)', publicKey: 'ssh-ed25519 (made-at-launch) dry-run' }

/** A swarm name as one DNS label. */
function dnsLabel (text: string): string {
  const label = text.toLowerCase().replace(/[^a-z0-9-]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 40)
  return label === '' ? 'swarm' : label
}
