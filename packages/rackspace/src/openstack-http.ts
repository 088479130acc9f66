import { ErrorCode } from '@libswarm/core'
import { OpenStackError, codeForStatus } from './errors.js'

/** How an OpenStack API call is retried and bounded. */
export interface HttpPolicy {
  /** Attempts for a throttled (413/429 overLimit) or transiently failing (500/502/503/504, network) call. Default 5. */
  attempts?: number
  /** First backoff in ms, doubled each attempt with full jitter, capped at 20 s; a `Retry-After` wins. Default 500. */
  backoffMs?: number
  /** Time allowed for one HTTP exchange, ms. Default 30,000. */
  timeoutMs?: number
}

/** One call of an OpenStack API. */
export interface HttpCall {
  method: 'GET' | 'POST' | 'PUT' | 'DELETE'
  url: string
  token?: string | undefined
  body?: unknown
  /** Safe to send again after a network error (no server state changed, or it is idempotent). Default: not POST. */
  idempotent?: boolean
  signal?: AbortSignal | undefined
}

/** What came back: status, the JSON body (undefined when empty) and the headers. */
export interface HttpAnswer<T = unknown> {
  status: number
  body: T
  headers: Headers
}

const TRANSIENT = new Set([500, 502, 503, 504])
const THROTTLED = new Set([413, 429])

/**
 * Sends one JSON request to an OpenStack API and parses the answer; a 4xx or 5xx becomes an
 * {@link OpenStackError} whose message is the cloud's own (`{"itemNotFound": {"message": ...}}`,
 * Keystone's `{"error": {"message": ...}}`). Throttling and transient failures are retried with
 * exponential backoff and full jitter, honouring `Retry-After` (seconds or an HTTP date, as
 * Nova's overLimit sends it); network errors are retried only for idempotent calls.
 */
export async function openstackRequest<T = unknown> (call: HttpCall, policy: HttpPolicy = {}): Promise<HttpAnswer<T>> {
  const attempts = policy.attempts ?? 5
  const idempotent = call.idempotent ?? call.method !== 'POST'
  for (let attempt = 1; ; attempt++) {
    call.signal?.throwIfAborted()
    let response: Response
    try {
      response = await fetch(call.url, {
        method: call.method,
        headers: {
          Accept: 'application/json',
          ...(call.body === undefined ? {} : { 'Content-Type': 'application/json' }),
          ...(call.token === undefined ? {} : { 'X-Auth-Token': call.token })
        },
        ...(call.body === undefined ? {} : { body: JSON.stringify(call.body) }),
        signal: withTimeout(call.signal, policy.timeoutMs ?? 30_000)
      })
    } catch (error) {
      if (call.signal?.aborted === true) throw call.signal.reason
      const timedOut = error instanceof Error && error.name === 'TimeoutError'
      if (idempotent && attempt < attempts) { await sleep(backoff(attempt, policy), call.signal); continue }
      throw new OpenStackError(timedOut ? ErrorCode.Timeout : ErrorCode.Unavailable,
        `${call.method} ${redact(call.url)}: ${timedOut ? 'no answer in time' : `cannot reach the API (${causeText(error)})`}`, { cause: error })
    }
    const text = await response.text()
    if (response.status < 400) {
      return { status: response.status, body: (text === '' ? undefined : parseJson(text, call)) as T, headers: response.headers }
    }
    const retryable = THROTTLED.has(response.status) || TRANSIENT.has(response.status)
    if (retryable && attempt < attempts) {
      await sleep(retryAfter(response.headers, text) ?? backoff(attempt, policy), call.signal)
      continue
    }
    throw new OpenStackError(codeForStatus(response.status),
      `${call.method} ${redact(call.url)}: ${response.status} ${cloudMessage(text) ?? response.statusText}`, { status: response.status })
  }
}

/** The message an OpenStack service put in its error body, whatever the wrapping key. */
export function cloudMessage (text: string): string | undefined {
  try {
    const body = JSON.parse(text) as unknown
    if (typeof body !== 'object' || body === null) return undefined
    for (const value of Object.values(body)) {
      if (typeof value === 'object' && value !== null && typeof (value as { message?: unknown }).message === 'string') return (value as { message: string }).message
    }
    if (typeof (body as { message?: unknown }).message === 'string') return (body as { message: string }).message
  } catch {}
  return text.trim() === '' ? undefined : text.trim().slice(0, 300)
}

function parseJson (text: string, call: HttpCall): unknown {
  try {
    return JSON.parse(text)
  } catch (error) {
    throw new OpenStackError(ErrorCode.Protocol, `${call.method} ${redact(call.url)}: the answer is not JSON`, { cause: error })
  }
}

function retryAfter (headers: Headers, text: string): number | undefined {
  // Nova's overLimit body carries retryAfter too, for proxies that drop the header
  const raw = headers.get('retry-after') ?? (/"retryAfter"\s*:\s*"?(\d+)/.exec(text)?.[1])
  if (raw === undefined || raw === null) return undefined
  const seconds = Number(raw)
  const ms = Number.isFinite(seconds) ? seconds * 1000 : Date.parse(raw) - Date.now()
  return Number.isFinite(ms) ? Math.min(Math.max(ms, 0), 60_000) : undefined
}

function backoff (attempt: number, policy: HttpPolicy): number {
  return Math.random() * Math.min(20_000, (policy.backoffMs ?? 500) * 2 ** (attempt - 1))
}

function withTimeout (signal: AbortSignal | undefined, ms: number): AbortSignal {
  const timeout = AbortSignal.timeout(ms)
  return signal === undefined ? timeout : AbortSignal.any([signal, timeout])
}

/** Waits `ms`, or rejects with the signal's reason as soon as it aborts. */
export async function sleep (ms: number, signal?: AbortSignal): Promise<void> {
  signal?.throwIfAborted()
  await new Promise<void>((resolve, reject) => {
    const onAbort = (): void => { clearTimeout(timer); reject(signal?.reason) }
    const timer = setTimeout(() => { signal?.removeEventListener('abort', onAbort); resolve() }, ms)
    signal?.addEventListener('abort', onAbort, { once: true })
  })
}

function causeText (error: unknown): string {
  const cause = (error as { cause?: { code?: string, message?: string } }).cause
  return cause?.code ?? cause?.message ?? (error instanceof Error ? error.message : String(error))
}

/** The URL without its query, which may hold names a user would rather not see in logs. */
function redact (url: string): string {
  const index = url.indexOf('?')
  return index === -1 ? url : url.slice(0, index)
}
