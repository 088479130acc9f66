import { existsSync, readFileSync } from 'node:fs'
import { homedir } from 'node:os'
import { join } from 'node:path'
import { parse } from 'yaml'
import { invalidArguments } from './errors.js'
import type { Credentials } from './identity.js'

/** Rackspace's public Identity, used when an API key is given without an auth URL. */
export const RACKSPACE_IDENTITY_URL = 'https://identity.api.rackspacecloud.com/v2.0'

/** Where credentials came from, for the log: `arguments`, `environment`, `clouds.yaml:NAME`. */
export interface ResolvedCloud {
  credentials: Credentials
  region: string | undefined
  interface: 'public' | 'internal' | 'admin' | undefined
  source: string
}

/** What the user gave on the command line; each field wins over the cloud's or the environment's. */
export type CredentialArgs = Partial<Credentials> & { cloud?: string | undefined, region?: string | undefined }

interface CloudEntry {
  auth?: Record<string, unknown>
  auth_type?: string
  region_name?: string
  regions?: Array<string | { name?: string }>
  identity_api_version?: string | number
  interface?: string
}

/**
 * The `clouds.yaml` files in the order OpenStack's clients search them: `OS_CLIENT_CONFIG_FILE`,
 * then `./clouds.yaml`, `~/.config/openstack/clouds.yaml`, `/etc/openstack/clouds.yaml`; the first
 * that exists is used, and `secure.yaml` beside it (same search path) is merged over it.
 */
export function cloudsYamlPaths (env: Record<string, string | undefined>, cwd = process.cwd()): { clouds: string[], secure: string[] } {
  const dirs = [cwd, join(env['HOME'] ?? homedir(), '.config', 'openstack'), '/etc/openstack']
  return {
    clouds: [...(env['OS_CLIENT_CONFIG_FILE'] === undefined ? [] : [env['OS_CLIENT_CONFIG_FILE']]), ...dirs.map((dir) => join(dir, 'clouds.yaml'))],
    secure: dirs.map((dir) => join(dir, 'secure.yaml'))
  }
}

/**
 * Credentials and region as OpenStack's clients find them: a cloud of `clouds.yaml` when one is named
 * (`--os-cloud` or `OS_CLOUD`), else the `OS_*` environment variables (`OS_AUTH_URL`, `OS_USERNAME`,
 * `OS_PASSWORD`, `OS_PROJECT_NAME`/`OS_TENANT_NAME`, the domain variables, `OS_REGION_NAME`, ...,
 * plus Rackspace's `OS_API_KEY`/`RAX_API_KEY`), with the command line's values over either.
 */
export function resolveCloud (args: CredentialArgs, env: Record<string, string | undefined> = process.env, cwd = process.cwd()): ResolvedCloud {
  const cloudName = args.cloud ?? env['OS_CLOUD']
  const base = cloudName === undefined ? fromEnvironment(env) : fromCloudsYaml(cloudName, env, cwd)
  const defined = Object.fromEntries(Object.entries(args).filter(([key, value]) => value !== undefined && key !== 'cloud' && key !== 'region'))
  const credentials: Partial<Credentials> = { ...base.credentials, ...defined }
  // a new user name without a new secret should not be sent with someone else's password
  if (args.apiKey !== undefined) delete credentials.password
  if (args.password !== undefined) delete credentials.apiKey
  if (credentials.authUrl === undefined && credentials.apiKey !== undefined) credentials.authUrl = RACKSPACE_IDENTITY_URL
  if (credentials.authUrl === undefined) {
    throw invalidArguments('no Identity URL: give --identity-url, set OS_AUTH_URL, or name a cloud of clouds.yaml with OS_CLOUD')
  }
  return {
    credentials: credentials as Credentials,
    region: args.region ?? base.region,
    interface: base.interface,
    source: Object.keys(defined).length > 0 ? `${base.source} and arguments` : base.source
  }
}

