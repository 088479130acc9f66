import { ErrorCode, isSwarmError } from '@libswarm/core'
import { OpenStackError } from './errors.js'
import { authenticate, catalogEndpoint } from './identity.js'
import type { CatalogEndpoint, Credentials, IdentityToken } from './identity.js'
import { openstackRequest, sleep } from './openstack-http.js'
import type { HttpPolicy } from './openstack-http.js'

/** A Nova server as the rackspace service reads it from `GET /servers/detail`. */
export interface NovaServer {
  id: string
  name: string
  /** `BUILD`, `ACTIVE`, `ERROR`, `SHUTOFF`, `DELETED`, ... */
  status: string
  metadata: Record<string, string>
  /** The IPv4 address to reach the host on: `accessIPv4`, else the `public` network's, else a floating one, else the first. */
  address: string | undefined
  /** The `fault` message of a server in `ERROR`. */
  fault: string | undefined
  created: string | undefined
}

/** What `POST /servers` is given. */
export interface ServerSpec {
  name: string
  imageRef: string
  flavorRef: string
  keyName?: string | undefined
  /** Plain text; base64-encoded on the way, as Nova wants it. */
  userData?: string | undefined
  metadata: Record<string, string>
  /** Network UUIDs to attach; none lets the cloud choose (Rackspace: public and private). */
  networks?: readonly string[] | undefined
}

/** An image or flavor found by name or id. */
export interface NamedResource { id: string, name: string }

/** Options of {@link ComputeClient}. */
export interface ComputeClientOptions {
  credentials: Credentials
  region?: string | undefined
  interface?: CatalogEndpoint['interface'] | undefined
  http?: HttpPolicy | undefined
}

interface RawServer {
  id?: string
  name?: string
  status?: string
  metadata?: Record<string, string>
  accessIPv4?: string
  addresses?: Record<string, Array<{ addr?: string, version?: number, 'OS-EXT-IPS:type'?: string }>>
  fault?: { message?: string }
  created?: string
}

const MAX_PAGES = 100

/**
 * Nova Compute v2.1 (Rackspace Cloud Servers' v2 API is the same `servers` resource): a token
 * from Identity, the compute endpoint of the region from the catalog, and the calls the
 * rackspace service makes. The token is asked for again when it is about to expire or when
 * Nova answers 401.
 */
export class ComputeClient {
  readonly #options: ComputeClientOptions
  #session: { token: IdentityToken, endpoint: string } | undefined

  constructor (options: ComputeClientOptions) {
    this.#options = options
  }

