import { ErrorCode, SwarmError } from '../errors.js'
import type { Caller, CallerCertificate } from '../message.js'

/** The most bytes (UTF-8) of any string of a caller on the wire (PROTOCOL.md §4). */
export const MAX_CALLER_STRING_BYTES = 1024
/** The most subject alternative names of a caller's certificate on the wire. */
export const MAX_CALLER_SANS = 256
/** uid, gid and pid are unsigned 32-bit integers. */
const MAX_CALLER_ID = 0xffff_ffff

/** A caller as a plain map for msgpack: only the known fields that are set. */
export type CallerValue = Record<string, unknown>

function invalid (text: string): SwarmError {
  return new SwarmError(ErrorCode.MalformedFrame, `malformed frame: caller ${text}`)
}

function isMap (value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !ArrayBuffer.isView(value)
}

function readString (value: unknown, name: string): string | undefined {
  if (value === undefined || value === null) return undefined
  if (typeof value !== 'string') throw invalid(`${name} must be a string`)
  // A UTF-16 unit is at least one UTF-8 byte and at most three: count bytes only when it matters.
  if (value.length > MAX_CALLER_STRING_BYTES || (value.length * 3 > MAX_CALLER_STRING_BYTES && Buffer.byteLength(value) > MAX_CALLER_STRING_BYTES)) {
    throw invalid(`${name} exceeds ${MAX_CALLER_STRING_BYTES} bytes`)
  }
  return value
}

function readId (value: unknown, name: string): number | undefined {
  if (value === undefined || value === null) return undefined
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > MAX_CALLER_ID) {
    throw invalid(`${name} must be an unsigned 32-bit integer`)
  }
  return value
}

function readCertificate (value: unknown): CallerCertificate | undefined {
  if (value === undefined || value === null) return undefined
  if (!isMap(value)) throw invalid('certificate must be a map')
  const subject = readString(value.subject, 'certificate.subject')
  if (subject === undefined) throw invalid('certificate.subject is required')
  const sans = value.sans
  if (!Array.isArray(sans)) throw invalid('certificate.sans must be an array of strings')
  if (sans.length > MAX_CALLER_SANS) throw invalid(`certificate.sans has more than ${MAX_CALLER_SANS} names`)
  const names: string[] = []
  for (const san of sans as unknown[]) {
    const name = readString(san, 'certificate.sans[]')
    if (name === undefined) throw invalid('certificate.sans[] must be a string')
    names.push(name)
  }
  const fingerprint256 = readString(value.fingerprint256, 'certificate.fingerprint256')
  const certificate: { subject: string, sans: string[], fingerprint256?: string } = { subject, sans: names }
  if (fingerprint256 !== undefined) certificate.fingerprint256 = fingerprint256
  return certificate
}

/**
 * Reads a caller from its msgpack value: the known fields, checked (strings and unsigned
 * integers, bounded); unknown fields are left out, so that fields can be added. `nil` is no
 * caller. Throws MALFORMED_FRAME otherwise.
 */
export function decodeCaller (value: unknown): Caller | undefined {
  if (value === undefined || value === null) return undefined
  if (!isMap(value)) throw invalid('must be a map')
  const caller: { -readonly [K in keyof Caller]: Caller[K] } = {}
  const listener = readString(value.listener, 'listener')
  if (listener !== undefined) caller.listener = listener
  const uid = readId(value.uid, 'uid')
  if (uid !== undefined) caller.uid = uid
  const gid = readId(value.gid, 'gid')
  if (gid !== undefined) caller.gid = gid
  const pid = readId(value.pid, 'pid')
  if (pid !== undefined) caller.pid = pid
  const certificate = readCertificate(value.certificate)
  if (certificate !== undefined) caller.certificate = certificate
  const address = readString(value.address, 'address')
  if (address !== undefined) caller.address = address
  return caller
}

/**
 * The msgpack value of a caller, checked by the rules its receiver applies; throws
 * INVALID_ARGUMENTS for a caller the peer would refuse.
 */
export function encodeCaller (caller: Caller): CallerValue {
  try {
    return { ...decodeCaller(caller) }
  } catch (error) {
    throw new SwarmError(ErrorCode.InvalidArguments, (error as Error).message.replace('malformed frame: ', 'cannot send a message: '))
  }
}
