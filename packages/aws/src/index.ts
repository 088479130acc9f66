/**
 * @packageDocumentation
 * `@libswarm/aws` provisions Docker hosts on Amazon EC2 with the official AWS SDK v3 and serves
 * them as a libswarm provisioning service: alone with one host it is that host's engine; under
 * `aggregate` each host is a node. Hosts are found again by their tags, launched only to reach
 * `--count`, and reached over mutual TLS.
 */
export { aws, createAws, parseAwsArgs, AWS_USAGE } from './aws-service.js'
export { Ec2Provider } from './ec2-provider.js'
export type { Ec2Options } from './ec2-provider.js'
export { ec2Error } from './ec2-errors.js'
