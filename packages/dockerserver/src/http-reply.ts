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

/**
 * The headers to send: `defaults` (dockerd's Api-Version, Ostype, ...) overridden by the
 * backend's, without hop-by-hop headers or any name or value node:http would refuse.
 */
export function responseHeaders (defaults: Readonly<Record<string, string>>, backend: Readonly<Record<string, string>> | undefined): Record<string, string> {
  const merged = new Map<string, [string, string]>()
  for (const source of [defaults, backend ?? {}]) {
    for (const [name, value] of Object.entries(source)) {
      if (typeof value !== 'string' || HOP_BY_HOP.has(name.toLowerCase())) continue
      try {
        validateHeaderName(name)
        validateHeaderValue(name, value)
      } catch {
        continue
      }
      merged.set(name.toLowerCase(), [name, value])
    }
  }
  return Object.fromEntries(merged.values())
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
