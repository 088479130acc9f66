import { ErrorCode, SwarmError } from '@libswarm/core'

/**
 * A request refused before it goes down the chain, with the HTTP status to answer: the
 * status of the error code, or one the code table has no code for (408).
 */
export class RequestRefusal extends SwarmError {
  constructor (code: string, message: string, readonly status?: number, options?: { cause?: unknown }) {
    super(code, message, options)
  }
}

/**
 * The deepest nesting of arrays and objects accepted in a JSON body. Go's decoder stops at
 * 10,000; every hop of the chain writes the body again with JSON.stringify, which recurses
 * and overflows the stack a few thousand levels down. No Docker body nests past ten.
 */
export const MAX_JSON_DEPTH = 512

/**
 * Operations whose handler in dockerd 20.10 calls `httputils.CheckForJSON`: a body must come
 * as `application/json` (api/server/router/container, network, volume). ExecStart checks it
 * from API 1.22 on.
 */
const JSON_CHECKED = new Set([
  'ContainerCreate', 'ContainerUpdate', 'ImageCommit', 'ContainerExec', 'ExecStart',
  'NetworkCreate', 'NetworkConnect', 'NetworkDisconnect', 'VolumeCreate'
])

/**
 * dockerd's `CheckForJSON`: a request with a body must name `application/json` (parameters
 * allowed) as its Content-Type; no Content-Type is fine only without a body.
 */
export function contentTypeRefusal (operation: string, version: string | undefined, contentType: string | undefined, hasBody: boolean): RequestRefusal | undefined {
  if (!JSON_CHECKED.has(operation)) return undefined
  if (operation === 'ExecStart' && version !== undefined && compareVersions(version, '1.21') <= 0) return undefined
  const type = contentType ?? ''
  if (type === '' && !hasBody) return undefined
  if (mediaType(type) === 'application/json') return undefined
  return new RequestRefusal(ErrorCode.BadRequest, `Content-Type specified (${type}) must be 'application/json'`)
}

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/

/** The media type of a Content-Type, lower case, or undefined where Go's `mime.ParseMediaType` fails. */
function mediaType (text: string): string | undefined {
  const [type = '', ...parameters] = text.split(';')
  const [main, sub, ...extra] = type.trim().split('/')
  if (main === undefined || sub === undefined || extra.length > 0 || !TOKEN.test(main) || !TOKEN.test(sub)) return undefined
  for (const [index, parameter] of parameters.entries()) {
    // Go ignores trailing semicolons and nothing else.
    if (parameter.trim() === '' && parameters.slice(index).every((rest) => rest.trim() === '')) break
    const equals = parameter.indexOf('=')
    if (equals < 0 || !TOKEN.test(parameter.slice(0, equals).trim())) return undefined
    const value = parameter.slice(equals + 1).trim()
    if (!TOKEN.test(value) && !/^"(?:[^"\\]|\\.)*"$/.test(value)) return undefined
  }
  return `${main}/${sub}`.toLowerCase()
}

function compareVersions (a: string, b: string): number {
  const [aMajor = 0, aMinor = 0] = a.split('.').map(Number)
  const [bMajor = 0, bMinor = 0] = b.split('.').map(Number)
  return aMajor !== bMajor ? aMajor - bMajor : aMinor - bMinor
}

/**
 * Parses a JSON body, as the engine decodes one: malformed JSON and nesting deeper than
 * {@link MAX_JSON_DEPTH} are a 400, never an error of a later hop. An empty body is `undefined`.
 */
export function parseJsonBody (bytes: Buffer): unknown {
  const text = bytes.toString('utf8')
  if (text.trim() === '') return undefined
  if (nestingDepth(text) > MAX_JSON_DEPTH) {
    throw new RequestRefusal(ErrorCode.BadRequest, `invalid JSON body: exceeded max depth of ${MAX_JSON_DEPTH}`)
  }
  try {
    return JSON.parse(text) as unknown
  } catch (error) {
    throw new RequestRefusal(ErrorCode.BadRequest, `invalid JSON body: ${error instanceof Error ? error.message : String(error)}`, undefined, { cause: error })
  }
}

/** The deepest nesting of `[` and `{` outside strings, counted without recursion. */
function nestingDepth (text: string): number {
  let depth = 0
  let deepest = 0
  let inString = false
  for (let index = 0; index < text.length; index++) {
    const code = text.charCodeAt(index)
    if (inString) {
      if (code === 0x5c) index++
      else if (code === 0x22) inString = false
    } else if (code === 0x22) {
      inString = true
    } else if (code === 0x5b || code === 0x7b) {
      if (++depth > deepest) deepest = depth
      if (deepest > MAX_JSON_DEPTH) return deepest
    } else if (code === 0x5d || code === 0x7d) {
      depth--
    }
  }
  return deepest
}

/**
 * Waits for `work` at most `timeoutMs` (0: no limit); after that, rejects with a 408.
 * `work` is left to settle by itself (the caller closes the connection it waits on).
 */
export async function withinTimeout<T> (work: Promise<T>, timeoutMs: number, what: string): Promise<T> {
  if (!(timeoutMs > 0) || !Number.isFinite(timeoutMs)) return await work
  let timer: NodeJS.Timeout | undefined
  const expired = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => {
      reject(new RequestRefusal(ErrorCode.Timeout, `timed out after ${timeoutMs} ms waiting for ${what}`, 408))
    }, timeoutMs)
  })
  work.catch(() => {})
  try {
    return await Promise.race([work, expired])
  } finally {
    clearTimeout(timer)
  }
}

/** V8's own words for a bug (a TypeError, a RangeError, ...): never shown to a client. */
const JAVASCRIPT_INTERNALS = /\bis not (a function|a constructor|iterable|defined)\b|\bCannot (read|set) propert|\bCannot (destructure|convert|access|create|mix BigInt)\b|Maximum call stack size exceeded|\bInvalid (array|string) length\b|\bAssignment to constant variable\b|\bConverting circular structure\b|\bDo not know how to serialize\b|\bis not valid JSON\b|\bUnexpected token\b|\bundefined is not\b|\bnull is not\b/

/** True for a message that reads as a JavaScript runtime error rather than an answer meant for a user. */
export function isJavaScriptInternal (message: string): boolean {
  return JAVASCRIPT_INTERNALS.test(message)
}
