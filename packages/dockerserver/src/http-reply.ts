import { STATUS_CODES, validateHeaderName, validateHeaderValue } from 'node:http'

/** Headers that describe one hop, not the reply: dockerserver sets its own. */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'content-length', 'upgrade', 'te', 'trailer', 'proxy-connection', 'date'])

/** A header of a reply, found without regard to case. */
export function headerValue (headers: Readonly<Record<string, string>> | undefined, name: string): string | undefined {
  if (headers === undefined) return undefined
  const wanted = name.toLowerCase()
  for (const [key, value] of Object.entries(headers)) {
    if (key.toLowerCase() === wanted) return value
  }
  return undefined
}

/** Header names already checked: a backend sends the same few again and again. */
const validNames = new Set<string>()
/** What node:http refuses in a header value (as its own check). */
const INVALID_VALUE = /[^\t\x20-\x7e\x80-\xff]/

function isSendable (name: string, value: string): boolean {
  if (!validNames.has(name)) {
    try {
      validateHeaderName(name)
    } catch {
      return false
    }
    if (validNames.size < 512) validNames.add(name)
  }
  if (!INVALID_VALUE.test(value)) return true
  try {
    validateHeaderValue(name, value)
    return true
  } catch {
    return false
  }
}

/**
 * The headers to send: `defaults` (dockerd's Api-Version, Ostype, ...) overridden by the
 * backend's, without hop-by-hop headers or any name or value node:http would refuse.
 */
export function responseHeaders (defaults: Readonly<Record<string, string>>, backend: Readonly<Record<string, string>> | undefined): Record<string, string> {
  const merged: Record<string, string> = {}
  /** lower-case name -> the spelling it is stored under */
  const spelled = new Map<string, string>()
  for (const source of backend === undefined ? [defaults] : [defaults, backend]) {
    for (const name in source) {
      const value = source[name]
      if (typeof value !== 'string') continue
      const lower = name.toLowerCase()
      if (HOP_BY_HOP.has(lower) || !isSendable(name, value)) continue
      const previous = spelled.get(lower)
      if (previous !== undefined && previous !== name) delete merged[previous]
      spelled.set(lower, name)
      merged[name] = value
    }
  }
  return merged
}

/** dockerd's error body: `{"message":"..."}` and a newline, as Go's JSON encoder writes it. */
export function errorBody (message: string): string {
  return JSON.stringify({ message }) + '\n'
}

/** A response head written by hand, for connections node:http has handed over. */
export function rawResponseHead (status: number, headers: Readonly<Record<string, string>>, reason?: string): string {
  let head = `HTTP/1.1 ${status} ${reason ?? STATUS_CODES[status] ?? 'Unknown'}\r\n`
  for (const [name, value] of Object.entries(headers)) head += `${name}: ${value}\r\n`
  return head + '\r\n'
}

/** True for a status node:http can send as a final answer. */
export function isFinalStatus (status: number): boolean {
  return Number.isInteger(status) && status >= 200 && status <= 599
}
