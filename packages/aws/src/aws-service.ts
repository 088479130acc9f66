import { ErrorCode, SwarmError, defineService, type Logger, type Service, type ServiceInstance } from '@libswarm/core'
import { PROVISION_USAGE, parseProvisionArgs, startProvisioningService, type ProviderOptions } from '@libswarm/provision'
import { Ec2Provider, type Ec2Options } from './ec2-provider.js'

/** The usage line swarmd lists. */
export const AWS_USAGE = `aws [--region R] [--endpoint URL] [--profile P] (--ami ID | --ami-name PATTERN [--ami-owner O]...) [--instance-type t3.small] [--zone Z] [--key-name K] [--subnet S] [--security-group G]... [--spot] [--private-ip] [--poll-interval 5s] ${PROVISION_USAGE}`

const AWS_OPTIONS = {
  region: { type: 'string' },
  endpoint: { type: 'string' },
  profile: { type: 'string' },
  ami: { type: 'string' },
  'ami-name': { type: 'string' },
  'ami-owner': { type: 'string', multiple: true },
  'instance-type': { type: 'string' },
  zone: { type: 'string' },
  'key-name': { type: 'string' },
  subnet: { type: 'string' },
  'security-group': { type: 'string', multiple: true },
  spot: { type: 'boolean' },
  'private-ip': { type: 'boolean' },
  'poll-interval': { type: 'string' }
} as const satisfies ProviderOptions

/** Parses the service's arguments into EC2 options and the host set's. */
export function parseAwsArgs (args: readonly string[]): { ec2: Ec2Options, hostSet: ReturnType<typeof parseProvisionArgs>['hostSet'] } {
  const { hostSet, values } = parseProvisionArgs('aws', args, AWS_OPTIONS, AWS_USAGE)
  const text = (name: string): string | undefined => values[name] as string | undefined
  const poll = text('poll-interval')
  const ec2: Ec2Options = {
    region: text('region'),
    endpoint: text('endpoint'),
    profile: text('profile'),
    ami: text('ami'),
    amiName: text('ami-name'),
    amiOwners: values['ami-owner'] as string[] | undefined,
    instanceType: text('instance-type'),
    zone: text('zone'),
    keyName: text('key-name'),
    subnet: text('subnet'),
    securityGroups: values['security-group'] as string[] | undefined,
    spot: values.spot === true,
    privateIp: values['private-ip'] === true,
    pollIntervalS: poll === undefined ? undefined : seconds(poll)
  }
  return { ec2, hostSet }
}

function seconds (text: string): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s)?$/.exec(text)
  if (match === null || Number(match[1]) <= 0) throw new SwarmError(ErrorCode.InvalidArguments, `aws: --poll-interval wants a duration such as 500ms or 5s, got ${JSON.stringify(text)}`)
  return Number(match[1]) / (match[2] === 'ms' ? 1000 : 1)
}

/**
 * Starts the aws provisioning service: finds the swarm's EC2 instances by tag, launches what
 * `--count` misses, waits for each engine over mutual TLS, and serves them (core README,
 * "Provisioning services").
 *
 * @example
 * const service = await createAws({ ...parseAwsArgs(['--region', 'eu-west-1', '--ami-name', 'ubuntu/images/*24.04-amd64*']) })
 */
export async function createAws (options: ReturnType<typeof parseAwsArgs>, context: { log?: Logger } = {}): Promise<ServiceInstance> {
  const provider = new Ec2Provider(options.ec2, context.log)
  try {
    const service = await startProvisioningService(provider, options.hostSet, context.log)
    return {
      send: async (message, sendOptions) => { await service.send(message, sendOptions) },
      close: async (error) => {
        try {
          await service.close(error)
        } finally {
          provider.close()
        }
      },
      get abandoned () { return service.abandoned }
    }
  } catch (error) {
    provider.close()
    throw error
  }
}

/**
 * The aws service: Docker hosts on EC2, one engine alone or one node each under `aggregate`.
 *
 * @example
 * swarmd 'dockerserver unix:///tmp/swarm.sock' 'aggregate "aws --region eu-west-1 --count 3 --ami-name ubuntu/images/*24.04-amd64*"'
 */
export const aws: Service = defineService({
  name: 'aws',
  usage: AWS_USAGE,
  spawn: async (args, context) => await createAws(parseAwsArgs(args), { log: context.log })
})
