import type { Socket } from 'node:net'

/** How long a closing connection may stay silent before it is cut. */
const QUIET_MS = 250
/** How long a closing connection may go on sending before it is cut anyway. */
const MAX_LINGER_MS = 5_000

/**
 * Ends a connection after an answer that left part of the request unread (a body over the
 * limit, a broken request). Closing a socket that still has bytes to read makes the kernel
 * reset the connection, and a reset can destroy the answer before the client reads it. So
 * the rest is read and dropped until the client closes, stays quiet for a moment, or has
 * gone on for too long.
 */
export function endLingering (socket: Socket): void {
  // node:http's parser, when it still has the socket, reads no more of it.
  socket.removeAllListeners('data')
  socket.removeAllListeners('end')
  socket.on('error', () => {})
  const quiet = setTimeout(() => socket.destroy(), QUIET_MS)
  const limit = setTimeout(() => socket.destroy(), MAX_LINGER_MS)
  quiet.unref()
  limit.unref()
  socket.on('data', () => { quiet.refresh() })
  socket.once('end', () => socket.destroy())
  socket.once('close', () => {
    clearTimeout(quiet)
    clearTimeout(limit)
  })
  socket.end()
  socket.resume()
}
