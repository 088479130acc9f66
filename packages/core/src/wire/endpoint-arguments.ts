import { ErrorCode, SwarmError } from '../errors.js'
import { parseServiceArgs } from '../service-arguments.js'
import { parseWireAddress } from './address.js'
import type { TlsOptions } from './connection.js'

/** An address and, for `tls://`, the certificate files. */
export interface WireEndpointOptions {
  /** `unix:///path`, `tcp://host:port` or `tls://host:port`. */
  address: string
  /** Mutual TLS material (PEM text or file paths); required for `tls://`. */
  tls?: TlsOptions | undefined
}

/**
 * Parses the arguments of a service that listens on or dials one wire address:
 * `ADDRESS [--tlscacert F --tlscert F --tlskey F]`, the TLS files required for `tls://`.
 */
export function parseWireEndpointArgs (service: string, usage: string, args: readonly string[]): WireEndpointOptions {
  const parsed = parseServiceArgs(service, args, { tlscacert: { type: 'string' }, tlscert: { type: 'string' }, tlskey: { type: 'string' } }, usage)
  const [address, ...extra] = parsed.positionals
  if (address === undefined || extra.length > 0) throw new SwarmError(ErrorCode.InvalidArguments, `${service}: expected one ADDRESS; usage: ${usage}`)
  const kind = parseWireAddress(address).kind
  const { tlscacert, tlscert, tlskey } = parsed.values
  const given = [tlscacert, tlscert, tlskey].filter((value) => value !== undefined).length
  if (kind === 'tls' && given !== 3) throw new SwarmError(ErrorCode.InvalidArguments, `${service}: ${address} needs --tlscacert, --tlscert and --tlskey`)
  if (kind !== 'tls' && given > 0) throw new SwarmError(ErrorCode.InvalidArguments, `${service}: TLS flags need a tls:// address`)
  return kind === 'tls' ? { address, tls: { ca: tlscacert as string, cert: tlscert as string, key: tlskey as string } } : { address }
}
