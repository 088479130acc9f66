import { ErrorCode } from '@libswarm/core'
import { OpenStackError } from './errors.js'
import { openstackRequest } from './openstack-http.js'
import type { HttpPolicy } from './openstack-http.js'

/** How to authenticate against Identity (Keystone v3, v2.0, or Rackspace's v2.0 with an API key). */
export interface Credentials {
  /** Identity endpoint: `https://keystone.example:5000/v3`, `https://identity.api.rackspacecloud.com/v2.0`. */
  authUrl: string
  username?: string | undefined
  userId?: string | undefined
  password?: string | undefined
  /** Rackspace API key: Identity v2.0 with `RAX-KSKEY:apiKeyCredentials`. */
  apiKey?: string | undefined
  projectName?: string | undefined
  projectId?: string | undefined
  userDomainName?: string | undefined
  userDomainId?: string | undefined
  projectDomainName?: string | undefined
  projectDomainId?: string | undefined
  /** `2` or `3`; default from the URL's last segment (`/v2.0`, `/v3`), else 2 with an API key, else 3. */
  identityApiVersion?: '2' | '3' | undefined
}

/** One endpoint of the service catalog, v2.0 and v3 alike. */
export interface CatalogEndpoint {
  region: string | undefined
  interface: 'public' | 'internal' | 'admin'
  url: string
}

/** One service of the catalog. */
export interface CatalogService {
  type: string
  name: string
  endpoints: CatalogEndpoint[]
}

/** A token and what came with it. */
export interface IdentityToken {
  token: string
  expiresAt: Date
  catalog: CatalogService[]
  /** The project (tenant) the token is scoped to, when it is. */
  projectId: string | undefined
}

/** The Identity version and the base URL (ending in `/v2.0` or `/v3`) for these credentials. */
export function identityBase (credentials: Credentials): { version: '2' | '3', base: string } {
  const url = credentials.authUrl.replace(/\/+$/, '')
  if (/\/v2\.0$/.test(url)) return { version: '2', base: url }
  if (/\/v3$/.test(url)) return { version: '3', base: url }
  const version = credentials.identityApiVersion ?? (credentials.apiKey !== undefined ? '2' : '3')
  return { version, base: `${url}/${version === '2' ? 'v2.0' : 'v3'}` }
}

/**
 * Asks Identity for a token: v3 `POST /v3/auth/tokens` with the password method (the token in
 * `X-Subject-Token`), or v2.0 `POST /v2.0/tokens` with `passwordCredentials` or Rackspace's
 * `RAX-KSKEY:apiKeyCredentials`. Bad credentials are an `UNAUTHORIZED` error with the cloud's message.
 */
export async function authenticate (credentials: Credentials, options: HttpPolicy & { signal?: AbortSignal } = {}): Promise<IdentityToken> {
  const { version, base } = identityBase(credentials)
  if (credentials.username === undefined && credentials.userId === undefined) {
    throw new OpenStackError(ErrorCode.Unauthorized, 'rackspace: no user name: set --username, OS_USERNAME, or a cloud in clouds.yaml (OS_CLOUD)')
  }
  if (credentials.password === undefined && credentials.apiKey === undefined) {
    throw new OpenStackError(ErrorCode.Unauthorized, 'rackspace: no password or API key: set --password or --api-key (OS_PASSWORD, OS_API_KEY)')
  }
  return version === '2' ? await authenticateV2(base, credentials, options) : await authenticateV3(base, credentials, options)
}

interface V2Access {
  access?: {
    token?: { id?: string, expires?: string, tenant?: { id?: string } }
    serviceCatalog?: Array<{ type?: string, name?: string, endpoints?: Array<{ region?: string, publicURL?: string, internalURL?: string, adminURL?: string }> }>
  }
}

async function authenticateV2 (base: string, credentials: Credentials, options: HttpPolicy & { signal?: AbortSignal }): Promise<IdentityToken> {
  const auth: Record<string, unknown> = credentials.apiKey !== undefined
    ? { 'RAX-KSKEY:apiKeyCredentials': { username: credentials.username, apiKey: credentials.apiKey } }
    : { passwordCredentials: { username: credentials.username, password: credentials.password } }
  if (credentials.projectId !== undefined) auth['tenantId'] = credentials.projectId
  else if (credentials.projectName !== undefined) auth['tenantName'] = credentials.projectName
  const { body } = await openstackRequest<V2Access>({ method: 'POST', url: `${base}/tokens`, body: { auth }, idempotent: true, signal: options.signal }, options)
  const token = body?.access?.token
  if (typeof token?.id !== 'string') throw new OpenStackError(ErrorCode.Protocol, `POST ${base}/tokens: no access.token.id in the answer`)
  const catalog = (body?.access?.serviceCatalog ?? []).map((service) => ({
    type: String(service.type ?? ''),
    name: String(service.name ?? ''),
    endpoints: (service.endpoints ?? []).flatMap((endpoint) => ([['public', endpoint.publicURL], ['internal', endpoint.internalURL], ['admin', endpoint.adminURL]] as const)
      .filter((pair): pair is readonly ['public' | 'internal' | 'admin', string] => typeof pair[1] === 'string')
      .map(([kind, url]) => ({ region: endpoint.region, interface: kind, url })))
  }))
  return { token: token.id, expiresAt: parseExpiry(token.expires), catalog, projectId: token.tenant?.id }
}

