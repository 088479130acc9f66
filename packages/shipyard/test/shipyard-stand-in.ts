import { randomBytes } from 'node:crypto'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { createServer, request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http'
import { request as httpsRequest } from 'node:https'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { openStateDirectory } from '@libswarm/provision'
import { startEngine, type Engine } from '@libswarm/test-engine'
import type { ShipyardContainer, ShipyardEngine, ShipyardEvent, ShipyardImage } from '../src/index.js'

/** Role ACLs as Shipyard v2's access middleware has them: path prefixes per role name. */
const ACL: Record<string, string[]> = {
  admin: ['*'],
  user: ['/api/containers', '/api/cluster/info', '/api/events', '/api/engines']
}

interface Account { password: string, role: string, tokens: Set<string> }

/**
 * A local stand-in for Shipyard v2's controller (shipyard/shipyard v2.0.x `controller/main.go`
 * routes, its auth and access middleware, and the citadel types it speaks): `POST /auth/login`,
 * and under `/api/` with `X-Service-Key` or `X-Access-Token: user:token` (401 `unauthorized`)
 * and the role ACL (403 `access denied`): containers (list, run, inspect, destroy, stop,
 * restart, scale, logs), engines (list, add, inspect, remove), events, cluster info, roles.
 * Errors are plain text, as Go's `http.Error` writes them. Its engines are real private
 * dockerd listening with `--tlsverify` on loopback; it reaches them at their `addr` with the
 * `ssl_cert`/`ssl_key`/`ca_cert` it holds, as Shipyard did.
 */
export class ShipyardStandIn implements AsyncDisposable {
  readonly accounts = new Map<string, Account>()
  readonly serviceKeys = new Set<string>()
  readonly engines = new Map<string, ShipyardEngine>()
  /** `METHOD PATH` of every request. */
  readonly requests: string[] = []
  url = ''
  private readonly started = Math.floor(Date.now() / 1000)
  private readonly owned: Engine[] = []
  private dir = ''
  private readonly server = createServer((req, res) => { void this.handle(req, res) })

  async start (): Promise<this> {
    this.dir = await mkdtemp(join(tmpdir(), 'shipyard-stand-in-'))
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve))
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`
    return this
  }

  addAccount (username: string, password: string, role: string): void {
    this.accounts.set(username, { password, role, tokens: new Set() })
  }

  issueServiceKey (): string {
    const key = randomBytes(16).toString('hex')
    this.serviceKeys.add(key)
    return key
  }

  /** Starts a private dockerd with mutual TLS on loopback and registers it as engine `id`. */
  async addEngine (id: string, labels: string[] = []): Promise<Engine> {
    const state = await openStateDirectory(join(this.dir, id))
    const server = await state.issueServerCertificate('127.0.0.1')
    const engine = await startEngine({ name: id, tls: { caCert: state.caCert, cert: server.cert, key: server.key } })
    this.owned.push(engine)
    const record: ShipyardEngine = {
      id,
      ssl_cert: await readFile(state.clientCertFile, 'utf8'),
      ssl_key: await readFile(state.clientKeyFile, 'utf8'),
      ca_cert: state.caCert,
      engine: { id, addr: (engine.tcpHost ?? '').replace('tcp://', 'https://'), labels },
      health: { status: 'healthy', response_time: 1 }
    }
    const info = await this.dockerJson<{ NCPU: number, MemTotal: number, ServerVersion: string }>(record, 'GET', '/info')
    record.engine.cpus = info.NCPU
    record.engine.memory = Math.floor(info.MemTotal / 1048576)
    record.docker_version = info.ServerVersion
    this.engines.set(id, record)
    return engine
  }

  /** One Docker API call to a registered engine, at its addr, with the TLS material Shipyard holds. */
  private async docker (record: ShipyardEngine, method: string, path: string, body?: unknown): Promise<{ status: number, body: Buffer }> {
    const url = new URL(record.engine.addr)
    const send = url.protocol === 'https:' ? httpsRequest : httpRequest
    return await new Promise((resolve, reject) => {
      const req = send({ host: url.hostname, port: url.port, method, path, ca: record.ca_cert, cert: record.ssl_cert, key: record.ssl_key, headers: body === undefined ? {} : { 'Content-Type': 'application/json' }, timeout: 30_000 }, (res) => {
        const chunks: Buffer[] = []
        res.on('data', (chunk: Buffer) => chunks.push(chunk))
        res.on('end', () => { resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }) })
        res.on('error', reject)
      })
      req.on('error', reject)
      req.on('timeout', () => req.destroy(new Error('engine timeout')))
      req.end(body === undefined ? undefined : JSON.stringify(body))
    })
  }

  private async dockerJson<T> (record: ShipyardEngine, method: string, path: string, body?: unknown): Promise<T> {
    const reply = await this.docker(record, method, path, body)
    if (reply.status >= 400) throw new Error(`engine ${record.engine.id}: ${JSON.parse(reply.body.toString()).message as string}`)
    return (reply.body.length === 0 ? undefined : JSON.parse(reply.body.toString())) as T
  }

  /** citadel's view of a Docker container. */
  private async container (record: ShipyardEngine, id: string): Promise<ShipyardContainer> {
    const info = await this.dockerJson<any>(record, 'GET', `/containers/${id}/json`)
    const labels = Object.entries((info.Config.Labels ?? {}) as Record<string, string>).map(([key, value]) => `${key}=${value}`)
    const environment: Record<string, string> = {}
    for (const pair of (info.Config.Env ?? []) as string[]) environment[pair.slice(0, pair.indexOf('='))] = pair.slice(pair.indexOf('=') + 1)
    const ports = Object.entries((info.NetworkSettings.Ports ?? {}) as Record<string, Array<{ HostIp: string, HostPort: string }> | null>).flatMap(([key, bindings]) => (bindings ?? []).map((binding) => ({ proto: key.split('/')[1], host_ip: binding.HostIp, port: Number(binding.HostPort), container_port: Number(key.split('/')[0]) })))
    const image: ShipyardImage = {
      name: info.Config.Image,
      container_name: (info.Name as string).replace(/^\//, ''),
      args: info.Config.Cmd ?? [],
      environment,
      hostname: info.Config.Hostname,
      labels,
      cpus: (info.HostConfig.NanoCpus ?? 0) / 1e9,
      memory: (info.HostConfig.Memory ?? 0) / 1048576,
      restart_policy: { name: info.HostConfig.RestartPolicy?.Name ?? '', maximum_retry: info.HostConfig.RestartPolicy?.MaximumRetryCount ?? 0 },
      bind_ports: Object.entries((info.HostConfig.PortBindings ?? {}) as Record<string, Array<{ HostIp: string, HostPort: string }>>).flatMap(([key, bindings]) => bindings.map((binding) => ({ proto: key.split('/')[1], host_ip: binding.HostIp, port: Number(binding.HostPort), container_port: Number(key.split('/')[0]) }))),
      type: 'service'
    }
    return { id: info.Id, name: image.container_name, image, engine: record.engine, state: { status: info.State.Running === true ? 'running' : 'stopped', exit_code: info.State.ExitCode, started_at: info.State.StartedAt }, ports }
  }

  /** The engine holding a container (by id, id prefix or name), or undefined. */
  private async locate (ref: string): Promise<{ record: ShipyardEngine, id: string } | undefined> {
    for (const record of this.engines.values()) {
      const reply = await this.docker(record, 'GET', `/containers/${encodeURIComponent(ref)}/json`)
      if (reply.status === 200) return { record, id: JSON.parse(reply.body.toString()).Id }
    }
    return undefined
  }

  private async containers (): Promise<ShipyardContainer[]> {
    const all: ShipyardContainer[] = []
    for (const record of this.engines.values()) {
      const rows = await this.dockerJson<Array<{ Id: string }>>(record, 'GET', '/containers/json?all=1')
      for (const row of rows) all.push(await this.container(record, row.Id))
    }
    return all
  }

  /** citadel's scheduler, in short: engines whose labels hold every image label, the one with fewest containers. */
  private async place (image: ShipyardImage): Promise<ShipyardEngine> {
    let best: { record: ShipyardEngine, count: number } | undefined
    for (const record of this.engines.values()) {
      const count = (await this.dockerJson<unknown[]>(record, 'GET', '/containers/json?all=1')).length
      if (best === undefined || count < best.count) best = { record, count }
    }
    if (best === undefined) throw new Error('no engines available to run ' + image.name)
    return best.record
  }

  private async run (image: ShipyardImage): Promise<ShipyardContainer> {
    const record = await this.place(image)
    const exposed: Record<string, object> = {}
    const bindings: Record<string, Array<{ HostIp: string, HostPort: string }>> = {}
    for (const port of image.bind_ports ?? []) {
      const key = `${port.container_port ?? port.port ?? 0}/${port.proto ?? 'tcp'}`
      exposed[key] = {}
      bindings[key] = [{ HostIp: port.host_ip ?? '', HostPort: String(port.port ?? '') }]
    }
    const labels: Record<string, string> = {}
    for (const label of image.labels ?? []) labels[label.split('=')[0] as string] = label.slice(label.indexOf('=') + 1)
    const created = await this.dockerJson<{ Id: string }>(record, 'POST', `/containers/create${image.container_name === undefined ? '' : `?name=${encodeURIComponent(image.container_name)}`}`, {
      Image: image.name,
      Cmd: image.args,
      Hostname: image.hostname,
      Env: Object.entries(image.environment ?? {}).map(([key, value]) => `${key}=${value}`),
      Labels: labels,
      ExposedPorts: exposed,
      HostConfig: {
        PortBindings: bindings,
        PublishAllPorts: image.publish === true,
        RestartPolicy: { Name: image.restart_policy?.name ?? '', MaximumRetryCount: image.restart_policy?.maximum_retry ?? 0 },
        Memory: Math.round((image.memory ?? 0) * 1048576),
        NanoCpus: Math.round((image.cpus ?? 0) * 1e9)
      }
    })
    await this.dockerJson(record, 'POST', `/containers/${created.Id}/start`)
    return await this.container(record, created.Id)
  }

  private async events (): Promise<ShipyardEvent[]> {
    const out: ShipyardEvent[] = []
    for (const record of this.engines.values()) {
      const reply = await this.docker(record, 'GET', `/events?since=${this.started}&until=${Math.floor(Date.now() / 1000)}&filters=${encodeURIComponent('{"type":["container"]}')}`)
      for (const line of reply.body.toString().split('\n').filter((each) => each !== '')) {
        const event = JSON.parse(line) as { status: string, id: string, from: string, timeNano: number, Actor: { Attributes: Record<string, string> } }
        out.push({ type: event.status, container: { id: event.id, name: event.Actor.Attributes.name, image: { name: event.from } }, engine: record.engine, time: new Date(event.timeNano / 1e6).toISOString(), message: '', tags: [] })
      }
    }
    return out.sort((a, b) => Date.parse(b.time) - Date.parse(a.time))
  }

  private authorized (req: IncomingMessage): 'ok' | 401 | 403 {
    const serviceKey = req.headers['x-service-key']
    if (typeof serviceKey === 'string' && serviceKey !== '') return this.serviceKeys.has(serviceKey) ? 'ok' : 401
    const parts = String(req.headers['x-access-token'] ?? '').split(':')
    if (parts.length !== 2) return 401
    const account = this.accounts.get(parts[0] as string)
    if (account === undefined || !account.tokens.has(parts[1] as string)) return 401
    const path = new URL(req.url ?? '/', 'http://x').pathname
    return (ACL[account.role] ?? []).some((prefix) => prefix === '*' || path.startsWith(prefix)) ? 'ok' : 403
  }

  private async handle (req: IncomingMessage, res: ServerResponse): Promise<void> {
    const text = (status: number, message: string): void => { res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8' }).end(`${message}\n`) }
    const json = (value: unknown, status = 200): void => { res.writeHead(status, { 'Content-Type': 'application/json' }).end(`${JSON.stringify(value)}\n`) }
    try {
      const chunks: Buffer[] = []
      for await (const chunk of req) chunks.push(chunk as Buffer)
      const body = Buffer.concat(chunks).toString()
      const url = new URL(req.url ?? '/', 'http://x')
      const path = url.pathname
      const method = req.method ?? 'GET'
      this.requests.push(`${method} ${path}`)
      if (method === 'POST' && path === '/auth/login') {
        const creds = JSON.parse(body) as { username?: string, password?: string }
        const account = this.accounts.get(creds.username ?? '')
        if (account === undefined || account.password !== creds.password) return text(403, 'invalid username/password')
        const token = randomBytes(16).toString('hex')
        account.tokens.add(token)
        return json({ auth_token: token, user_agent: req.headers['user-agent'] ?? '' })
      }
      if (!path.startsWith('/api/')) return text(404, '404 page not found')
      const verdict = this.authorized(req)
      if (verdict === 401) return text(401, 'unauthorized')
      if (verdict === 403) return text(403, 'access denied')
      const route = `${method} ${path.replace(/^\/api\/(containers|engines|roles)\/[^/]+/, '/api/$1/{id}')}`
      const id = decodeURIComponent(path.split('/')[3] ?? '')
      switch (route) {
        case 'GET /api/roles': return json(Object.keys(ACL).map((name) => ({ id: name, name })))
        case 'GET /api/containers': return json(await this.containers())
        case 'POST /api/containers': {
          const count = Number(url.searchParams.get('count') ?? '1')
          const image = JSON.parse(body) as ShipyardImage
          const launched: ShipyardContainer[] = []
          for (let index = 0; index < count; index++) launched.push(await this.run(index === 0 ? image : { ...image, container_name: undefined }))
          return json(launched, 201)
        }
        case 'GET /api/engines': return json([...this.engines.values()])
        case 'POST /api/engines': {
          const record = JSON.parse(body) as ShipyardEngine
          this.engines.set(record.engine.id, { ...record, id: record.engine.id, health: { status: 'pending', response_time: 0 } })
          res.writeHead(201).end()
          return
        }
        case 'GET /api/engines/{id}': return json(this.engines.get(id) ?? null)
        case 'DELETE /api/engines/{id}':
          this.engines.delete(id)
          res.writeHead(204).end()
          return
        case 'GET /api/events': {
          const limit = Number(url.searchParams.get('limit') ?? '-1')
          const events = await this.events()
          return json(limit >= 0 ? events.slice(0, limit) : events)
        }
        case 'GET /api/cluster/info': {
          const records = [...this.engines.values()]
          const containers = await this.containers()
          let images = 0
          for (const record of records) images += (await this.dockerJson<unknown[]>(record, 'GET', '/images/json')).length
          return json({ cpus: records.reduce((sum, record) => sum + (record.engine.cpus ?? 0), 0), memory: records.reduce((sum, record) => sum + (record.engine.memory ?? 0), 0), container_count: containers.length, engine_count: records.length, image_count: images, reserved_cpus: 0, reserved_memory: 0, version: '2.0.8' })
        }
      }
      if (path.startsWith('/api/containers/')) {
        const found = await this.locate(id)
        if (found === undefined) return text(500, `container ${id} not found`)
        const action = path.split('/')[4] ?? ''
        if (method === 'GET' && action === '') return json(await this.container(found.record, found.id))
        if (method === 'DELETE' && action === '') {
          await this.dockerJson(found.record, 'DELETE', `/containers/${found.id}?force=1&v=1`)
          res.writeHead(204).end()
          return
        }
        if (method === 'GET' && (action === 'stop' || action === 'restart')) {
          await this.dockerJson(found.record, 'POST', `/containers/${found.id}/${action}${action === 'restart' ? '?t=10' : ''}`)
          res.writeHead(204).end()
          return
        }
        if (method === 'GET' && action === 'scale') {
          const count = Number(url.searchParams.get('count') ?? '')
          if (!Number.isInteger(count)) return text(400, 'you must specify a count')
          const container = await this.container(found.record, found.id)
          for (let index = 1; index < count; index++) await this.run({ ...(container.image as ShipyardImage), container_name: undefined })
          res.writeHead(204).end()
          return
        }
        if (method === 'GET' && action === 'logs') {
          const raw = (await this.docker(found.record, 'GET', `/containers/${found.id}/logs?stdout=1&stderr=1`)).body
          // Docker's stdcopy into one writer: the frames' payloads, stdout and stderr together
          const out: Buffer[] = []
          for (let at = 0; at + 8 <= raw.length;) {
            const size = raw.readUInt32BE(at + 4)
            out.push(raw.subarray(at + 8, at + 8 + size))
            at += 8 + size
          }
          res.writeHead(200).end(Buffer.concat(out))
          return
        }
      }
      return text(405, 'method not allowed')
    } catch (error) {
      text(500, (error as Error).message)
    }
  }

  async close (): Promise<void> {
    await new Promise<void>((resolve) => { this.server.close(() => { resolve() }); this.server.closeAllConnections() })
    await Promise.allSettled(this.owned.map(async (engine) => { await engine.close() }))
    await rm(this.dir, { recursive: true, force: true })
  }

  async [Symbol.asyncDispose] (): Promise<void> { await this.close() }
}

/** Starts a {@link ShipyardStandIn}. */
export async function startShipyardStandIn (): Promise<ShipyardStandIn> {
  return await new ShipyardStandIn().start()
}
