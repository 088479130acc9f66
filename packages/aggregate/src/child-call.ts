import { ErrorCode, SwarmError, isSwarmError, request, type ByteStream, type Sender } from '@libswarm/core'
import { DOCKER_OPERATIONS, decodeDockerReply, encodeDockerRequest, engineError, type DockerReply, type DockerRequest } from '@libswarm/docker-api'

/** Options of {@link callDocker}. */
export interface CallOptions {
  signal?: AbortSignal | undefined
  /** The requester's: aborts the call when whoever asked stops listening (`abandonedSignal(message.ret)`). */
  requester?: AbortSignal | undefined
  /** Gives up after this many milliseconds with TIMEOUT. */
  timeoutMs?: number | undefined
}

/**
 * Sends one Docker request to a child and returns its reply. An Error message, or an
 * Ack whose status is 400 or more, throws a {@link SwarmError} with the engine's text.
 */
export async function callDocker (child: Sender, dockerRequest: DockerRequest, options: CallOptions = {}): Promise<DockerReply> {
  // one controller per call, cleaned up after: AbortSignal.any over a long-lived signal
  // keeps every composite alive on some Node versions, and a daemon pings all day
  const controller = new AbortController()
  const parents = options.requester === undefined ? [options.signal] : [options.signal, options.requester]
  const listeners = parents.map((parent) => {
    const onAbort = (): void => { controller.abort(parent?.reason) }
    if (parent?.aborted === true) controller.abort(parent.reason)
    else parent?.addEventListener('abort', onAbort, { once: true })
    return onAbort
  })
  let timedOut = false
  const timer = options.timeoutMs === undefined
    ? undefined
    : setTimeout(() => {
      timedOut = true
      controller.abort(new SwarmError(ErrorCode.Timeout, `${dockerRequest.operation} timed out after ${options.timeoutMs ?? 0} ms`))
    }, options.timeoutMs)
  const message = encodeDockerRequest(dockerRequest)
  let reply: DockerReply
  try {
    reply = decodeDockerReply(await request(child, message.verb, message.args, { signal: controller.signal, stream: message.stream, caller: message.caller }))
    // a child may stream a long JSON answer (another aggregate streams a big `docker ps`)
    if ((reply.body ?? '') === '' && reply.stream !== undefined && DOCKER_OPERATIONS.get(dockerRequest.operation)?.response === 'json') {
      reply = { ...reply, body: await streamText(reply.stream, controller.signal), stream: undefined }
    }
  } catch (error) {
    if (timedOut) throw controller.signal.reason as SwarmError
    if (isSwarmError(error)) throw error
    if (error instanceof Error && error.name === 'AbortError') throw new SwarmError(ErrorCode.Aborted, error.message, { cause: error })
    throw new SwarmError(ErrorCode.Internal, error instanceof Error ? error.message : String(error), { cause: error })
  } finally {
    clearTimeout(timer)
    parents.forEach((parent, index) => { parent?.removeEventListener('abort', listeners[index] as () => void) })
  }
  if (reply.status >= 400) throw engineError(reply.status, errorText(reply.body))
  return reply
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

/** Parses a reply's body as JSON. */
export function bodyJson<T> (reply: DockerReply): T {
  if (reply.body === undefined || reply.body === '') return undefined as T
  return JSON.parse(reply.body) as T
}

const decoder = new TextDecoder()
const encoder = new TextEncoder()

/** Encodes text as bytes. */
export function utf8 (text: string): Uint8Array {
  return encoder.encode(text)
}

/**
 * The JSON values of a stream of concatenated JSON objects (Docker's events, pull
 * progress, build output), whether or not they are newline-separated.
 */
export async function * jsonObjects (stream: ByteStream): AsyncGenerator<unknown, void, undefined> {
  let text = ''
  for await (const chunk of stream) {
    text += decoder.decode(chunk, { stream: true })
    let start = 0
    let depth = 0
    let inString = false
    let escaped = false
    let objectStart = -1
    for (let index = 0; index < text.length; index++) {
      const char = text.charCodeAt(index)
      if (inString) {
        if (escaped) escaped = false
        else if (char === 92) escaped = true
        else if (char === 34) inString = false
        continue
      }
      if (char === 34) inString = true
      else if (char === 123) {
        if (depth === 0) objectStart = index
        depth++
      } else if (char === 125) {
        depth--
        if (depth === 0 && objectStart >= 0) {
          const slice = text.slice(objectStart, index + 1)
          const value = JSON.parse(slice) as unknown
          keepExactTime(value, slice)
          yield value
          start = index + 1
          objectStart = -1
        }
      }
    }
    text = depth === 0 ? '' : text.slice(objectStart >= 0 ? objectStart : start)
  }
}

const EXACT_TIME_NANO = Symbol('timeNano as the engine wrote it')
const TIME_NANO = /"timeNano":(\d{16,})[,}]/

