import { ErrorCode, type AbortOptions } from '@libswarm/core'
import { HOST_TAGS, type CloudHost, type CloudHostState, type HostProvider, type LaunchRequest } from '@libswarm/provision'
import { OpenStackError } from './errors.js'
import type { ComputeClient, NamedResource, NovaServer } from './nova.js'

/** What every server of the swarm is launched with. */
export interface ServerTemplate {
  region: string | undefined
  image: NamedResource
  flavor: NamedResource
  keyName?: string | undefined
  networks?: readonly string[] | undefined
}

/** Nova's server statuses in the host set's terms. */
export function hostState (status: string): CloudHostState {
  switch (status) {
    case 'ACTIVE': return 'running'
    case 'BUILD': case 'REBUILD': case 'REBOOT': case 'HARD_REBOOT': case 'PASSWORD': case 'RESIZE': case 'VERIFY_RESIZE': case 'REVERT_RESIZE': case 'MIGRATING': return 'pending'
    case 'ERROR': return 'failed'
    case 'DELETED': case 'SOFT_DELETED': return 'gone'
    default: return 'stopped' // SHUTOFF, SUSPENDED, PAUSED, SHELVED, SHELVED_OFFLOADED, RESCUE, UNKNOWN
  }
}

function toHost (server: NovaServer): CloudHost {
  return { id: server.id, name: server.name, state: hostState(server.status), address: server.address, tags: server.metadata }
}

/**
 * The host set's cloud on Nova: the swarm's servers are those whose metadata names it (Nova
 * filters servers by name, not by metadata, for non-admin users, so every page of
 * `/servers/detail` is read and filtered here); a launch is `POST /servers` with the host
 * set's tags as metadata and its user data; the waiter polls until ACTIVE or ERROR.
 */
export function novaHostProvider (compute: ComputeClient, template: ServerTemplate, options: { pollIntervalMs?: number } = {}): HostProvider {
  return {
    name: 'rackspace',
    list: async (swarm: string, opts: AbortOptions = {}) => {
      const servers = await compute.listServers(opts)
      return servers.filter((server) => server.metadata[HOST_TAGS.swarm] === swarm).map(toHost).filter((host) => host.state !== 'gone')
    },
    launch: async (request: LaunchRequest, opts: AbortOptions = {}) => {
      const name = serverName(request)
      const id = await compute.createServer({
        name,
        imageRef: template.image.id,
        flavorRef: template.flavor.id,
        keyName: template.keyName,
        userData: request.userData,
        metadata: request.tags,
        networks: template.networks
      }, opts)
      return { id, name, state: 'pending', tags: request.tags }
    },
    waitRunning: async (id: string, opts: AbortOptions & { timeoutMs: number }) =>
      toHost(await compute.waitActive(id, { timeoutMs: opts.timeoutMs, intervalMs: options.pollIntervalMs, signal: opts.signal })),
    terminate: async (ids: readonly string[], opts: AbortOptions = {}) => {
      const results = await Promise.allSettled(ids.map(async (id) => { await compute.deleteServer(id, opts) }))
      const failed = results.filter((result): result is PromiseRejectedResult => result.status === 'rejected')
      if (failed.length > 0) throw new OpenStackError(ErrorCode.Unavailable, `rackspace: ${failed.length} of ${ids.length} servers not deleted: ${String(failed[0]?.reason?.message ?? failed[0]?.reason)}`)
    },
    checkLaunch: async (request: LaunchRequest, opts: AbortOptions = {}) => {
      // Nova has no dry run: what it would refuse at once is the key pair and the instances quota
      if (template.keyName !== undefined) await compute.findKeyPair(template.keyName, opts)
      const limits = await compute.absoluteLimits(opts)
      const max = limits['maxTotalInstances']
      const used = limits['totalInstancesUsed']
      if (typeof max === 'number' && max >= 0 && typeof used === 'number' && used >= max) {
        throw new OpenStackError(ErrorCode.Forbidden, `rackspace: the instances quota is used up (${used} of ${max}): ${serverName(request)} could not be launched`)
      }
    },
    describeLaunch: () => `Nova server, image "${template.image.name}" (${template.image.id}), flavor "${template.flavor.name}" (${template.flavor.id}), region ${template.region ?? '(the only one)'}${template.keyName === undefined ? '' : `, key ${template.keyName}`}`
  }
}

/** `SWARM-h-<hex>`: the swarm and the certificate name's own part, so a server says what it is in Nova's lists. */
function serverName (request: LaunchRequest): string {
  const tlsName = request.tags[HOST_TAGS.tlsName] ?? ''
  return `${request.tags[HOST_TAGS.swarm] ?? 'libswarm'}-${tlsName.split('.')[0] ?? 'host'}`
}
