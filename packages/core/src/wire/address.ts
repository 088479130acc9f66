import { ErrorCode, SwarmError } from '../errors.js'

/** A parsed wire address. */
export interface WireAddress {
  kind: 'unix' | 'tcp' | 'tls'
  path?: string
  host?: string
  port?: number
}

/**
 * Parses `unix:///path`, `tcp://host:port` or `tls://host:port` (IPv6 hosts in brackets).
 *
 * @example
 * parseWireAddress('tcp://127.0.0.1:4242') // { kind: 'tcp', host: '127.0.0.1', port: 4242 }
 */
export function parseWireAddress (address: string): WireAddress {
  const match = /^([a-z]+):\/\/(.*)$/.exec(address)
  const scheme = match?.[1]
  const rest = match?.[2] ?? ''
  if (scheme === 'unix') {
    if (rest === '') throw invalid(address, 'a unix address needs a path')
    return { kind: 'unix', path: rest }
  }
  if (scheme === 'tcp' || scheme === 'tls') {
    const hostPort = /^(\[[0-9a-fA-F:.]+\]|[^:/[\]]+):(\d{1,5})\/?$/.exec(rest)
    if (hostPort === null) throw invalid(address, 'expected host:port')
    const port = Number(hostPort[2])
    if (port > 65535) throw invalid(address, 'port out of range')
    const host = (hostPort[1] as string).replace(/^\[(.*)\]$/, '$1')
    return { kind: scheme, host, port }
  }
  throw invalid(address, 'expected unix://, tcp:// or tls://')
}

/** The address string of a parsed address. */
export function formatWireAddress (address: WireAddress): string {
  if (address.kind === 'unix') return `unix://${address.path ?? ''}`
  const host = address.host?.includes(':') === true ? `[${address.host}]` : address.host ?? ''
  return `${address.kind}://${host}:${address.port ?? 0}`
}

/**
 * True for a host only this machine reaches (`localhost`, 127.0.0.0/8, `::1`). Listeners
 * refuse plain TCP on any other host unless told otherwise: whoever reaches it controls
 * everything behind it. dockerserver and serve apply this one rule.
 *
 * @example
 * isLoopbackHost('127.0.0.1') // true
 * isLoopbackHost('0.0.0.0') // false: every interface
 */
export function isLoopbackHost (host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host) || /^::ffff:127\./i.test(host)
}

function invalid (address: string, why: string): SwarmError {
  return new SwarmError(ErrorCode.InvalidArguments, `invalid wire address ${JSON.stringify(address)}: ${why}`)
}
