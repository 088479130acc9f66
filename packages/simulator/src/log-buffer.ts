import { rfc3339 } from './clock.js'

/** Which stream a line of output went to, as the multiplexed framing numbers them. */
export type OutputStream = 1 | 2

interface LogEntry {
  readonly time: number
  readonly stream: OutputStream
  readonly bytes: Uint8Array
}

/**
 * A container's recent output: the last `maxEntries` writes and at most `maxBytes`,
 * whichever is smaller. Created on a container's first write, so silent containers
 * cost nothing.
 */
export class LogBuffer {
  private entries: LogEntry[] = []
  private bytes = 0

  constructor (private readonly maxEntries = 256, private readonly maxBytes = 64 * 1024) {}

  append (time: number, stream: OutputStream, bytes: Uint8Array): void {
    this.entries.push({ time, stream, bytes })
    this.bytes += bytes.byteLength
    while (this.entries.length > this.maxEntries || (this.bytes > this.maxBytes && this.entries.length > 1)) {
      this.bytes -= (this.entries.shift() as LogEntry).bytes.byteLength
    }
  }

  /** The entries selected by `docker logs` options, oldest first. */
  select (options: LogSelection): LogEntry[] {
    let selected = this.entries.filter((entry) =>
      (entry.stream === 1 ? options.stdout : options.stderr) &&
      (options.since === undefined || entry.time > options.since) &&
      (options.until === undefined || entry.time <= options.until))
    if (options.tail !== undefined && options.tail >= 0 && selected.length > options.tail) selected = selected.slice(selected.length - options.tail)
    return selected
  }
}

/** What `docker logs` asks for. */
export interface LogSelection {
  stdout: boolean
  stderr: boolean
  since?: number | undefined
  until?: number | undefined
  tail?: number | undefined
}

const encoder = new TextEncoder()

/**
 * One write as the client receives it: with `multiplexed`, behind the 8-byte header
 * (stream, three zero bytes, big-endian length) dockerd puts on non-TTY output;
 * with `timestamps`, preceded by the RFC 3339 time and a space.
 */
export function frameOutput (stream: OutputStream, bytes: Uint8Array, multiplexed: boolean, time?: number): Uint8Array {
  let payload = bytes
  if (time !== undefined) {
    const prefix = encoder.encode(rfc3339(time, true) + ' ')
    payload = new Uint8Array(prefix.byteLength + bytes.byteLength)
    payload.set(prefix, 0)
    payload.set(bytes, prefix.byteLength)
  }
  if (!multiplexed) return payload
  const framed = new Uint8Array(8 + payload.byteLength)
  framed[0] = stream
  new DataView(framed.buffer).setUint32(4, payload.byteLength)
  framed.set(payload, 8)
  return framed
}