  /** Authenticates and finds the compute endpoint: bad credentials or an unknown region fail here. */
  async connect (options: { signal?: AbortSignal } = {}): Promise<string> {
    const token = await authenticate(this.#options.credentials, { ...this.#options.http, ...options })
    const endpoint = catalogEndpoint(token.catalog, 'compute', this.#options.region, this.#options.interface)
    this.#session = { token, endpoint }
    return endpoint
  }

  /** Finds an image by id or exact name (`GET /images/detail?name=`), preferring ACTIVE ones. */
  async findImage (nameOrId: string, options: { signal?: AbortSignal } = {}): Promise<NamedResource> {
    const byName = await this.#list<{ id: string, name: string, status?: string }>(`/images/detail?name=${encodeURIComponent(nameOrId)}`, 'images', options)
    const exact = byName.filter((image) => image.name === nameOrId || image.id === nameOrId)
    const active = exact.filter((image) => image.status === undefined || image.status === 'ACTIVE')
    if (active.length > 1) {
      throw new OpenStackError(ErrorCode.Conflict, `rackspace: ${active.length} images are named "${nameOrId}" (${active.map((image) => image.id).join(', ')}): give --image an id`)
    }
    if (active.length === 1) return pick(active[0] as NamedResource)
    const byId = await this.#getOptional<{ image?: { id: string, name: string } }>(`/images/${encodeURIComponent(nameOrId)}`, options)
    if (byId?.image !== undefined) return pick(byId.image)
    throw new OpenStackError(ErrorCode.NotFound, `rackspace: no image "${nameOrId}" in ${this.#options.region ?? 'this region'}`)
  }

  /** Finds a flavor by id or exact name (`GET /flavors/detail`, every page). */
  async findFlavor (nameOrId: string, options: { signal?: AbortSignal } = {}): Promise<NamedResource> {
    const flavors = await this.#list<NamedResource>('/flavors/detail', 'flavors', options)
    const found = flavors.find((flavor) => flavor.id === nameOrId) ?? flavors.find((flavor) => flavor.name === nameOrId)
    if (found === undefined) {
      throw new OpenStackError(ErrorCode.NotFound, `rackspace: no flavor "${nameOrId}" in ${this.#options.region ?? 'this region'} (flavors: ${flavors.slice(0, 20).map((flavor) => flavor.name).join(', ')})`)
    }
    return pick(found)
  }

  /** `GET /os-keypairs/{name}`: NOT_FOUND when the key pair does not exist. */
  async findKeyPair (name: string, options: { signal?: AbortSignal } = {}): Promise<void> {
    const found = await this.#getOptional<{ keypair?: unknown }>(`/os-keypairs/${encodeURIComponent(name)}`, options)
    if (found?.keypair === undefined) throw new OpenStackError(ErrorCode.NotFound, `rackspace: no key pair "${name}" in ${this.#options.region ?? 'this region'}`)
  }

  /** `GET /limits`: the absolute limits (`maxTotalInstances`, `totalInstancesUsed`, ...). */
  async absoluteLimits (options: { signal?: AbortSignal } = {}): Promise<Record<string, number>> {
    const body = await this.#call<{ limits?: { absolute?: Record<string, number> } }>('GET', '/limits', undefined, options)
    return body?.limits?.absolute ?? {}
  }

  /** `POST /servers`; answers the new server's id. Throttling is retried, a network error is not (it may have been created). */
  async createServer (spec: ServerSpec, options: { signal?: AbortSignal } = {}): Promise<string> {
    const server: Record<string, unknown> = {
      name: spec.name,
      imageRef: spec.imageRef,
      flavorRef: spec.flavorRef,
      metadata: spec.metadata
    }
    if (spec.keyName !== undefined) server['key_name'] = spec.keyName
    if (spec.userData !== undefined) server['user_data'] = Buffer.from(spec.userData).toString('base64')
    if (spec.networks !== undefined && spec.networks.length > 0) server['networks'] = spec.networks.map((uuid) => ({ uuid }))
    const body = await this.#call<{ server?: { id?: string } }>('POST', '/servers', { server }, options)
    if (typeof body?.server?.id !== 'string') throw new OpenStackError(ErrorCode.Protocol, 'rackspace: POST /servers answered without server.id')
    return body.server.id
  }

  /** Every server (`GET /servers/detail`, following `servers_links` next), optionally those whose name matches a Nova name regex. */
  async listServers (options: { name?: string, signal?: AbortSignal } = {}): Promise<NovaServer[]> {
    const query = options.name === undefined ? '' : `?name=${encodeURIComponent(options.name)}`
    const servers = await this.#list<RawServer>(`/servers/detail${query}`, 'servers', options)
    return servers.map(toServer)
  }

  /** `GET /servers/{id}`, or undefined when Nova does not know it (any more). */
  async getServer (id: string, options: { signal?: AbortSignal } = {}): Promise<NovaServer | undefined> {
    const body = await this.#getOptional<{ server?: RawServer }>(`/servers/${encodeURIComponent(id)}`, options)
    return body?.server === undefined ? undefined : toServer(body.server)
  }

  /** `DELETE /servers/{id}`; a server already gone is fine. */
  async deleteServer (id: string, options: { signal?: AbortSignal } = {}): Promise<void> {
    try {
      await this.#call('DELETE', `/servers/${encodeURIComponent(id)}`, undefined, options)
    } catch (error) {
      if (!(isSwarmError(error) && error.code === ErrorCode.NotFound)) throw error
    }
  }

  /**
   * Polls a server until it is ACTIVE with an address. A server in ERROR (with Nova's fault
   * message), deleted, or still building after `timeoutMs` is an error.
   */
  async waitActive (id: string, options: { timeoutMs: number, intervalMs?: number, signal?: AbortSignal }): Promise<NovaServer> {
    const deadline = Date.now() + options.timeoutMs
    const interval = options.intervalMs ?? 2000
    for (;;) {
      const server = await this.getServer(id, options)
      if (server === undefined || server.status === 'DELETED') throw new OpenStackError(ErrorCode.NotFound, `rackspace: server ${id} was deleted while it was building`)
      if (server.status === 'ERROR') throw new OpenStackError(ErrorCode.Unavailable, `rackspace: server ${server.name} (${id}) went to ERROR: ${server.fault ?? 'no fault given'}`)
      if (server.status === 'ACTIVE' && server.address !== undefined) return server
      if (Date.now() + interval > deadline) {
        throw new OpenStackError(ErrorCode.Timeout, `rackspace: server ${server.name} (${id}) is still ${server.status} after ${Math.round(options.timeoutMs / 1000)} s`)
      }
      await sleep(interval, options.signal)
    }
  }

  async #list<T> (path: string, key: string, options: { signal?: AbortSignal }): Promise<T[]> {
    const items: T[] = []
    let next: string | undefined = path
    for (let page = 0; next !== undefined && page < MAX_PAGES; page++) {
      const body: Record<string, unknown> | undefined = await this.#call<Record<string, unknown>>('GET', next, undefined, options)
      const list = body?.[key]
      if (!Array.isArray(list)) throw new OpenStackError(ErrorCode.Protocol, `rackspace: GET ${path} answered without "${key}"`)
      items.push(...list as T[])
      const links = body?.[`${key}_links`] as Array<{ rel?: string, href?: string }> | undefined
      next = links?.find((link) => link.rel === 'next')?.href
    }
    return items
  }

  async #getOptional<T> (path: string, options: { signal?: AbortSignal }): Promise<T | undefined> {
    try {
      return await this.#call<T>('GET', path, undefined, options)
    } catch (error) {
      if (isSwarmError(error) && error.code === ErrorCode.NotFound) return undefined
      throw error
    }
  }

