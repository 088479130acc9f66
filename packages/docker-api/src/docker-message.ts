import { ErrorCode, SwarmError, type ByteStream, type Caller, type ErrorCode as Code, type Message, type Sender } from '@libswarm/core'
import { DOCKER_OPERATIONS, UNMAPPED_OPERATION, verbForMethod, type DockerOperationSpec } from './operations.js'

/** Query parameters as the client sent them (repeated keys become arrays). */
export type DockerQuery = Record<string, string | string[]>

/**
 * A Docker Engine API request in libswarm terms. On the channel it is the message
 * `VERB [operation, target, params]`, where VERB comes from the operation table,
 * `target` is the operation's main path parameter (container id or name, image name,
 * network, volume, exec id, ...; empty when there is none) and `params` is the JSON of
 * `{ path, query, body, headers, version, method, url }` (each only when present); its
 * `caller` is the message's.
 */
export interface DockerRequest {
  readonly operation: string
  readonly target: string
  /** Path parameters other than the target. */
  readonly path?: Record<string, string> | undefined
  readonly query?: DockerQuery | undefined
  /** The parsed JSON body, for operations whose body is JSON. */
  readonly body?: unknown
  /**
   * Request headers that carry meaning: X-Registry-Auth, X-Registry-Config, Content-Type,
   * Upgrade. A header the client repeated is a list (BuildKit's session names one gRPC method
   * per `X-Docker-Expose-Session-Grpc-Method`).
   */
  readonly headers?: Record<string, string | string[]> | undefined
  /** The API version the client asked for (the `/vX.Y` prefix), when it gave one. */
  readonly version?: string | undefined
  /** For `Unmapped` only: the method and the path below the version prefix. */
  readonly method?: string | undefined
  readonly url?: string | undefined
  /** The raw request body (build context, tar, image) or, for hijacked operations, the client's stdin. */
  readonly stream?: ByteStream | undefined
  /** Who sent it, as the front saw them (the message's `caller`): a request made for it carries it on. */
  readonly caller?: Caller | undefined
}

/**
 * The engine's answer: the message `Ack [status, body, headers]`. `body` is the JSON
 * text (or plain text) of a non-streaming answer, `headers` the JSON of the response
 * headers that carry meaning (Content-Type, Api-Version, ...), and a streaming answer
 * (logs, events, tar, or the output side of a hijacked connection) is the attachment.
 */
export interface DockerReply {
  readonly status: number
  readonly body?: string | undefined
  readonly headers?: Record<string, string> | undefined
  readonly stream?: ByteStream | undefined
}

interface Params {
  path?: Record<string, string>
  query?: DockerQuery
  body?: unknown
  headers?: Record<string, string | string[]>
  version?: string
  method?: string
  url?: string
}

/** The table entry of an operation name; throws BAD_REQUEST for an unknown name. */
export function operationSpec (operation: string): DockerOperationSpec | undefined {
  return DOCKER_OPERATIONS.get(operation)
}

/** The message for a request. */
export function encodeDockerRequest (request: DockerRequest, ret?: Sender): Message {
  const spec = DOCKER_OPERATIONS.get(request.operation)
  const verb = spec?.verb ?? verbForMethod(request.method ?? 'GET')
  const params: Params = {}
  if (request.path !== undefined && Object.keys(request.path).length > 0) params.path = request.path
  if (request.query !== undefined && Object.keys(request.query).length > 0) params.query = request.query
  if (request.body !== undefined) params.body = request.body
  if (request.headers !== undefined && Object.keys(request.headers).length > 0) params.headers = request.headers
  if (request.version !== undefined) params.version = request.version
  if (request.operation === UNMAPPED_OPERATION) {
    params.method = request.method ?? 'GET'
    params.url = request.url ?? '/'
  }
  const args = [request.operation, request.target, JSON.stringify(params)]
  return request.caller === undefined ? { verb, args, ret, stream: request.stream } : { verb, args, ret, stream: request.stream, caller: request.caller }
}

/** The request a message carries; throws BAD_REQUEST when it is not one. */
export function decodeDockerRequest (message: Message): DockerRequest {
  const [operation, target = '', paramsText = '{}'] = message.args
  if (operation === undefined || operation === '') throw new SwarmError(ErrorCode.BadRequest, `${message.verb} carries no Docker operation`)
  let params: Params
  try {
    params = JSON.parse(paramsText) as Params
  } catch (error) {
    throw new SwarmError(ErrorCode.BadRequest, `${operation}: parameters are not JSON`, { cause: error })
  }
  return {
    operation,
    target,
    path: params.path,
    query: params.query,
    body: params.body,
    headers: params.headers,
    version: params.version,
    method: params.method,
    url: params.url,
    stream: message.stream,
    caller: message.caller
  }
}

/** True when the message looks like a Docker request (its first argument names an operation). */
export function isDockerRequest (message: Message): boolean {
  const operation = message.args[0]
  return operation !== undefined && (DOCKER_OPERATIONS.has(operation) || operation === UNMAPPED_OPERATION)
}

/** The Ack message for a reply. */
export function encodeDockerReply (reply: DockerReply): Message {
  return {
    verb: 'Ack',
    args: [String(reply.status), reply.body ?? '', reply.headers === undefined ? '' : JSON.stringify(reply.headers)],
    stream: reply.stream
  }
}

