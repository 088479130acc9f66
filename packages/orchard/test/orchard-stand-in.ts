import { randomBytes, randomInt } from 'node:crypto'
import { readFile, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { openStateDirectory, type StateDirectory } from '@libswarm/provision'
import { startEngine, type Engine } from '@libswarm/test-engine'

/** A host of the stand-in: a private dockerd with mutual TLS on IP:4243, or none (an engine that does not answer). */
interface StandInHost {
  id: string
  name: string
  size: number
  ip: string
  engine?: Engine
  booting?: Promise<void>
}

/** Options of {@link startOrchardStandIn}. */
export interface OrchardStandInOptions {
  /** Accounts for `POST /signin`: user -> password. */
  users?: Record<string, string>
  /** Most engines started at once (this machine's limit). Default 3. */
  maxEngines?: number
}

/**
 * A local stand-in for Orchard's v2 host API, written from the types and calls of its public
 * Go client (orchardup/go-orchard `api/api.go`): `POST /signin` (form `username`, `password`
 * -> `{"token"}`), `GET /hosts`, `GET /hosts/{name}`, `POST /hosts` (`{"name","size"}`),
 * `DELETE /hosts/{name}`, each but signin with `Authorization: Token T`; errors are
 * `{"detail": ...}` with their status. Each host is a private dockerd listening with
 * `--tlsverify` on its own loopback address, port 4243, with a server certificate for that
 * address signed by the stand-in's CA; `client_cert`/`client_key` are a client certificate of
 * that CA.
 */
export class OrchardStandIn implements AsyncDisposable {
  readonly hosts = new Map<string, StandInHost>()
  readonly tokens = new Set<string>()
  /** `METHOD PATH` of every request, in order. */
  readonly requests: string[] = []
  url = ''
  caFile = ''
  private dir = ''
  private state: StateDirectory | undefined
  private clientCert = ''
  private clientKey = ''
  private readonly server = createServer((req, res) => { void this.handle(req, res) })

  constructor (private readonly options: OrchardStandInOptions = {}) {}

  async start (): Promise<this> {
    this.dir = await mkdtemp(join(tmpdir(), 'orchard-stand-in-'))
    this.state = await openStateDirectory(join(this.dir, 'ca'))
    this.clientCert = await readFile(this.state.clientCertFile, 'utf8')
    this.clientKey = await readFile(this.state.clientKeyFile, 'utf8')
    this.caFile = join(this.dir, 'orchard-ca.pem')
    await writeFile(this.caFile, this.state.caCert)
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve))
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/v2`
    return this
  }

  /** A new API token. */
  issueToken (): string {
    const token = randomBytes(20).toString('hex')
    this.tokens.add(token)
    return token
  }

  /** Adds a host as if created earlier; `engine: false` gives it an address nothing answers on. */
  async addHost (name: string, options: { engine?: boolean } = {}): Promise<void> {
    const host = this.newHost(name, 512)
    if (options.engine !== false) await this.boot(host)
  }

  private newHost (name: string, size: number): StandInHost {
    // a loopback address of its own, so that every engine listens on Orchard's port 4243
    const host: StandInHost = { id: randomBytes(6).toString('hex'), name, size, ip: `127.${randomInt(1, 255)}.${randomInt(0, 256)}.${randomInt(1, 255)}` }
    this.hosts.set(name, host)
    return host
  }

  private async boot (host: StandInHost): Promise<void> {
    const running = [...this.hosts.values()].filter((each) => each.engine !== undefined || each.booting !== undefined).length
    if (running >= (this.options.maxEngines ?? 3)) throw new Error(`stand-in: at most ${this.options.maxEngines ?? 3} engines at once`)
    const server = await (this.state as StateDirectory).issueServerCertificate(host.ip)
    host.engine = await startEngine({ name: host.name, tls: { caCert: (this.state as StateDirectory).caCert, cert: server.cert, key: server.key, host: host.ip, port: 4243 } })
  }

  private async handle (req: IncomingMessage, res: ServerResponse): Promise<void> {
    const reply = (status: number, body?: unknown): void => {
      res.writeHead(status, { 'Content-Type': 'application/json' }).end(body === undefined ? '' : JSON.stringify(body))
    }
    try {
      const chunks: Buffer[] = []
      for await (const chunk of req) chunks.push(chunk as Buffer)
      const body = Buffer.concat(chunks).toString()
      const path = new URL(req.url ?? '/', 'http://x').pathname.replace(/^\/v2/, '')
      this.requests.push(`${req.method ?? ''} ${path}`)
      if (req.method === 'POST' && path === '/signin') {
        const form = new URLSearchParams(body)
        const password = this.options.users?.[form.get('username') ?? '']
        if (password === undefined || password !== form.get('password')) return reply(400, { detail: 'Unable to log in with provided credentials.' })
        return reply(200, { token: this.issueToken() })
      }
      const auth = /^Token (.+)$/.exec(req.headers.authorization ?? '')
      if (auth === null) return reply(401, { detail: 'Authentication credentials were not provided.' })
      if (!this.tokens.has(auth[1] as string)) return reply(401, { detail: 'Invalid token' })
      const named = /^\/hosts\/([^/]+)$/.exec(path)
      if (req.method === 'GET' && path === '/hosts') return reply(200, [...this.hosts.values()].map((host) => this.describe(host)))
      if (req.method === 'POST' && path === '/hosts') {
        let wanted: { name?: unknown, size?: unknown }
        try { wanted = JSON.parse(body) } catch { return reply(400, { detail: 'JSON parse error' }) }
        if (typeof wanted.name !== 'string' || !/^[a-z0-9-]{1,40}$/.test(wanted.name)) return reply(400, { detail: 'A host name is letters, digits and dashes.' })
        if (![512, 1024, 2048, 4096, 8192].includes(wanted.size as number)) return reply(400, { detail: `${String(wanted.size)} is not a valid size.` })
        if (this.hosts.has(wanted.name)) return reply(400, { detail: `You already have a host named ${wanted.name}.` })
        const host = this.newHost(wanted.name, wanted.size as number)
        // it answers at once; the host gets its address and certificate once its engine runs
        host.booting = this.boot(host).finally(() => { host.booting = undefined })
        host.booting.catch(() => { this.hosts.delete(host.name) })
        return reply(201, this.describe(host))
      }
      if (named !== null) {
        const host = this.hosts.get(decodeURIComponent(named[1] as string))
        if (host === undefined) return reply(404, { detail: 'Not found' })
        if (req.method === 'GET') return reply(200, this.describe(host))
        if (req.method === 'DELETE') {
          this.hosts.delete(host.name)
          await host.booting?.catch(() => {})
          await host.engine?.close()
          return reply(204)
        }
      }
      return reply(405, { detail: `Method "${req.method ?? ''}" not allowed.` })
    } catch (error) {
      reply(500, { detail: (error as Error).message })
    }
  }

  private describe (host: StandInHost): Record<string, unknown> {
    const ready = host.booting === undefined
    return {
      id: host.id,
      name: host.name,
      size: host.size,
      url: `tcp://${host.ip}:4243`,
      ipv4_address: ready ? host.ip : null,
      client_cert: ready ? this.clientCert : null,
      client_key: ready ? this.clientKey : null
    }
  }

  async close (): Promise<void> {
    await new Promise<void>((resolve) => { this.server.close(() => { resolve() }); this.server.closeAllConnections() })
    await Promise.allSettled([...this.hosts.values()].map(async (host) => {
      await host.booting?.catch(() => {})
      await host.engine?.close()
    }))
    await rm(this.dir, { recursive: true, force: true })
  }

  async [Symbol.asyncDispose] (): Promise<void> { await this.close() }
}

/** Starts an {@link OrchardStandIn}. */
export async function startOrchardStandIn (options?: OrchardStandInOptions): Promise<OrchardStandIn> {
  return await new OrchardStandIn(options).start()
}
