import type { Message } from '@libswarm/core'
import { encodeDockerReply, type DockerRequest } from '@libswarm/docker-api'
import type { ByteQueue } from './byte-queue.js'
import type { Engine } from './engine.js'

/** One Docker operation of the simulator: a request in, a reply message out. */
export type Operation = (engine: Engine, request: DockerRequest) => Message | Promise<Message>

/** An empty reply with `status` (204 for most actions, 304 for "nothing to do"). */
export function emptyReply (status = 204): Message {
  return encodeDockerReply({ status })
}

/** A streamed reply: headers now, the body as the queue fills. */
export function streamReply (queue: ByteQueue, contentType: string, status = 200, extraHeaders: Record<string, string> = {}): Message {
  return encodeDockerReply({ status, headers: { 'Content-Type': contentType, ...extraHeaders }, stream: queue })
}

/** The body of a request as an object (`{}` when none). */
export function bodyObject (request: DockerRequest): Record<string, unknown> {
  const body = request.body
  return typeof body === 'object' && body !== null && !Array.isArray(body) ? body as Record<string, unknown> : {}
}
