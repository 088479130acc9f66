import { ErrorCode, SwarmError, type AbortOptions } from '@libswarm/core'

/** How a call authenticates: a user's token (`X-Access-Token: user:token`) or a service key (`X-Service-Key`). */
export type ShipyardCredentials = { user: string, token: string } | { serviceKey: string }

/** citadel's image: what Shipyard runs a container from (`POST /api/containers`). */
export interface ShipyardImage {
  name: string
  container_name?: string
  cpus?: number
  /** MB. */
  memory?: number
  environment?: Record<string, string>
  hostname?: string
  args?: string[]
  type?: string
  labels?: string[]
  bind_ports?: ShipyardPort[]
  restart_policy?: { name?: string, maximum_retry?: number }
  publish?: boolean
}

/** citadel's port: a container port and where it is published. */
export interface ShipyardPort {
  proto?: string
  host_ip?: string
  port?: number
  container_port?: number
}

/** citadel's engine, inside Shipyard's engine record. */
export interface CitadelEngine {
  id: string
  /** `http://host:port` or `https://host:port`. */
  addr: string
  cpus?: number
  memory?: number
  labels?: string[]
}

/** A Shipyard engine (`GET /api/engines`): citadel's engine with the TLS material to reach it. */
export interface ShipyardEngine {
  id?: string
  ssl_cert?: string
  ssl_key?: string
  ca_cert?: string
  engine: CitadelEngine
  health?: { status?: string, response_time?: number }
  docker_version?: string
}

/** A container as Shipyard lists it (citadel's container). */
export interface ShipyardContainer {
  id: string
  name?: string
  image?: ShipyardImage
  engine?: CitadelEngine
  state?: { status?: string, exit_code?: number, started_at?: string }
  ports?: ShipyardPort[]
}

/** A Shipyard event (`GET /api/events`). */
export interface ShipyardEvent {
  type: string
  container?: ShipyardContainer
  engine?: CitadelEngine
  time: string
  message?: string
  tags?: string[]
}

/** `GET /api/cluster/info`. */
export interface ShipyardClusterInfo {
  cpus?: number
  memory?: number
  container_count?: number
  engine_count?: number
  image_count?: number
  reserved_cpus?: number
  reserved_memory?: number
  version?: string
}

const STATUS_CODES: Record<number, ErrorCode> = {
  400: ErrorCode.BadRequest,
  401: ErrorCode.Unauthorized,
  403: ErrorCode.Forbidden,
  404: ErrorCode.NotFound,
  409: ErrorCode.Conflict
}

/**
 * A client of Shipyard's v2 controller API. Its handlers answer errors as plain text
 * (`http.Error`) with a status: 401 `unauthorized`, 403 `access denied`, and 500 for most
 * failures, whose text says what went wrong ("not found" becomes NOT_FOUND).
 */
export class ShipyardApi {
  credentials: ShipyardCredentials | undefined

  constructor (readonly url: string, credentials?: ShipyardCredentials) {
    this.credentials = credentials
  }

  /** `POST /auth/login` with `{"username","password"}`: keeps and returns the user's token. */
  async login (username: string, password: string, options: AbortOptions = {}): Promise<string> {
    const reply = JSON.parse(await this.text('POST', '/auth/login', { body: { username, password }, signal: options.signal, anonymous: true })) as { auth_token?: unknown }
    if (typeof reply.auth_token !== 'string' || reply.auth_token === '') throw new SwarmError(ErrorCode.Protocol, `shipyard: ${this.url}/auth/login answered no auth_token`)
    this.credentials = { user: username, token: reply.auth_token }
    return reply.auth_token
  }

  /** A JSON call. */
  async json<T> (method: string, path: string, options: AbortOptions & { body?: unknown } = {}): Promise<T> {
    const text = await this.text(method, path, options)
    try {
      return (text.trim() === '' ? undefined : JSON.parse(text)) as T
    } catch (error) {
      throw new SwarmError(ErrorCode.Protocol, `shipyard: ${method} ${path} answered no JSON`, { cause: error })
    }
  }

  /** A call whose answer is text (logs), or nothing. */
  async text (method: string, path: string, options: AbortOptions & { body?: unknown, anonymous?: boolean } = {}): Promise<string> {
    const headers: Record<string, string> = { 'User-Agent': 'libswarm-shipyard' }
    const credentials = this.credentials
    if (options.anonymous !== true && credentials !== undefined) {
      if ('serviceKey' in credentials) headers['X-Service-Key'] = credentials.serviceKey
      else headers['X-Access-Token'] = `${credentials.user}:${credentials.token}`
    }
    if (options.body !== undefined) headers['Content-Type'] = 'application/json'
    let response: Response
    try {
      response = await fetch(`${this.url}${path}`, { method, headers, body: options.body === undefined ? undefined : JSON.stringify(options.body), signal: options.signal ?? AbortSignal.timeout(60_000) })
    } catch (error) {
      options.signal?.throwIfAborted()
      throw new SwarmError(ErrorCode.Unavailable, `shipyard: cannot reach ${this.url} (${method} ${path}): ${(error as Error).message}`, { cause: error })
    }
    const text = await response.text()
    if (response.ok) return text
    const detail = text.trim() === '' ? response.statusText : text.trim()
    const code = STATUS_CODES[response.status] ?? (/not found|no such/i.test(detail) ? ErrorCode.NotFound : response.status >= 500 ? ErrorCode.Internal : ErrorCode.BadRequest)
    throw new SwarmError(code, `shipyard: ${method} ${path.split('?')[0] ?? path} answered ${response.status}: ${detail}`)
  }
}
