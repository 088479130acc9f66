/**
 * @packageDocumentation
 * `@libswarm/rackspace` provisions Docker hosts on Rackspace Cloud Servers or any OpenStack
 * cloud (Keystone Identity v2.0/v3 and Nova Compute v2.1) and serves them as a libswarm
 * service, by the provisioning contract of `@libswarm/provision`.
 */
export { rackspace, rackspace as service, createRackspace, parseRackspaceArgs, RACKSPACE_USAGE } from './rackspace-service.js'
export type { RackspaceOptions } from './rackspace-service.js'
export { novaHostProvider, hostState } from './rackspace-provider.js'
export type { ServerTemplate } from './rackspace-provider.js'
export { ComputeClient } from './nova.js'
export type { ComputeClientOptions, NamedResource, NovaServer, ServerSpec } from './nova.js'
export { authenticate, catalogEndpoint, identityBase } from './identity.js'
export type { CatalogEndpoint, CatalogService, Credentials, IdentityToken } from './identity.js'
export { resolveCloud, cloudsYamlPaths, RACKSPACE_IDENTITY_URL } from './cloud-config.js'
export type { CredentialArgs, ResolvedCloud } from './cloud-config.js'
export { OpenStackError } from './errors.js'
export type { HttpPolicy } from './openstack-http.js'