/**
 * An event's `timeNano` (about 1.8e18) does not fit a double: JSON.parse rounds it to some hundred
 * nanoseconds. The engine's digits are kept beside the parsed event (a symbol key, which object
 * spread copies), so that {@link eventJson} writes them back unchanged.
 */
function keepExactTime (value: unknown, text: string): void {
  if (typeof value !== 'object' || value === null || !text.includes('"timeNano":')) return
  const match = TIME_NANO.exec(text)
  if (match !== null) (value as Record<symbol, string>)[EXACT_TIME_NANO] = match[1] as string
}

/** An event parsed by {@link jsonObjects} as JSON text, with its `timeNano` exactly as the engine wrote it. */
export function eventJson (event: object): string {
  const json = JSON.stringify(event)
  const exact = (event as Record<symbol, string | undefined>)[EXACT_TIME_NANO]
  return exact === undefined ? json : json.replace(/"timeNano":[0-9.e+]+/, `"timeNano":${exact}`)
}

/** Compares two parsed events by time, to the nanosecond the engine wrote. */
export function compareEventTimes (a: { timeNano?: number, time?: number }, b: { timeNano?: number, time?: number }): number {
  const exactA = (a as Record<symbol, string | undefined>)[EXACT_TIME_NANO]
  const exactB = (b as Record<symbol, string | undefined>)[EXACT_TIME_NANO]
  if (exactA !== undefined && exactB !== undefined && exactA.length === exactB.length) return exactA < exactB ? -1 : exactA > exactB ? 1 : 0
  return (a.timeNano ?? (a.time ?? 0) * 1e9) - (b.timeNano ?? (b.time ?? 0) * 1e9)
}

/** Reads a whole stream as text; stops (and releases the stream) when `signal` aborts. */
async function streamText (stream: ByteStream, signal: AbortSignal): Promise<string> {
  const iterator = stream[Symbol.asyncIterator]()
  const onAbort = (): void => { void iterator.return?.()?.catch(() => {}) }
  signal.addEventListener('abort', onAbort, { once: true })
  const textDecoder = new TextDecoder()
  let text = ''
  try {
    for (let next = await iterator.next(); next.done !== true; next = await iterator.next()) {
      signal.throwIfAborted()
      text += textDecoder.decode(next.value, { stream: true })
    }
    signal.throwIfAborted()
    return text + textDecoder.decode()
  } finally {
    signal.removeEventListener('abort', onAbort)
  }
}

const CHUNK_CHARS = 64 * 1024

/**
 * A JSON array of `items` as a byte stream of pieces of about 64 KB, each item turned
 * into JSON text by `toJson` only as the stream is read: no string of the whole array exists.
 */
export async function * jsonArrayChunks<T> (items: readonly T[], toJson: (item: T) => string): AsyncGenerator<Uint8Array, void, undefined> {
  let text = '['
  for (let index = 0; index < items.length; index++) {
    text += (index === 0 ? '' : ',') + toJson(items[index] as T)
    if (text.length >= CHUNK_CHARS) {
      yield encoder.encode(text)
      text = ''
    }
  }
  yield encoder.encode(text + ']')
}

/** Drains a progress stream (pull, load) and throws the first `error` it reports. */
export async function drainProgress (stream: ByteStream | undefined): Promise<void> {
  if (stream === undefined) return
  for await (const value of jsonObjects(stream)) {
    const entry = value as { error?: string, errorDetail?: { message?: string } }
    if (typeof entry.error === 'string') throw new SwarmError(ErrorCode.Internal, entry.errorDetail?.message ?? entry.error)
  }
}

/**
 * `stream`, ended at once when `signal` aborts: the source is told to stop (`return()`) even
 * while a read waits for bytes that may never come (an engine's followed events).
 */
export function stopOnAbort (stream: ByteStream, signal: AbortSignal): ByteStream {
  return {
    [Symbol.asyncIterator]: () => {
      const inner = stream[Symbol.asyncIterator]()
      let stop: (() => void) | undefined
      const stopped = new Promise<IteratorResult<Uint8Array>>((resolve) => {
        stop = () => {
          void Promise.resolve(inner.return?.()).catch(() => {})
          resolve({ done: true, value: undefined })
        }
      })
      const onAbort = (): void => { stop?.() }
      if (signal.aborted) onAbort()
      else signal.addEventListener('abort', onAbort, { once: true })
      const forget = (): void => { signal.removeEventListener('abort', onAbort) }
      return {
        next: async () => {
          const result = await Promise.race([inner.next(), stopped])
          if (result.done === true) forget()
          return result
        },
        return: async () => {
          forget()
          stop?.()
          return { done: true, value: undefined }
        }
      }
    }
  }
}