  async #call<T> (method: 'GET' | 'POST' | 'DELETE', path: string, body: unknown, options: { signal?: AbortSignal }): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      if (this.#session === undefined || this.#session.token.expiresAt.getTime() - Date.now() < 60_000) await this.connect(options)
      const session = this.#session as { token: IdentityToken, endpoint: string }
      // a `next` link is absolute; paths are relative to the compute endpoint
      const url = /^https?:\/\//.test(path) ? path : `${session.endpoint}${path}`
      try {
        return (await openstackRequest<T>({ method, url, token: session.token.token, body, signal: options.signal }, this.#options.http)).body
      } catch (error) {
        if (attempt === 0 && isSwarmError(error) && error.code === ErrorCode.Unauthorized) { this.#session = undefined; continue }
        throw error
      }
    }
  }
}

function pick (resource: NamedResource): NamedResource {
  return { id: resource.id, name: resource.name }
}

function toServer (raw: RawServer): NovaServer {
  return {
    id: String(raw.id),
    name: String(raw.name ?? ''),
    status: String(raw.status ?? 'UNKNOWN'),
    metadata: raw.metadata ?? {},
    address: serverAddress(raw),
    fault: raw.fault?.message,
    created: raw.created
  }
}

function serverAddress (raw: RawServer): string | undefined {
  if (typeof raw.accessIPv4 === 'string' && raw.accessIPv4 !== '') return raw.accessIPv4
  const networks = raw.addresses ?? {}
  const v4 = (list: RawServer['addresses'] extends Record<string, infer L> | undefined ? L : never): string | undefined =>
    list.find((address) => address.version === 4 && typeof address.addr === 'string')?.addr
  const publicAddress = networks['public'] === undefined ? undefined : v4(networks['public'])
  if (publicAddress !== undefined) return publicAddress
  const all = Object.values(networks).flat()
  return all.find((address) => address.version === 4 && address['OS-EXT-IPS:type'] === 'floating')?.addr ?? v4(all)
}
