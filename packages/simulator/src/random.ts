import { randomBytes } from 'node:crypto'

const scratch = Buffer.alloc(64)

/**
 * A small seeded generator (sfc32: 128 bits of state), so that two simulators with
 * different names never walk overlapping sequences and a `--seed` replays a run.
 */
export class SeededRandom {
  private a: number
  private b: number
  private c: number
  private d: number

  constructor (seed: number | undefined, salt: string) {
    const base = seed === undefined ? randomBytes(16) : undefined
    this.a = base === undefined ? (seed as number) >>> 0 : base.readUInt32LE(0)
    this.b = base === undefined ? Math.floor((seed as number) / 0x100000000) >>> 0 : base.readUInt32LE(4)
    this.c = base === undefined ? hashString(salt, 0x9e3779b9) : base.readUInt32LE(8)
    this.d = base === undefined ? hashString(salt, 0x85ebca6b) : base.readUInt32LE(12)
    for (let i = 0; i < 15; i++) this.nextUint32()
  }

  /** A uniformly distributed 32-bit unsigned integer. */
  nextUint32 (): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0
    this.d = (this.d + 1) | 0
    this.a = this.b ^ (this.b >>> 9)
    this.b = (this.c + (this.c << 3)) | 0
    this.c = (this.c << 21) | (this.c >>> 11)
    this.c = (this.c + t) | 0
    return t >>> 0
  }

  /** A number in [0, 1). */
  next (): number {
    return this.nextUint32() / 0x100000000
  }

  /**
   * `bytes` random bytes as lowercase hex (64 characters for 32 bytes, a Docker id),
   * as one flat string: built by concatenation it would be a rope of eight pieces,
   * five times the memory of the id it holds.
   */
  hex (bytes = 32): string {
    for (let i = 0; i < bytes; i += 4) scratch.writeUInt32BE(this.nextUint32(), i)
    return scratch.toString('hex', 0, bytes)
  }
}

/** FNV-1a, mixed with `seed`: turns a name into 32 bits of state. */
export function hashString (text: string, seed = 0x811c9dc5): number {
  let hash = seed >>> 0
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i)
    hash = Math.imul(hash, 0x01000193) >>> 0
  }
  return hash
}
