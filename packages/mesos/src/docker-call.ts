import { ErrorCode, SwarmError, isSwarmError, request, type Sender } from '@libswarm/core'
import { decodeDockerReply, encodeDockerRequest, engineError, type DockerReply, type DockerRequest } from '@libswarm/docker-api'

/**
 * Sends one Docker request to an engine's service (a `dockerclient` child) and returns its
 * reply; an Error reply or a status of 400 or more throws a SwarmError with the engine's text.
 */
export async function callDocker (engine: Sender, dockerRequest: DockerRequest, options: { signal?: AbortSignal | undefined, timeoutMs?: number | undefined } = {}): Promise<DockerReply> {
  const signals = [options.signal, options.timeoutMs === undefined ? undefined : AbortSignal.timeout(options.timeoutMs)].filter((signal) => signal !== undefined)
  const signal = signals.length === 0 ? undefined : signals.length === 1 ? signals[0] : AbortSignal.any(signals)
  const message = encodeDockerRequest(dockerRequest)
  let reply: DockerReply
  try {
    reply = decodeDockerReply(await request(engine, message.verb, message.args, { signal, stream: message.stream }))
  } catch (error) {
    if (isSwarmError(error)) throw error
    if (signal?.aborted === true && options.signal?.aborted !== true) throw new SwarmError(ErrorCode.Timeout, `${dockerRequest.operation} timed out after ${options.timeoutMs ?? 0} ms`)
    throw new SwarmError(ErrorCode.Unavailable, error instanceof Error ? error.message : String(error), { cause: error })
  }
  if (reply.status >= 400) throw engineError(reply.status, errorText(reply.body))
  return reply
}

/** A reply's JSON body. */
export function replyBody<T> (reply: DockerReply): T {
  return (reply.body === undefined || reply.body === '' ? undefined : JSON.parse(reply.body)) as T
}

/** The `message` of an engine's JSON error body, or the body itself. */
export function errorText (body: string | undefined): string {
  if (body === undefined || body === '') return 'error'
  try {
    const parsed = JSON.parse(body) as { message?: unknown }
    if (typeof parsed.message === 'string') return parsed.message
  } catch {}
  return body.trim()
}
