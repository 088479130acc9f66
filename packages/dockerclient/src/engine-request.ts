import { ErrorCode, SwarmError } from '@libswarm/core'
import { DOCKER_OPERATIONS, UNMAPPED_OPERATION, operationUrl, type DockerQuery, type DockerRequest, type ResponseKind } from '@libswarm/docker-api'

/** The HTTP request for a Docker request, before it meets a connection. */
export interface EngineHttpRequest {
  readonly method: string
  /** Path and query, with the `/vX.Y` prefix when the request named a version. */
  readonly path: string
  readonly headers: Record<string, string | string[]>
  /** A JSON body, already serialised. */
  readonly json?: string | undefined
  /** True when `request.stream` is the body (tar, image, build context). */
  readonly streamBody: boolean
  /** How the engine answers. */
  readonly response: ResponseKind | 'unknown'
}

/** Request headers never forwarded: hop-by-hop ones, and those Node computes itself. */
const DROPPED_HEADERS = new Set(['connection', 'upgrade', 'transfer-encoding', 'content-length', 'host', 'keep-alive', 'te', 'trailer', 'proxy-connection'])

/** `?a=1&b=x&b=y` from a query record (repeated keys stay repeated). */
export function queryString (query: DockerQuery | undefined): string {
  if (query === undefined) return ''
  const params = new URLSearchParams()
  for (const [key, value] of Object.entries(query)) {
    for (const item of Array.isArray(value) ? value : [value]) params.append(key, item)
  }
  const text = params.toString()
  return text === '' ? '' : `?${text}`
}

/**
 * Builds the engine request from the operation table: method, `operationUrl`, query,
 * JSON body, meaningful headers (X-Registry-Auth, X-Registry-Config, Content-Type) and,
 * for hijacked operations, `Connection: Upgrade` with `Upgrade: tcp` (or the `h2c` the
 * client asked for).
 */
export function buildEngineRequest (request: DockerRequest): EngineHttpRequest {
  const headers: Record<string, string | string[]> = {}
  let requestedUpgrade: string | undefined
  for (const [name, value] of Object.entries(request.headers ?? {})) {
    const lower = name.toLowerCase()
    if (lower === 'upgrade') requestedUpgrade = Array.isArray(value) ? value[0] : value
    if (!DROPPED_HEADERS.has(lower)) headers[name] = value
  }
  const prefix = request.version !== undefined && request.version !== '' ? `/v${request.version}` : ''

  let method: string
  let path: string
  let streamable: boolean
  let response: EngineHttpRequest['response']
  if (request.operation === UNMAPPED_OPERATION) {
    method = (request.method ?? 'GET').toUpperCase()
    const url = request.url ?? '/'
    path = prefix + (url.startsWith('/') ? url : `/${url}`) + (url.includes('?') ? '' : queryString(request.query))
    streamable = true
    response = requestedUpgrade !== undefined ? 'hijack' : 'unknown'
  } else {
    const spec = DOCKER_OPERATIONS.get(request.operation)
    if (spec === undefined) throw new SwarmError(ErrorCode.BadRequest, `unknown Docker operation ${request.operation}`)
    method = spec.method
    path = prefix + operationUrl(spec, request.target, request.path) + queryString(request.query)
    streamable = spec.body === 'stream'
    response = spec.response
  }

  // A hijacked request may carry JSON (ExecStart's {"Detach":false}); its stream is stdin, sent
  // after the upgrade. Otherwise a stream is the body (tar, image, build context).
  const streamBody = response !== 'hijack' && streamable && request.stream !== undefined
  let json: string | undefined
  if (!streamBody && request.body !== undefined) {
    json = JSON.stringify(request.body)
    if (!hasHeader(headers, 'content-type')) headers['Content-Type'] = 'application/json'
  }
  if (streamBody && !hasHeader(headers, 'content-type')) headers['Content-Type'] = 'application/x-tar'
  if (response === 'hijack') {
    headers.Connection = 'Upgrade'
    headers.Upgrade = requestedUpgrade ?? 'tcp'
  }
  return { method, path, headers, json, streamBody, response }
}

function hasHeader (headers: Record<string, string | string[]>, lower: string): boolean {
  return Object.keys(headers).some((name) => name.toLowerCase() === lower)
}

/** Response headers that carry meaning, in Docker's spelling. */
const REPLY_HEADERS: Record<string, string> = {
  'content-type': 'Content-Type',
  'api-version': 'Api-Version',
  'docker-experimental': 'Docker-Experimental',
  ostype: 'Ostype',
  server: 'Server',
  'builder-version': 'Builder-Version',
  swarm: 'Swarm',
  'cache-control': 'Cache-Control',
  pragma: 'Pragma',
  'x-docker-container-path-stat': 'X-Docker-Container-Path-Stat',
  upgrade: 'Upgrade',
  'sec-websocket-accept': 'Sec-WebSocket-Accept',
  'sec-websocket-protocol': 'Sec-WebSocket-Protocol',
  location: 'Location'
}

/** The engine's meaningful response headers, as the reply carries them. */
export function replyHeaders (raw: Record<string, string | string[] | undefined>): Record<string, string> {
  const headers: Record<string, string> = {}
  for (const [name, value] of Object.entries(raw)) {
    const docker = REPLY_HEADERS[name.toLowerCase()]
    if (docker === undefined || value === undefined) continue
    headers[docker] = Array.isArray(value) ? value.join(', ') : value
  }
  return headers
}
