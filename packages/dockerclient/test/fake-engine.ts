import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { Socket } from 'node:net'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { request, type Sender } from '@libswarm/core'
import { decodeDockerReply, encodeDockerRequest, type DockerReply, type DockerRequest } from '@libswarm/docker-api'

/** What a fake engine saw of one request. */
export interface SeenRequest {
  method: string
  url: string
  headers: IncomingMessage['headers']
  body: Buffer
}

export type FakeHandler = (req: IncomingMessage, res: ServerResponse, body: Buffer) => void
export type UpgradeHandler = (req: IncomingMessage, socket: Socket, head: Buffer) => void

/** A tiny engine on a unix socket: node:http with handlers the test sets. */
export class FakeEngine {
  readonly seen: SeenRequest[] = []
  handler: FakeHandler = (_req, res) => { res.writeHead(404).end('{"message":"no handler"}') }
  upgrade: UpgradeHandler = (_req, socket) => { socket.destroy() }
  /** Handlers that want the request body streaming rather than buffered. */
  raw: ((req: IncomingMessage, res: ServerResponse) => void) | undefined
  server: Server | undefined
  readonly sockets = new Set<Socket>()

  private constructor (readonly dir: string, readonly socketPath: string) {}

  static async start (): Promise<FakeEngine> {
    const dir = await mkdtemp(join(tmpdir(), 'dockerclient-fake-'))
    const engine = new FakeEngine(dir, join(dir, 'docker.sock'))
    await engine.listen()
    return engine
  }

  get address (): string { return `unix://${this.socketPath}` }

  async listen (): Promise<void> {
    const server = createServer((req, res) => {
      if (this.raw !== undefined) {
        this.raw(req, res)
        return
      }
      const chunks: Buffer[] = []
      req.on('data', (chunk: Buffer) => chunks.push(chunk))
      req.on('end', () => {
        const body = Buffer.concat(chunks)
        this.seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body })
        this.handler(req, res, body)
      })
    })
    server.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => {
      this.seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: Buffer.alloc(0) })
      this.upgrade(req, socket, head)
    })
    server.on('connection', (socket: Socket) => {
      this.sockets.add(socket)
      socket.on('close', () => this.sockets.delete(socket))
    })
    await new Promise<void>((resolve) => server.listen(this.socketPath, resolve))
    this.server = server
  }

  /** Stops listening and drops every connection, like an engine going away. */
  async stop (): Promise<void> {
    const server = this.server
    this.server = undefined
    if (server === undefined) return
    for (const socket of this.sockets) socket.destroy()
    await new Promise<void>((resolve) => server.close(() => resolve()))
  }

  async close (): Promise<void> {
    await this.stop()
    await rm(this.dir, { recursive: true, force: true })
  }
}

/** Sends a Docker request to a service and decodes the reply (an Error reply rejects). */
export async function call (service: Sender, docker: DockerRequest): Promise<DockerReply> {
  const message = encodeDockerRequest(docker)
  return decodeDockerReply(await request(service, message.verb, message.args, { stream: message.stream }))
}

/** Reads a byte stream to the end. */
export async function collect (stream: AsyncIterable<Uint8Array> | undefined): Promise<Buffer> {
  const chunks: Buffer[] = []
  for await (const chunk of stream ?? []) chunks.push(Buffer.from(chunk))
  return Buffer.concat(chunks)
}

/** A byte stream the test feeds by hand. */
export class FeedStream implements AsyncIterable<Uint8Array> {
  private readonly queue: Array<Uint8Array | null> = []
  private wake: (() => void) | undefined
  returned = false

  push (chunk: string | Uint8Array): void { this.queue.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk); this.wake?.() }
  end (): void { this.queue.push(null); this.wake?.() }

  async * [Symbol.asyncIterator] (): AsyncGenerator<Uint8Array> {
    try {
      while (true) {
        while (this.queue.length === 0) await new Promise<void>((resolve) => { this.wake = resolve })
        const next = this.queue.shift()
        if (next === null || next === undefined) return
        yield next
      }
    } finally {
      this.returned = true
    }
  }
}
