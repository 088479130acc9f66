import type { Server, Socket } from 'node:net'
import { errorBody, rawResponseHead } from './http-reply.js'
import { endLingering } from './lingering-close.js'

/**
 * One cap on the connections of every listener of a server. A connection over the cap
 * gets a Docker-style 503 at once and is closed, instead of being dropped in silence
 * (node's own `maxConnections`), so that a client tells "busy" from "down".
 */
export class ConnectionCap {
  private readonly open = new Set<Socket>()
  private readonly refused = new Set<Socket>()

  /**
   * @param max - connections served at once
   * @param headers - headers of the refusal (dockerd's `Api-Version`, ...)
   */
  constructor (private readonly max: number, private readonly headers: () => Record<string, string>) {}

  /** Connections served now (hijacked ones included), not counting refused ones. */
  get size (): number { return this.open.size }

  /**
   * Puts the cap in front of `server`'s own handler of `event` (`connection` for node:http,
   * `secureConnection` for node:https, whose answer must go through TLS).
   */
  guard (server: Server, event: 'connection' | 'secureConnection'): void {
    const handlers = server.listeners(event) as Array<(socket: Socket) => void>
    server.removeAllListeners(event)
    server.on(event, (socket: Socket) => {
      if (this.open.size >= this.max) {
        this.refuse(socket)
        return
      }
      this.open.add(socket)
      socket.once('close', () => this.open.delete(socket))
      for (const handler of handlers) handler.call(server, socket)
    })
  }

  /** Cuts every connection still open, refused ones lingering included (the end of close()). */
  destroyAll (): void {
    for (const socket of [...this.open, ...this.refused]) socket.destroy()
  }

  private refuse (socket: Socket): void {
    this.refused.add(socket)
    socket.on('error', () => {})
    const body = errorBody(`too many connections (at most ${this.max}): try again later`)
    const head = rawResponseHead(503, {
      ...this.headers(),
      'Content-Type': 'application/json',
      'Content-Length': String(Buffer.byteLength(body)),
      Connection: 'close'
    })
    socket.write(head + body)
    endLingering(socket)
    socket.once('close', () => {
      this.refused.delete(socket)
    })
  }
}
