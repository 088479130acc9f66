import type { Socket } from 'node:net'
import type { TLSSocket } from 'node:tls'
import type { Caller, CallerCertificate } from '@libswarm/core'

/**
 * Who is on the other end of `socket`, from the connection alone (never from what it
 * sends): the name of the listener that accepted it, the peer's address over TCP, and,
 * over mutual TLS, the verified client certificate. Node does not expose a unix socket
 * peer's uid, gid or pid (SO_PEERCRED), so a unix listener gives its name only.
 */
export function connectionCaller (socket: Socket, listener: string): Caller {
  const caller: { -readonly [K in keyof Caller]: Caller[K] } = { listener }
  if (socket.remoteAddress !== undefined) {
    const host = socket.remoteAddress.includes(':') ? `[${socket.remoteAddress}]` : socket.remoteAddress
    caller.address = `${host}:${socket.remotePort ?? 0}`
  }
  const tls = socket as Partial<TLSSocket>
  if (tls.encrypted === true && tls.authorized === true && typeof tls.getPeerX509Certificate === 'function') {
    const certificate = tls.getPeerX509Certificate()
    if (certificate !== undefined) caller.certificate = callerCertificate(certificate)
  }
  return caller
}

/** A client certificate as a caller names it: RFC 4514 subject, typed SANs, SHA-256 fingerprint. */
export function callerCertificate (certificate: { subject: string, subjectAltName?: string | undefined, fingerprint256: string }): CallerCertificate {
  return { subject: rfc4514Subject(certificate.subject), sans: splitAltNames(certificate.subjectAltName), fingerprint256: certificate.fingerprint256 }
}

/**
 * node's `X509Certificate.subject` is one RDN per line, in the certificate's order, the
 * values already escaped as RFC 4514 wants (a newline in a value is escaped, so splitting
 * on it is safe), the parts of a multi-valued RDN joined by ` + `. RFC 4514 writes the
 * last RDN first, comma-separated: the string `openssl x509 -subject -nameopt RFC2253` prints.
 */
export function rfc4514Subject (subject: string): string {
  if (subject === '') return ''
  return subject.split('\n').reverse().map((rdn) => rdn.split(' + ').reverse().join('+')).join(',')
}

/** SAN prefixes as node prints them, and as a caller names them. */
const SAN_PREFIXES: Record<string, string> = { 'IP Address': 'IP' }

/**
 * Splits node's `subjectAltName` (`DNS:a, IP Address:127.0.0.1, URI:"x\u002c y"`: entries
 * joined by `, `, a value with a special character JSON-quoted) into `DNS:a`, `IP:127.0.0.1`,
 * `URI:x, y`.
 */
export function splitAltNames (text: string | undefined): string[] {
  const names: string[] = []
  let at = 0
  while (text !== undefined && at < text.length) {
    const colon = text.indexOf(':', at)
    if (colon < 0) break
    const kind = text.slice(at, colon)
    let value: string
    if (text[colon + 1] === '"') {
      let end = colon + 2
      while (end < text.length && text[end] !== '"') end += text[end] === '\\' ? 2 : 1
      value = JSON.parse(text.slice(colon + 1, end + 1)) as string
      at = end + 1
    } else {
      const comma = text.indexOf(', ', colon)
      value = text.slice(colon + 1, comma < 0 ? text.length : comma)
      at = comma < 0 ? text.length : comma
    }
    names.push(`${SAN_PREFIXES[kind] ?? kind}:${value}`)
    if (text.startsWith(', ', at)) at += 2
  }
  return names
}
