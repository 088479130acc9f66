import { randomUUID } from 'node:crypto'
import { createServer } from 'node:http'
import type { IncomingMessage, Server, ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'

/**
 * A local stand-in for Rackspace Cloud's Identity v2.0 (`RAX-KSKEY:apiKeyCredentials` and
 * `passwordCredentials`) and Nova Compute v2.1 `servers`, `flavors` and `images`, written from
 * the public API references (Identity v2.0 "Authenticate", Rackspace Cloud Identity "Authenticate
 * with API key", Compute API v2.1 "Servers", "Flavors", "Images (DEPRECATED)"): the request and
 * answer shapes, status codes and error documents (`{"itemNotFound": {"code": 404, "message": ...}}`,
 * `{"overLimit": {"retryAfter": ...}}`, `{"unauthorized": ...}`). Each server is a real host
 * started by `launch` with the user data the client sent.
 */
export interface StandInOptions {
  accounts: Array<{ username: string, apiKey?: string, password?: string, tenantId: string }>
  regions: string[]
  images: Array<{ id: string, name: string }>
  flavors: Array<{ id: string, name: string, ram: number, vcpus: number }>
  /** Key pair names (`key_name` must be one of them). Default none. */
  keyPairs?: string[]
  /** Starts the machine behind a server from its decoded user data; resolves with its address. */
  launch: (server: { id: string, name: string, userData: string }) => Promise<LaunchedHost>
  /** Time a server stays in BUILD before its host is launched (a cloud's boot delay). Default 0. */
  bootDelayMs?: number
  /** Most servers a tenant may have at once (Nova's instances quota): past it, 403 "Quota exceeded". Default 10. */
  quota?: number
  /** Page size of `GET /servers/detail` and `/flavors/detail` (then `servers_links` rel=next). Default 1000. */
  pageSize?: number
  /**
   * Checks a token this stand-in did not issue, as Nova's keystonemiddleware does against a real
   * Keystone; resolves with the token's project id, or undefined when Keystone refuses it.
   */
  validateToken?: (token: string) => Promise<string | undefined>
}

/** A running host behind a server. */
export interface LaunchedHost {
  address: string
  close: () => Promise<void>
}

interface StandInServer {
  id: string
  name: string
  tenantId: string
  region: string
  status: 'BUILD' | 'ACTIVE' | 'ERROR' | 'DELETED'
  imageRef: string
  flavorRef: string
  keyName: string | null
  metadata: Record<string, string>
  /** The user data it was created with, decoded. */
  userData: string
  created: string
  address: string | undefined
  fault: string | undefined
  host: LaunchedHost | undefined
  /** performance.now() when the create was answered, and when the server became ACTIVE. */
  createdAt: number
  activeAt: number | undefined
  launching: Promise<void> | undefined
}

/** Faults the next calls will meet. */
export interface StandInFaults {
  /** The next N API calls (any) answer 429 overLimit with `Retry-After: 0`. */
  throttle: number
  /** The next N API calls answer 503. */
  unavailable: number
  /** The next N servers go to ERROR ("No valid host was found") instead of booting. */
  failBoots: number
  /** Servers stay in BUILD for ever. */
  neverBoot: boolean
}

/** The stand-in, started: `identityUrl` ends in `/v2.0`. */
export interface OpenStackStandIn extends AsyncDisposable {
  identityUrl: string
  /** Where a region's compute endpoint is, for a catalog kept elsewhere (a real Keystone's). */
  computeUrl: (region: string, tenantId: string) => string
  faults: StandInFaults
  /** Every server ever created, deleted ones included. */
  servers: () => ReadonlyArray<Readonly<StandInServer>>
  /** Servers not deleted (BUILD, ACTIVE or ERROR). */
  liveServers: () => ReadonlyArray<Readonly<StandInServer>>
  /** Calls by method and path pattern, e.g. `POST /servers`. */
  calls: Map<string, number>
  /** Forgets every token it issued (they expired or were revoked): the next call with one is a 401. */
  revokeTokens: () => void
  /** Stops a server's host without telling Nova (the machine became unreachable). */
  cutHost: (id: string) => Promise<void>
  close: () => Promise<void>
}

/** Starts the stand-in on 127.0.0.1 and a free port. */
export async function startOpenStackStandIn (options: StandInOptions): Promise<OpenStackStandIn> {
  const tokens = new Map<string, { tenantId: string, expires: number }>()
  const servers: StandInServer[] = []
  const calls = new Map<string, number>()
  const faults: StandInFaults = { throttle: 0, unavailable: 0, failBoots: 0, neverBoot: false }
  const timers = new Set<NodeJS.Timeout>()
  let base = ''

  const http: Server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => { send(res, 500, { computeFault: { code: 500, message: String(error) } }) })
  })

  async function handle (req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', base)
    const text = await readBody(req)
    if (faults.throttle > 0) {
      faults.throttle--
      count('throttled')
      res.setHeader('Retry-After', '0')
      send(res, 429, { overLimit: { code: 429, message: 'This request was rate-limited.', retryAfter: '0' } }); return
    }
    if (faults.unavailable > 0) {
      faults.unavailable--
      count('unavailable')
      send(res, 503, { serviceUnavailable: { code: 503, message: 'The service is currently unavailable.' } }); return
    }
    if (req.method === 'POST' && url.pathname === '/v2.0/tokens') { count('POST /v2.0/tokens'); authenticate(text, res); return }
    const match = /^\/compute\/([^/]+)\/v2\/([^/]+)(\/.*)$/.exec(url.pathname)
    if (match === null) { send(res, 404, { itemNotFound: { code: 404, message: 'The resource could not be found.' } }); return }
    const [, region, tenantId, path] = match as unknown as [string, string, string, string]
    const presented = String(req.headers['x-auth-token'] ?? '')
    const token = tokens.get(presented) ?? await external(presented)
    if (token === undefined || token.expires < Date.now() || token.tenantId !== tenantId) {
      send(res, 401, { unauthorized: { code: 401, message: 'This server could not verify that you are authorized to access the document you requested.' } }); return
    }
    if (!options.regions.includes(region)) { send(res, 404, { itemNotFound: { code: 404, message: 'Unknown region.' } }); return }
    compute(req.method ?? 'GET', path, url.searchParams, text, { region, tenantId }, res)
  }

  async function external (token: string): Promise<{ tenantId: string, expires: number } | undefined> {
    if (options.validateToken === undefined || token === '') return undefined
    const tenantId = await options.validateToken(token)
    return tenantId === undefined ? undefined : { tenantId, expires: Infinity }
  }

  function count (key: string): void { calls.set(key, (calls.get(key) ?? 0) + 1) }

  function authenticate (text: string, res: ServerResponse): void {
    let body: { auth?: Record<string, unknown> }
    try { body = JSON.parse(text) } catch { send(res, 400, { badRequest: { code: 400, message: 'Malformed request body' } }); return }
    const auth = body.auth ?? {}
    const apiKey = auth['RAX-KSKEY:apiKeyCredentials'] as { username?: string, apiKey?: string } | undefined
    const password = auth['passwordCredentials'] as { username?: string, password?: string } | undefined
    if (apiKey === undefined && password === undefined) { send(res, 400, { badRequest: { code: 400, message: 'Invalid json request body' } }); return }
    const account = options.accounts.find((item) => apiKey !== undefined
      ? item.username === apiKey.username && item.apiKey !== undefined && item.apiKey === apiKey.apiKey
      : item.username === password?.username && item.password !== undefined && item.password === password?.password)
    if (account === undefined) {
      send(res, 401, { unauthorized: { code: 401, message: apiKey !== undefined ? 'Username or api key is invalid.' : 'Unable to authenticate user with credentials provided.' } }); return
    }
    const id = randomUUID().replaceAll('-', '')
    const expires = Date.now() + 24 * 3_600_000
    tokens.set(id, { tenantId: account.tenantId, expires })
    send(res, 200, {
      access: {
        token: { id, expires: new Date(expires).toISOString(), tenant: { id: account.tenantId, name: account.tenantId }, 'RAX-AUTH:authenticatedBy': [apiKey !== undefined ? 'APIKEY' : 'PASSWORD'] },
        serviceCatalog: [
          // the first-generation Cloud Servers, without regions: clients must pick the OpenStack one
          { name: 'cloudServers', type: 'compute', endpoints: [{ publicURL: `${base}/v1.0/${account.tenantId}`, tenantId: account.tenantId }] },
          {
            name: 'cloudServersOpenStack',
            type: 'compute',
            endpoints: options.regions.map((region) => ({ region, tenantId: account.tenantId, publicURL: `${base}/compute/${region}/v2/${account.tenantId}` }))
          },
          { name: 'cloudFiles', type: 'object-store', endpoints: options.regions.map((region) => ({ region, tenantId: account.tenantId, publicURL: `${base}/files/${region}/v1/${account.tenantId}` })) }
        ],
        user: { id: account.username, name: account.username, roles: [{ name: 'identity:default' }] }
      }
    })
  }

  function compute (method: string, path: string, query: URLSearchParams, text: string, scope: { region: string, tenantId: string }, res: ServerResponse): void {
    const mine = servers.filter((server) => server.tenantId === scope.tenantId && server.region === scope.region && server.status !== 'DELETED')
    const link = (id: string): unknown => [{ rel: 'self', href: `${base}/compute/${scope.region}/v2/${scope.tenantId}/servers/${id}` }]
    if (method === 'GET' && path === '/flavors/detail') {
      count('GET /flavors/detail')
      sendPage(res, 'flavors', options.flavors.map((flavor) => ({ ...flavor, disk: 40, links: [] })), query, `${base}/compute/${scope.region}/v2/${scope.tenantId}/flavors/detail`); return
    }
    if (method === 'GET' && path === '/images/detail') {
      count('GET /images/detail')
      const name = query.get('name')
      send(res, 200, { images: options.images.filter((image) => name === null || image.name === name).map((image) => ({ ...image, status: 'ACTIVE', metadata: {} })) }); return
    }
    const image = /^\/images\/([^/]+)$/.exec(path)
    if (method === 'GET' && image !== null) {
      const found = options.images.find((item) => item.id === decodeURIComponent(image[1] as string))
      if (found === undefined) { send(res, 404, { itemNotFound: { code: 404, message: 'Image not found.' } }); return }
      send(res, 200, { image: { ...found, status: 'ACTIVE' } }); return
    }
    const keyPair = /^\/os-keypairs\/([^/]+)$/.exec(path)
    if (method === 'GET' && keyPair !== null) {
      const name = decodeURIComponent(keyPair[1] as string)
      if (!(options.keyPairs ?? []).includes(name)) { send(res, 404, { itemNotFound: { code: 404, message: `Keypair ${name} not found for user stand-in` } }); return }
      send(res, 200, { keypair: { name, public_key: 'ssh-ed25519 AAAA stand-in', fingerprint: '00:00', user_id: 'stand-in' } }); return
    }
    if (method === 'GET' && path === '/limits') {
      count('GET /limits')
      send(res, 200, { limits: { rate: [], absolute: { maxTotalInstances: options.quota ?? 10, totalInstancesUsed: mine.length, maxTotalCores: -1, totalCoresUsed: 0 } } }); return
    }
    if (method === 'POST' && path === '/servers') { count('POST /servers'); createServerCall(text, scope, mine.length, res); return }
    if (method === 'GET' && (path === '/servers/detail' || path === '/servers')) {
      count('GET /servers/detail')
      const name = query.get('name')
      const pattern = name === null ? undefined : new RegExp(name)
      const list = mine.filter((server) => pattern === undefined || pattern.test(server.name))
      sendPage(res, 'servers', list.map((server) => view(server, link) as { id: string }), query, `${base}/compute/${scope.region}/v2/${scope.tenantId}/servers/detail`); return
    }
    const one = /^\/servers\/([^/]+)$/.exec(path)
    const server = one === null ? undefined : mine.find((item) => item.id === decodeURIComponent(one[1] as string))
    if (one !== null && server === undefined) { send(res, 404, { itemNotFound: { code: 404, message: 'Instance could not be found' } }); return }
    if (method === 'GET' && server !== undefined) { count('GET /servers/{id}'); send(res, 200, { server: view(server, link) }); return }
    if (method === 'DELETE' && server !== undefined) {
      count('DELETE /servers/{id}')
      server.status = 'DELETED'
      const deleting = deleteHost(server)
      deletions.add(deleting)
      void deleting.finally(() => { deletions.delete(deleting) })
      res.writeHead(204).end(); return
    }
    send(res, 404, { itemNotFound: { code: 404, message: 'The resource could not be found.' } })
  }

  function createServerCall (text: string, scope: { region: string, tenantId: string }, live: number, res: ServerResponse): void {
    let body: { server?: Record<string, unknown> }
    try { body = JSON.parse(text) } catch { send(res, 400, { badRequest: { code: 400, message: 'Malformed request body' } }); return }
    const spec = body.server
    if (spec === undefined || typeof spec['name'] !== 'string' || spec['name'] === '') { send(res, 400, { badRequest: { code: 400, message: "Invalid input for field/attribute server. Value: None. 'name' is a required property" } }); return }
    if (!options.images.some((image) => image.id === spec['imageRef'])) { send(res, 400, { badRequest: { code: 400, message: `Image ${String(spec['imageRef'])} could not be found.` } }); return }
    if (!options.flavors.some((flavor) => flavor.id === spec['flavorRef'])) { send(res, 400, { badRequest: { code: 400, message: `Flavor ${String(spec['flavorRef'])} could not be found.` } }); return }
    if (spec['key_name'] !== undefined && !(options.keyPairs ?? []).includes(String(spec['key_name']))) { send(res, 400, { badRequest: { code: 400, message: 'Invalid key_name provided.' } }); return }
    const metadata = (spec['metadata'] ?? {}) as Record<string, unknown>
    for (const [key, value] of Object.entries(metadata)) {
      if (typeof value !== 'string' || !/^[a-zA-Z0-9-_:. ]{1,255}$/.test(key) || value.length > 255) { send(res, 400, { badRequest: { code: 400, message: `Invalid input for field/attribute metadata. Value: ${key}` } }); return }
    }
    let userData = ''
    if (spec['user_data'] !== undefined) {
      const raw = String(spec['user_data'])
      if (raw.length > 65535 || !/^[A-Za-z0-9+/]*={0,2}$/.test(raw)) { send(res, 400, { badRequest: { code: 400, message: 'User data needs to be valid base 64.' } }); return }
      userData = Buffer.from(raw, 'base64').toString('utf8')
    }
    if (live >= (options.quota ?? 10)) {
      send(res, 403, { forbidden: { code: 403, message: `Quota exceeded for instances: Requested 1, but already used ${live} of ${options.quota ?? 10} instances` } }); return
    }
    const server: StandInServer = {
      id: randomUUID(),
      name: spec['name'],
      tenantId: scope.tenantId,
      region: scope.region,
      status: 'BUILD',
      imageRef: String(spec['imageRef']),
      flavorRef: String(spec['flavorRef']),
      keyName: typeof spec['key_name'] === 'string' ? spec['key_name'] : null,
      metadata: metadata as Record<string, string>,
      userData,
      created: new Date().toISOString(),
      address: undefined,
      fault: undefined,
      host: undefined,
      createdAt: performance.now(),
      activeAt: undefined,
      launching: undefined
    }
    servers.push(server)
    const fail = faults.failBoots > 0
    if (fail) faults.failBoots--
    if (!faults.neverBoot) {
      const timer = setTimeout(() => {
        timers.delete(timer)
        if (server.status !== 'BUILD') return
        if (fail) { server.status = 'ERROR'; server.fault = 'No valid host was found. There are not enough hosts available.'; return }
        server.launching = options.launch({ id: server.id, name: server.name, userData }).then(async (host) => {
          if (server.status === 'DELETED') { await host.close(); return }
          server.host = host
          server.address = host.address
          server.status = 'ACTIVE'
          server.activeAt = performance.now()
        }, (error: unknown) => {
          if (server.status === 'BUILD') { server.status = 'ERROR'; server.fault = `boot failed: ${error instanceof Error ? error.message : String(error)}` }
        })
      }, options.bootDelayMs ?? 0)
      timers.add(timer)
    }
    send(res, 202, { server: { id: server.id, links: link(server.id), adminPass: randomUUID().slice(0, 12), 'OS-DCF:diskConfig': 'MANUAL', security_groups: [{ name: 'default' }] } })
    function link (id: string): unknown { return [{ rel: 'self', href: `${base}/compute/${scope.region}/v2/${scope.tenantId}/servers/${id}` }] }
  }

  function view (server: StandInServer, link: (id: string) => unknown): unknown {
    return {
      id: server.id,
      name: server.name,
      status: server.status,
      tenant_id: server.tenantId,
      user_id: 'stand-in',
      metadata: server.metadata,
      image: { id: server.imageRef, links: [] },
      flavor: { id: server.flavorRef, links: [] },
      key_name: server.keyName,
      created: server.created,
      updated: server.created,
      accessIPv4: server.address ?? '',
      accessIPv6: '',
      addresses: server.address === undefined ? {} : { public: [{ addr: server.address, version: 4 }], private: [{ addr: '10.176.0.2', version: 4 }] },
      'OS-EXT-STS:task_state': server.status === 'BUILD' ? 'spawning' : null,
      ...(server.fault === undefined ? {} : { fault: { code: 500, message: server.fault, created: server.created } }),
      links: link(server.id)
    }
  }

  function sendPage (res: ServerResponse, key: string, items: Array<{ id: string }>, query: URLSearchParams, self: string): void {
    const size = Math.min(Number(query.get('limit') ?? Infinity), options.pageSize ?? 1000)
    const marker = query.get('marker')
    const start = marker === null ? 0 : items.findIndex((item) => item.id === marker) + 1
    if (marker !== null && start === 0) { send(res, 400, { badRequest: { code: 400, message: `marker [${marker}] not found` } }); return }
    const page = items.slice(start, start + size)
    const more = start + size < items.length
    const next = new URL(self)
    for (const [name, value] of query) if (name !== 'marker') next.searchParams.set(name, value)
    next.searchParams.set('marker', (page.at(-1) as { id: string } | undefined)?.id ?? '')
    send(res, 200, { [key]: page, ...(more ? { [`${key}_links`]: [{ rel: 'next', href: next.toString() }] } : {}) })
  }

  /** Hosts a DELETE is still shutting down: close() waits for them too. */
  const deletions = new Set<Promise<void>>()

  async function deleteHost (server: StandInServer): Promise<void> {
    await server.launching
    const host = server.host
    server.host = undefined
    await host?.close()
  }

  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve))
  base = `http://127.0.0.1:${(http.address() as AddressInfo).port}`

  const close = async (): Promise<void> => {
    for (const timer of timers) clearTimeout(timer)
    for (const server of servers) if (server.status !== 'DELETED') server.status = 'DELETED'
    await Promise.allSettled([...servers.map(deleteHost), ...deletions])
    http.closeAllConnections()
    await new Promise<void>((resolve) => http.close(() => { resolve() }))
  }
  return {
    identityUrl: `${base}/v2.0`,
    computeUrl: (region, tenantId) => `${base}/compute/${region}/v2/${tenantId}`,
    faults,
    calls,
    servers: () => servers,
    liveServers: () => servers.filter((server) => server.status !== 'DELETED'),
    revokeTokens: () => { tokens.clear() },
    cutHost: async (id) => {
      const server = servers.find((item) => item.id === id)
      if (server !== undefined) await deleteHost(server)
    },
    close,
    [Symbol.asyncDispose]: close
  }
}

function send (res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body)
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) }).end(text)
}

async function readBody (req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length
    if (size > 1_048_576) throw new Error('request body over 1 MiB')
    chunks.push(chunk)
  }
  return Buffer.concat(chunks).toString('utf8')
}
