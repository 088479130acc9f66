import { ErrorCode, SwarmError, type AbortOptions } from '@libswarm/core'

/** Orchard's API as its CLI used it before the service closed. */
export const ORCHARD_API_URL = 'https://api.orchardup.com/v2'

/** A host as Orchard's API describes it (`GET /hosts/{name}`), with the client TLS material for its engine. */
export interface OrchardHost {
  id?: string
  name: string
  /** Memory in MB. */
  size?: number
  /** The address its engine listens on, port 4243. */
  ipv4_address: string
  /** PEM client certificate and key the engine accepts. */
  client_cert: string
  client_key: string
}

/** The HTTP status an Orchard error answered with, beside its `detail`. */
const STATUS_CODES: Record<number, ErrorCode> = {
  400: ErrorCode.BadRequest,
  401: ErrorCode.Unauthorized,
  403: ErrorCode.Forbidden,
  404: ErrorCode.NotFound,
  409: ErrorCode.Conflict
}

/**
 * A client of Orchard's host API: sign in, read, create and delete hosts. Every call
 * sends `Authorization: Token T`; an error answer (`{"detail": ...}` with its status)
 * becomes a {@link SwarmError} naming the status and the detail.
 */
export class OrchardApi {
  constructor (readonly baseUrl: string, public token = '') {}

  /** `POST /signin` with the user's name and password (a form): the API token. */
  async signIn (username: string, password: string, options: AbortOptions = {}): Promise<string> {
    const body = new URLSearchParams({ username, password })
    const reply = await this.call('POST', '/signin', { body, signal: options.signal, anonymous: true }) as { token?: unknown }
    if (typeof reply?.token !== 'string' || reply.token === '') throw new SwarmError(ErrorCode.Protocol, `orchard: ${this.baseUrl}/signin answered no token`)
    return reply.token
  }

  /** `GET /hosts/{name}`. */
  async getHost (name: string, options: AbortOptions = {}): Promise<OrchardHost> {
    return checkHost(await this.call('GET', `/hosts/${encodeURIComponent(name)}`, options), name)
  }

  /** `POST /hosts` with the name and the memory size in MB; the new host has its address and certificates once booted ({@link getHost}). */
  async createHost (name: string, sizeMb: number, options: AbortOptions = {}): Promise<void> {
    await this.call('POST', '/hosts', { body: JSON.stringify({ name, size: sizeMb }), signal: options.signal })
  }

  /** `DELETE /hosts/{name}`. */
  async deleteHost (name: string, options: AbortOptions = {}): Promise<void> {
    await this.call('DELETE', `/hosts/${encodeURIComponent(name)}`, options)
  }

  private async call (method: string, path: string, options: { body?: string | URLSearchParams, signal?: AbortSignal | undefined, anonymous?: boolean }): Promise<unknown> {
    const headers: Record<string, string> = { 'User-Agent': 'libswarm-orchard' }
    if (options.anonymous !== true) headers.Authorization = `Token ${this.token}`
    if (typeof options.body === 'string') headers['Content-Type'] = 'application/json'
    let response: Response
    try {
      response = await fetch(`${this.baseUrl}${path}`, { method, headers, body: options.body, signal: options.signal ?? AbortSignal.timeout(30_000) })
    } catch (error) {
      options.signal?.throwIfAborted()
      throw new SwarmError(ErrorCode.Unavailable, `orchard: cannot reach ${this.baseUrl} (${method} ${path}): ${(error as Error).message}`, { cause: error })
    }
    const text = await response.text()
    if (!response.ok) {
      let detail = text.trim()
      try {
        const json = JSON.parse(text) as { detail?: unknown }
        if (typeof json.detail === 'string') detail = json.detail
      } catch {}
      throw new SwarmError(STATUS_CODES[response.status] ?? (response.status >= 500 ? ErrorCode.Unavailable : ErrorCode.BadRequest), `orchard: ${method} ${path} answered ${response.status}: ${detail === '' ? response.statusText : detail}`)
    }
    if (text === '') return undefined
    try {
      return JSON.parse(text)
    } catch (error) {
      throw new SwarmError(ErrorCode.Protocol, `orchard: ${method} ${path} answered no JSON`, { cause: error })
    }
  }
}

function checkHost (value: unknown, name: string): OrchardHost {
  const host = value as Partial<OrchardHost> | undefined
  for (const field of ['ipv4_address', 'client_cert', 'client_key'] as const) {
    if (typeof host?.[field] !== 'string' || host[field] === '') throw new SwarmError(ErrorCode.Unavailable, `orchard: host ${name} has no ${field} yet (is it still booting?)`)
  }
  return { ...host, name: typeof host?.name === 'string' ? host.name : name } as OrchardHost
}

/** Orchard's sizes, as its CLI took them: 512M, 1G, 2G, 4G, 8G; the API wants megabytes. */
export function parseOrchardSize (text: string): number {
  const match = /^(\d+)([MG])?$/i.exec(text.trim())
  const mb = match === null ? NaN : Number(match[1]) * ((match[2] ?? 'M').toUpperCase() === 'G' ? 1024 : 1)
  if (![512, 1024, 2048, 4096, 8192].includes(mb)) throw new SwarmError(ErrorCode.InvalidArguments, `orchard: --size wants 512M, 1G, 2G, 4G or 8G, got ${JSON.stringify(text)}`)
  return mb
}
