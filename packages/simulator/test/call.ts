import { request, type ByteStream, type Sender } from '@libswarm/core'
import { decodeDockerReply, encodeDockerRequest, type DockerQuery } from '@libswarm/docker-api'

/** What a test sends: an operation, its target and whatever else the request carries. */
export interface CallOptions {
  query?: DockerQuery
  body?: unknown
  stream?: ByteStream
  headers?: Record<string, string>
  version?: string
}

/** A reply with its stream left open, for tests that read it as it comes. */
export interface OpenReply {
  status: number
  body: string
  headers: Record<string, string> | undefined
  stream: ByteStream | undefined
  json: <T = any>() => T
}

/** Sends one Docker request the way dockerserver would and decodes the reply. */
export async function open (target: Sender, operation: string, id = '', options: CallOptions = {}): Promise<OpenReply> {
  const message = encodeDockerRequest({ operation, target: id, query: options.query, body: options.body, headers: options.headers, version: options.version, stream: options.stream })
  const reply = decodeDockerReply(await request(target, message.verb, message.args, { stream: options.stream }))
  return {
    status: reply.status,
    body: reply.body ?? '',
    headers: reply.headers,
    stream: reply.stream,
    json: () => JSON.parse(reply.body ?? '')
  }
}

/** A reply with its stream read to the end. */
export interface Reply extends OpenReply {
  bytes: Buffer
  text: string
}

/** Sends one request and reads the whole reply, streamed part included. */
export async function call (target: Sender, operation: string, id = '', options: CallOptions = {}): Promise<Reply> {
  const reply = await open(target, operation, id, options)
  const chunks: Buffer[] = []
  if (reply.stream !== undefined) for await (const chunk of reply.stream) chunks.push(Buffer.from(chunk))
  const bytes = Buffer.concat(chunks)
  return { ...reply, bytes, text: bytes.toString('utf8') }
}

/** The frames of a multiplexed stream: [stream, text]. */
export function demux (bytes: Buffer): Array<[number, string]> {
  const frames: Array<[number, string]> = []
  let offset = 0
  while (offset + 8 <= bytes.length) {
    const size = bytes.readUInt32BE(offset + 4)
    frames.push([bytes[offset] as number, bytes.subarray(offset + 8, offset + 8 + size).toString('utf8')])
    offset += 8 + size
  }
  if (offset !== bytes.length) throw new Error(`trailing ${bytes.length - offset} bytes after the last frame`)
  return frames
}

/** A byte stream the test writes into and ends. */
export function writableStream (): { stream: ByteStream, write: (text: string) => void, end: () => void } {
  const chunks: Uint8Array[] = []
  let ended = false
  let wake: (() => void) | undefined
  const stream: ByteStream = {
    async * [Symbol.asyncIterator] () {
      while (true) {
        const chunk = chunks.shift()
        if (chunk !== undefined) {
          yield chunk
          continue
        }
        if (ended) return
        await new Promise<void>((resolve) => { wake = resolve })
      }
    }
  }
  const signal = (): void => {
    const w = wake
    wake = undefined
    w?.()
  }
  return {
    stream,
    write: (text) => { chunks.push(Buffer.from(text)); signal() },
    end: () => { ended = true; signal() }
  }
}

/** Creates a container and returns its id. */
export async function createContainer (target: Sender, body: Record<string, unknown>, name?: string): Promise<string> {
  const reply = await call(target, 'ContainerCreate', '', { body: { Image: 'busybox', ...body }, query: name === undefined ? undefined : { name } })
  return reply.json<{ Id: string }>().Id
}

/** Creates and starts a container; returns its id. */
export async function runContainer (target: Sender, body: Record<string, unknown>, name?: string): Promise<string> {
  const id = await createContainer(target, body, name)
  await call(target, 'ContainerStart', id)
  return id
}
