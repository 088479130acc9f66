import { createWriteStream, type WriteStream } from 'node:fs'
import type { Caller } from '@libswarm/core'

/** One decision, as one JSON line of the audit. */
export interface AuditRecord {
  readonly time: string
  /** The policy's name for the caller, if any client matched. */
  readonly client: string | undefined
  readonly caller: Caller | undefined
  readonly operation: string
  readonly target: string
  readonly decision: 'allow' | 'deny'
  readonly rule: string
  /** For a denial, what was denied. */
  readonly reason?: string | undefined
  /** What the policy changed in the request. */
  readonly rewrites: readonly string[]
}

/** Where audit lines go. */
export interface AuditSink {
  write (record: AuditRecord): void
  close (): Promise<void>
}

/** `stdout`, `stderr`, or a file appended to (created if missing). Writes never wait: a slow disk cannot stall requests. */
export function openAudit (where: string): AuditSink {
  if (where === 'stdout' || where === '-') return { write: (record) => { process.stdout.write(`${JSON.stringify(record)}\n`) }, close: async () => {} }
  if (where === 'stderr') return { write: (record) => { process.stderr.write(`${JSON.stringify(record)}\n`) }, close: async () => {} }
  const stream: WriteStream = createWriteStream(where, { flags: 'a' })
  let failed: Error | undefined
  stream.on('error', (error) => { failed = error })
  return {
    write: (record) => { if (failed === undefined) stream.write(`${JSON.stringify(record)}\n`) },
    close: async () => await new Promise<void>((resolve) => { stream.end(resolve) })
  }
}