interface V3Token {
  token?: {
    expires_at?: string
    project?: { id?: string }
    catalog?: Array<{ type?: string, name?: string, endpoints?: Array<{ region?: string, region_id?: string, interface?: string, url?: string }> }>
  }
}

async function authenticateV3 (base: string, credentials: Credentials, options: HttpPolicy & { signal?: AbortSignal }): Promise<IdentityToken> {
  if (credentials.password === undefined) {
    throw new OpenStackError(ErrorCode.Unauthorized, 'rackspace: Identity v3 needs a password (an API key is Rackspace\'s Identity v2.0: use an auth URL ending in /v2.0)')
  }
  const domain = (id: string | undefined, name: string | undefined): Record<string, string> =>
    id !== undefined ? { id } : { name: name ?? 'Default' }
  const user = credentials.userId !== undefined
    ? { id: credentials.userId, password: credentials.password }
    : { name: credentials.username, domain: domain(credentials.userDomainId, credentials.userDomainName), password: credentials.password }
  const scope = credentials.projectId !== undefined
    ? { project: { id: credentials.projectId } }
    : credentials.projectName !== undefined
      ? { project: { name: credentials.projectName, domain: domain(credentials.projectDomainId, credentials.projectDomainName ?? credentials.userDomainName) } }
      : undefined
  const auth = { identity: { methods: ['password'], password: { user } }, ...(scope === undefined ? {} : { scope }) }
  const { body, headers } = await openstackRequest<V3Token>({ method: 'POST', url: `${base}/auth/tokens`, body: { auth }, idempotent: true, signal: options.signal }, options)
  const token = headers.get('x-subject-token')
  if (token === null) throw new OpenStackError(ErrorCode.Protocol, `POST ${base}/auth/tokens: no X-Subject-Token header in the answer`)
  const catalog = (body?.token?.catalog ?? []).map((service) => ({
    type: String(service.type ?? ''),
    name: String(service.name ?? ''),
    endpoints: (service.endpoints ?? [])
      .filter((endpoint) => typeof endpoint.url === 'string' && ['public', 'internal', 'admin'].includes(String(endpoint.interface)))
      .map((endpoint) => ({ region: endpoint.region_id ?? endpoint.region, interface: endpoint.interface as CatalogEndpoint['interface'], url: endpoint.url as string }))
  }))
  return { token, expiresAt: parseExpiry(body?.token?.expires_at), catalog, projectId: body?.token?.project?.id }
}

function parseExpiry (text: string | undefined): Date {
  const time = text === undefined ? NaN : Date.parse(text)
  // a token without a readable expiry is used for an hour, then asked for again
  return new Date(Number.isFinite(time) ? time : Date.now() + 3_600_000)
}

/**
 * The URL of a service in the catalog for a region, as OpenStack clients pick it: the service
 * type, then the region (required when the type has endpoints in several), then the interface.
 * An unknown region is a `NOT_FOUND` error that lists the regions there are.
 */
export function catalogEndpoint (catalog: readonly CatalogService[], type: string, region: string | undefined, iface: CatalogEndpoint['interface'] = 'public'): string {
  const endpoints = catalog.filter((service) => service.type === type).flatMap((service) => service.endpoints).filter((endpoint) => endpoint.interface === iface)
  if (endpoints.length === 0) throw new OpenStackError(ErrorCode.NotFound, `rackspace: the service catalog has no ${iface} "${type}" endpoint`)
  const regions = [...new Set(endpoints.map((endpoint) => endpoint.region).filter((name): name is string => name !== undefined && name !== ''))]
  if (region === undefined) {
    if (regions.length > 1) throw new OpenStackError(ErrorCode.InvalidArguments, `rackspace: --region is needed, the "${type}" service is in ${regions.join(', ')}`)
    return (endpoints[0] as CatalogEndpoint).url.replace(/\/+$/, '')
  }
  const found = endpoints.find((endpoint) => endpoint.region === region)
  if (found === undefined) {
    throw new OpenStackError(ErrorCode.NotFound, `rackspace: no "${type}" endpoint in region "${region}" (regions: ${regions.length === 0 ? 'none named' : regions.join(', ')})`)
  }
  return found.url.replace(/\/+$/, '')
}
