// Output nobody reads yet is never dropped: cat stops reading its stdin while its attach
// output waits (as a pipe would), and a reader that falls too far behind gets an error.
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { createSimulator, type Simulator } from '../src/index.js'
import { call, createContainer, open, runContainer } from './call.js'

let sim: Simulator

beforeEach(() => { sim = createSimulator({ seed: 12 }) })
afterEach(async () => { await sim.close() })

const TOTAL = 1024 * 1024
const CHUNK = 16 * 1024

async function * input (): AsyncGenerator<Uint8Array> {
  // Letters: no ctrl-p ctrl-q (the detach keys) in the input.
  for (let sent = 0; sent < TOTAL; sent += CHUNK) yield Buffer.alloc(CHUNK, 0x41 + (sent / CHUNK) % 26)
}

/** Payload bytes of a multiplexed stream, checked frame by frame. */
async function payload (stream: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const chunks: Buffer[] = []
  for await (const chunk of stream) chunks.push(Buffer.from(chunk))
  const bytes = Buffer.concat(chunks)
  const parts: Buffer[] = []
  for (let offset = 0; offset < bytes.length;) {
    const size = bytes.readUInt32BE(offset + 4)
    parts.push(bytes.subarray(offset + 8, offset + 8 + size))
    offset += 8 + size
  }
  return Buffer.concat(parts)
}

async function expected (): Promise<Buffer> {
  const chunks: Uint8Array[] = []
  for await (const chunk of input()) chunks.push(chunk)
  return Buffer.concat(chunks)
}

describe('attach output read late', () => {
  it('cat over attach: every byte of 1 MiB comes back when the reader starts late', async () => {
    const id = await runContainer(sim, { Cmd: ['cat'], OpenStdin: true, StdinOnce: true })
    const attached = await open(sim, 'ContainerAttach', id, { query: { stream: '1', stdin: '1', stdout: '1', stderr: '1' }, stream: input() })
    await new Promise((resolve) => setTimeout(resolve, 200))
    const bytes = await payload(attached.stream!)
    expect(bytes.length).toBe(TOTAL)
    expect(bytes.equals(await expected())).toBe(true)
  })

  it('cat over exec start: every byte of 1 MiB comes back when the reader starts late', async () => {
    const id = await runContainer(sim, {})
    const exec = (await call(sim, 'ContainerExec', id, { body: { Cmd: ['cat'], AttachStdin: true, AttachStdout: true } })).json<{ Id: string }>().Id
    const started = await open(sim, 'ExecStart', exec, { body: { Detach: false }, stream: input() })
    await new Promise((resolve) => setTimeout(resolve, 200))
    const bytes = await payload(started.stream!)
    expect(bytes.length).toBe(TOTAL)
    expect(bytes.equals(await expected())).toBe(true)
  })

  it('a second reader that does not keep up gets an error, not a stream with a hole', async () => {
    const id = await runContainer(sim, { Cmd: ['cat'], OpenStdin: true, StdinOnce: true })
    const idle = await open(sim, 'ContainerAttach', id, { query: { stream: '1', stdout: '1' } })
    const attached = await open(sim, 'ContainerAttach', id, { query: { stream: '1', stdin: '1', stdout: '1' }, stream: input() })
    expect((await payload(attached.stream!)).length).toBe(TOTAL)
    await expect(payload(idle.stream!)).rejects.toMatchObject({ code: 'UNAVAILABLE' })
  })

  it('stdin written before start is kept whole (more than 256 chunks)', { timeout: 10_000 }, async () => {
    const id = await createContainer(sim, { Cmd: ['cat'], OpenStdin: true, StdinOnce: true })
    async function * small (): AsyncGenerator<Uint8Array> { for (let i = 0; i < 1000; i++) yield Buffer.from(`${i}\n`) }
    const attached = await open(sim, 'ContainerAttach', id, { query: { stream: '1', stdin: '1', stdout: '1' }, stream: small() })
    await new Promise((resolve) => setTimeout(resolve, 50))
    await call(sim, 'ContainerStart', id)
    const text = (await payload(attached.stream!)).toString()
    expect(text).toBe(Array.from({ length: 1000 }, (_, i) => `${i}\n`).join(''))
  })
})
