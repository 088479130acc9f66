import { ErrorCode, SwarmError } from '@libswarm/core'
import { engineError } from '@libswarm/docker-api'

/** Error codes a connection failure carries in its `cause`, which mean the engine is not there. */
const UNREACHABLE = new Set(['ECONNREFUSED', 'ENOENT', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN', 'ENOTFOUND', 'EACCES'])

/** `UNAVAILABLE`: the engine could not be reached ("cannot reach engine at unix:///x.sock: ECONNREFUSED"). */
export function engineUnreachable (address: string, cause: unknown): SwarmError {
  const code = (cause as NodeJS.ErrnoException | undefined)?.code
  const reason = code !== undefined && UNREACHABLE.has(code) ? code : (cause instanceof Error ? cause.message : String(cause))
  return new SwarmError(ErrorCode.Unavailable, `cannot reach engine at ${address}: ${reason}`, { cause })
}

/** `UNAVAILABLE`: the engine dropped a connection in the middle of an answer. */
export function engineConnectionLost (address: string, cause: unknown): SwarmError {
  const reason = (cause as NodeJS.ErrnoException | undefined)?.code ?? (cause instanceof Error ? cause.message : String(cause))
  return new SwarmError(ErrorCode.Unavailable, `lost connection to engine at ${address}: ${reason}`, { cause })
}

/**
 * The SwarmError for an engine's HTTP error: the message of its JSON body
 * (`{"message": "..."}`), else its text, else the status line. Same status back out of dockerserver.
 */
export function engineHttpError (status: number, statusMessage: string | undefined, bodyText: string): SwarmError {
  let text = bodyText.trim()
  try {
    const parsed = JSON.parse(text) as { message?: unknown }
    if (typeof parsed?.message === 'string') text = parsed.message
  } catch {}
  if (text === '') text = `${status} ${statusMessage ?? ''}`.trim()
  return engineError(status, text)
}

/** `INVALID_ARGUMENTS` for a bad `dockerclient` argument. */
export function invalidArguments (message: string): SwarmError {
  return new SwarmError(ErrorCode.InvalidArguments, message)
}