function fromEnvironment (env: Record<string, string | undefined>): Omit<ResolvedCloud, 'credentials'> & { credentials: Partial<Credentials> } {
  const value = (...names: string[]): string | undefined => names.map((name) => env[name]).find((item) => item !== undefined && item !== '')
  const version = value('OS_IDENTITY_API_VERSION')
  const credentials: Partial<Credentials> = {
    authUrl: value('OS_AUTH_URL'),
    username: value('OS_USERNAME', 'RAX_USERNAME'),
    userId: value('OS_USER_ID'),
    password: value('OS_PASSWORD'),
    apiKey: value('OS_API_KEY', 'RAX_API_KEY'),
    projectName: value('OS_PROJECT_NAME', 'OS_TENANT_NAME'),
    projectId: value('OS_PROJECT_ID', 'OS_TENANT_ID'),
    userDomainName: value('OS_USER_DOMAIN_NAME', 'OS_DOMAIN_NAME'),
    userDomainId: value('OS_USER_DOMAIN_ID', 'OS_DOMAIN_ID'),
    projectDomainName: value('OS_PROJECT_DOMAIN_NAME', 'OS_DOMAIN_NAME'),
    projectDomainId: value('OS_PROJECT_DOMAIN_ID', 'OS_DOMAIN_ID'),
    identityApiVersion: version === undefined ? undefined : version.startsWith('2') ? '2' : '3'
  }
  return { credentials: dropUndefined(credentials), region: value('OS_REGION_NAME', 'RAX_REGION'), interface: iface(value('OS_INTERFACE', 'OS_ENDPOINT_TYPE')), source: 'environment' }
}

function fromCloudsYaml (name: string, env: Record<string, string | undefined>, cwd: string): Omit<ResolvedCloud, 'credentials'> & { credentials: Partial<Credentials> } {
  const paths = cloudsYamlPaths(env, cwd)
  const file = paths.clouds.find((path) => existsSync(path))
  if (file === undefined) throw invalidArguments(`cloud "${name}" asked for (OS_CLOUD or --os-cloud), but there is no clouds.yaml in ${paths.clouds.join(', ')}`)
  const clouds = readClouds(file)
  const secureFile = paths.secure.find((path) => existsSync(path))
  const entry = clouds[name]
  if (entry === undefined) throw invalidArguments(`no cloud "${name}" in ${file} (clouds: ${Object.keys(clouds).join(', ') || 'none'})`)
  const secure = secureFile === undefined ? undefined : readClouds(secureFile)[name]
  const auth = { ...entry.auth, ...secure?.auth }
  const text = (key: string): string | undefined => typeof auth[key] === 'string' && auth[key] !== '' ? auth[key] : undefined
  const version = entry.identity_api_version ?? secure?.identity_api_version
  const authType = entry.auth_type ?? ''
  const credentials: Partial<Credentials> = {
    authUrl: text('auth_url'),
    username: text('username'),
    userId: text('user_id'),
    password: text('password'),
    apiKey: text('api_key') ?? (authType.includes('apikey') ? text('password') : undefined),
    projectName: text('project_name') ?? text('tenant_name'),
    projectId: text('project_id') ?? text('tenant_id'),
    userDomainName: text('user_domain_name') ?? text('domain_name'),
    userDomainId: text('user_domain_id') ?? text('domain_id'),
    projectDomainName: text('project_domain_name') ?? text('domain_name'),
    projectDomainId: text('project_domain_id') ?? text('domain_id'),
    identityApiVersion: version === undefined ? (authType.startsWith('v2') ? '2' : authType.startsWith('v3') ? '3' : undefined) : String(version).startsWith('2') ? '2' : '3'
  }
  if (credentials.apiKey !== undefined && authType.includes('apikey')) delete credentials.password
  const firstRegion = entry.regions?.[0]
  const region = entry.region_name ?? (typeof firstRegion === 'string' ? firstRegion : firstRegion?.name)
  return { credentials: dropUndefined(credentials), region, interface: iface(entry.interface), source: `clouds.yaml:${name} (${file})` }
}

function readClouds (file: string): Record<string, CloudEntry> {
  let document: unknown
  try {
    document = parse(readFileSync(file, 'utf8'))
  } catch (error) {
    throw invalidArguments(`cannot read ${file}: ${error instanceof Error ? error.message : String(error)}`)
  }
  const clouds = (document as { clouds?: unknown } | null)?.clouds
  if (typeof clouds !== 'object' || clouds === null) throw invalidArguments(`${file} has no "clouds:" mapping`)
  return clouds as Record<string, CloudEntry>
}

function iface (value: string | undefined): ResolvedCloud['interface'] {
  const name = value?.replace(/URL$/, '')
  return name === 'public' || name === 'internal' || name === 'admin' ? name : undefined
}

function dropUndefined<T extends object> (object: T): T {
  return Object.fromEntries(Object.entries(object).filter(([, value]) => value !== undefined)) as T
}