/** A JSON reply: `Ack [status, JSON.stringify(value)]`. */
export function jsonReply (value: unknown, status = 200): Message {
  return encodeDockerReply({ status, body: value === undefined ? '' : JSON.stringify(value), headers: { 'Content-Type': 'application/json' } })
}

/** The reply an Ack carries. */
export function decodeDockerReply (message: Message): DockerReply {
  if (message.verb === 'Error') throw errorFromReply(message)
  const [status = '200', body = '', headers = ''] = message.args
  const code = Number(status)
  return {
    status: Number.isInteger(code) ? code : 200,
    body,
    headers: headers === '' ? undefined : JSON.parse(headers) as Record<string, string>,
    stream: message.stream
  }
}

function errorFromReply (message: Message): SwarmError {
  return new SwarmError(message.args[0] ?? ErrorCode.Internal, message.args[1] ?? 'unknown error')
}

/** Parses a reply body as JSON (`undefined` when empty). */
export function replyJson<T = unknown> (reply: DockerReply): T {
  if (reply.body === undefined || reply.body === '') return undefined as T
  return JSON.parse(reply.body) as T
}

const statusByCode: Record<string, number> = {
  [ErrorCode.BadRequest]: 400,
  [ErrorCode.InvalidArguments]: 400,
  [ErrorCode.MalformedFrame]: 400,
  [ErrorCode.Unauthorized]: 401,
  [ErrorCode.Forbidden]: 403,
  [ErrorCode.NotFound]: 404,
  [ErrorCode.UnknownService]: 404,
  [ErrorCode.NotAcceptable]: 406,
  [ErrorCode.Conflict]: 409,
  [ErrorCode.MessageTooLarge]: 413,
  [ErrorCode.Internal]: 500,
  [ErrorCode.NotImplemented]: 501,
  [ErrorCode.Unavailable]: 503,
  [ErrorCode.ChannelClosed]: 503,
  [ErrorCode.LimitExceeded]: 503,
  [ErrorCode.Protocol]: 502,
  [ErrorCode.Timeout]: 504,
  [ErrorCode.Aborted]: 499
}

/** The one table from error codes to HTTP statuses, used by every HTTP front. */
export function statusForCode (code: Code): number {
  return statusByCode[code] ?? 500
}

/** The error code for an engine's HTTP error status. */
export function codeForStatus (status: number): Code {
  switch (status) {
    case 400: return ErrorCode.BadRequest
    case 401: return ErrorCode.Unauthorized
    case 403: return ErrorCode.Forbidden
    case 404: return ErrorCode.NotFound
    case 406: return ErrorCode.NotAcceptable
    case 409: return ErrorCode.Conflict
    case 413: return ErrorCode.MessageTooLarge
    case 501: return ErrorCode.NotImplemented
    case 503: return ErrorCode.Unavailable
    case 504: return ErrorCode.Timeout
    default: return ErrorCode.Internal
  }
}

/** The Error message for an engine's HTTP error: same status back out of dockerserver, same text. */
export function engineError (status: number, text: string): SwarmError {
  return new SwarmError(codeForStatus(status), text)
}

/** Fills an operation's path template: `{id}` and `{name*}` from `target`, others from `path`. */
export function operationUrl (spec: DockerOperationSpec, target: string, path: Record<string, string> = {}): string {
  return spec.path.replace(/\{(\w+)(\*?)\}/g, (_whole, name: string, rest: string) => {
    const value = path[name] ?? target
    return rest === '*' ? value.split('/').map(encodeURIComponent).join('/') : encodeURIComponent(value)
  })
}

/**
 * Docker's filters query parameter, parsed: `{"status":["running"]}` or the old
 * `{"status":{"running":true}}` form, both to `{ status: ['running'] }`.
 */
export function parseFilters (query: DockerQuery | undefined): Record<string, string[]> {
  const raw = query?.filters
  const text = Array.isArray(raw) ? raw[0] : raw
  if (text === undefined || text === '') return {}
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch (error) {
    throw new SwarmError(ErrorCode.BadRequest, `invalid filter '${text}'`, { cause: error })
  }
  const filters: Record<string, string[]> = {}
  if (typeof parsed !== 'object' || parsed === null) throw new SwarmError(ErrorCode.BadRequest, `invalid filter '${text}'`)
  for (const [key, value] of Object.entries(parsed)) {
    if (Array.isArray(value)) filters[key] = value.map(String)
    else if (typeof value === 'object' && value !== null) filters[key] = Object.keys(value).filter((name) => (value as Record<string, unknown>)[name] === true)
    else throw new SwarmError(ErrorCode.BadRequest, `invalid filter '${text}'`)
  }
  return filters
}

/** A query value as one string (the first when repeated). */
export function queryValue (query: DockerQuery | undefined, key: string): string | undefined {
  const value = query?.[key]
  return Array.isArray(value) ? value[0] : value
}

/** A request header by name, any case; a repeated header's first value. */
export function headerValue (headers: DockerRequest['headers'], name: string): string | undefined {
  if (headers === undefined) return undefined
  const wanted = name.toLowerCase()
  for (const [key, value] of Object.entries(headers)) {
    if (key.toLowerCase() === wanted) return Array.isArray(value) ? value[0] : value
  }
  return undefined
}

/** A query flag as Docker reads booleans: `1`, `true`, `True` are true. */
export function queryFlag (query: DockerQuery | undefined, key: string): boolean {
  const value = queryValue(query, key)
  return value !== undefined && value !== '' && value !== '0' && value.toLowerCase() !== 'false'
}
