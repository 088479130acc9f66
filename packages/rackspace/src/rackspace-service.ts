import { defineService, type Logger, type Service, type ServiceInstance } from '@libswarm/core'
import { PROVISION_USAGE, parseProvisionArgs, startProvisioningService, type HostSetOptions, type ProviderOptions } from '@libswarm/provision'
import { resolveCloud, type ResolvedCloud } from './cloud-config.js'
import { invalidArguments } from './errors.js'
import { ComputeClient } from './nova.js'
import type { HttpPolicy } from './openstack-http.js'
import { novaHostProvider, type ServerTemplate } from './rackspace-provider.js'

/** The usage line swarmd lists. */
export const RACKSPACE_USAGE = `rackspace --flavor NAME|ID --image NAME|ID [--region R] [--key-name K] [--network UUID]... [--metadata K=V]... [--os-cloud NAME] [--identity-url URL] [--username U] [--api-key K | --password P] [--project NAME] [--project-id ID] [--user-domain NAME] [--project-domain NAME] [--poll-interval 2s] ${PROVISION_USAGE}`

const RACKSPACE_OPTIONS = {
  region: { type: 'string' },
  flavor: { type: 'string' },
  image: { type: 'string' },
  'key-name': { type: 'string' },
  network: { type: 'string', multiple: true },
  'os-cloud': { type: 'string' },
  'identity-url': { type: 'string' },
  username: { type: 'string' },
  'api-key': { type: 'string' },
  password: { type: 'string' },
  project: { type: 'string' },
  'project-id': { type: 'string' },
  'user-domain': { type: 'string' },
  'project-domain': { type: 'string' },
  'poll-interval': { type: 'string' }
} as const satisfies ProviderOptions

/** Parsed arguments of the rackspace service. */
export interface RackspaceOptions {
  cloud: ResolvedCloud
  flavor: string
  image: string
  keyName?: string | undefined
  networks: string[]
  /** Between two looks at a building server, ms. Default 2000. */
  pollIntervalMs: number
  hostSet: HostSetOptions
  http?: HttpPolicy | undefined
}

/**
 * Parses `rackspace`'s arguments: its own, the provisioners' common ones ({@link PROVISION_USAGE};
 * `--metadata K=V` is `--tag K=V`, Nova's word for it), and the credentials as OpenStack clients
 * find them (arguments over `OS_CLOUD`'s clouds.yaml entry, else over the `OS_*` variables).
 */
export function parseRackspaceArgs (args: readonly string[], env: Record<string, string | undefined> = process.env): RackspaceOptions {
  const renamed = args.map((arg) => arg === '--metadata' ? '--tag' : arg.startsWith('--metadata=') ? `--tag=${arg.slice('--metadata='.length)}` : arg)
  const { hostSet, values } = parseProvisionArgs('rackspace', renamed, RACKSPACE_OPTIONS, RACKSPACE_USAGE)
  const text = (name: keyof typeof RACKSPACE_OPTIONS): string | undefined => values[name] as string | undefined
  const flavor = text('flavor')
  const image = text('image')
  if (flavor === undefined || image === undefined) throw invalidArguments(`--flavor and --image are needed; usage: ${RACKSPACE_USAGE}`)
  if (text('api-key') !== undefined && text('password') !== undefined) throw invalidArguments('give --api-key or --password, not both')
  const cloud = resolveCloud({
    cloud: text('os-cloud'),
    region: text('region'),
    authUrl: text('identity-url'),
    username: text('username'),
    apiKey: text('api-key'),
    password: text('password'),
    projectName: text('project'),
    projectId: text('project-id'),
    userDomainName: text('user-domain'),
    projectDomainName: text('project-domain')
  }, env)
  const poll = text('poll-interval') ?? '2s'
  const match = /^(\d+(?:\.\d+)?)(ms|s)?$/.exec(poll)
  if (match === null) throw invalidArguments(`--poll-interval wants a duration such as 500ms or 2s, got ${JSON.stringify(poll)}`)
  return {
    cloud,
    flavor,
    image,
    keyName: text('key-name'),
    networks: (values['network'] as string[] | undefined) ?? [],
    pollIntervalMs: Number(match[1]) * (match[2] === 'ms' ? 1 : 1000),
    hostSet
  }
}

/**
 * Starts the rackspace service: authenticates (bad credentials fail here), finds the region's
 * compute endpoint, the image and the flavor (unknown ones fail here, before anything is
 * launched), then reconciles the swarm's servers with `--count` and serves them by the
 * provisioning contract: alone with one host it forwards every Docker message to that host's
 * engine; under `aggregate` each server is a node.
 */
export async function createRackspace (options: RackspaceOptions, log?: Logger, signal?: AbortSignal): Promise<ServiceInstance> {
  const compute = new ComputeClient({ credentials: options.cloud.credentials, region: options.cloud.region, interface: options.cloud.interface, http: options.http })
  const endpoint = await compute.connect({ signal })
  const [image, flavor] = await Promise.all([compute.findImage(options.image, { signal }), compute.findFlavor(options.flavor, { signal })])
  if (options.keyName !== undefined) await compute.findKeyPair(options.keyName, { signal })
  log?.info('rackspace: compute endpoint found', { endpoint, region: options.cloud.region ?? '', credentials: options.cloud.source, image: image.id, flavor: flavor.id })
  const template: ServerTemplate = { region: options.cloud.region, image, flavor, keyName: options.keyName, networks: options.networks }
  return await startProvisioningService(novaHostProvider(compute, template, { pollIntervalMs: options.pollIntervalMs }), options.hostSet, log)
}

/**
 * `rackspace --flavor F --image I [--region R] ...`: Docker hosts on Rackspace Cloud Servers or
 * any OpenStack cloud, as one engine (one host) or as nodes under `aggregate`.
 *
 * @example
 * swarmd 'dockerserver unix:///tmp/swarm.sock' 'aggregate "rackspace --region DFW --flavor general1-2 --image \"Ubuntu 24.04\" --count 3"'
 */
export const rackspace: Service = defineService({
  name: 'rackspace',
  usage: RACKSPACE_USAGE,
  spawn: async (args, context) => await createRackspace(parseRackspaceArgs(args), context.log)
})
