/**
 * Stdin that arrived before its process could read it (an attach precedes start, an exec
 * starts after a short delay). It never drops a chunk: writers wait for {@link room}
 * while it holds `limit` bytes or more, until the process starts or never will. The bound
 * keeps what the process echoes at once on start well below an output queue's.
 */
export class PendingStdin {
  private chunks: Array<Uint8Array | null> = []
  private bytes = 0
  private waiters: Array<() => void> = []

  constructor (private readonly limit = 64 * 1024) {}

  /** A chunk, or `null` for EOF. */
  push (chunk: Uint8Array | null): void {
    this.chunks.push(chunk)
    this.bytes += chunk?.byteLength ?? 0
  }

  /** `undefined` while there is room, else a promise that resolves once there is. */
  room (): Promise<void> | undefined {
    if (this.bytes < this.limit) return undefined
    return new Promise((resolve) => { this.waiters.push(resolve) })
  }

  /** Hands every chunk over (the process started, or never will) and lets waiting writers go on. */
  take (): Array<Uint8Array | null> {
    const chunks = this.chunks
    const waiters = this.waiters
    this.chunks = []
    this.bytes = 0
    this.waiters = []
    for (const resolve of waiters) resolve()
    return chunks
  }
}
