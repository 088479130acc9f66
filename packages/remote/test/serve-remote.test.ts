// Two chains joined by serve and remote behave like one.
//   chain A: serve unix://…/a.sock → answer (Ls, Get with a stream reply, Attach, Set)
//   chain B: front → remote unix://…/a.sock
import { createHash } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import {
  Client, createServer, createTree, defineService, message, request, spawnChain, type ByteStream, type Chain, type Service
} from '@libswarm/core'
import { serve } from '@libswarm/serve'
import { remote } from '../src/index.js'

const dir = mkdtempSync(join(tmpdir(), 'libswarm-serve-remote-'))
afterAll(() => { rmSync(dir, { recursive: true, force: true }) })

async function * bytes (total: number, fill: number): AsyncGenerator<Uint8Array> {
  for (let sent = 0; sent < total; sent += 64 * 1024) yield Buffer.alloc(Math.min(64 * 1024, total - sent), fill)
}

async function sha256 (stream: ByteStream): Promise<string> {
  const hash = createHash('sha256')
  for await (const chunk of stream) hash.update(chunk)
  return hash.digest('hex')
}

const answer = defineService({
  name: 'answer',
  usage: 'answer',
  spawn: () => createServer({
    Ls: () => message('Ack', ['alpha', 'beta']),
    Get: (m) => message('Ack', [`got ${m.args[0] ?? ''}`], { stream: bytes(Number(m.args[1] ?? 0), 1) }),
    Set: async (m) => message('Ack', [await sha256(m.stream ?? bytes(0, 0))]),
    Attach: (m) => message('Ack', [m.args[0] ?? ''], {
      ret: createTree({ child: createServer({ Get: (inner) => message('Ack', ['grandchild', ...inner.args]) }) })
    }),
    Start: () => new Promise(() => {}),
    Connect: (m) => message('Ack', [JSON.stringify(m.caller ?? null)])
  })
})

/** Forwards to next: stands for any front (dockerserver, say). */
const front = defineService({ name: 'front', usage: 'front', spawn: (_args, context) => context.next })

const services: Record<string, Service> = { serve, remote, answer, front }
const resolve = (name: string): Service => {
  const service = services[name]
  if (service === undefined) throw new Error(`no service ${name}`)
  return service
}

async function joined (socket: string): Promise<{ a: Chain, b: Chain, close: () => Promise<void> }> {
  const a = await spawnChain([`serve unix://${socket}`, 'answer'], { resolve })
  const b = await spawnChain(['front', `remote unix://${socket}`], { resolve })
  return { a, b, close: async () => { await b.close(); await a.close() } }
}

describe('serve and remote', () => {
  it('carry a message\'s caller from chain B to chain A, whole, and no caller when there is none', async () => {
    const { b, close } = await joined(join(dir, 'caller.sock'))
    try {
      const caller = { listener: 'ci', uid: 1000, gid: 1000, pid: 7, address: '127.0.0.1:5000', certificate: { subject: 'CN=ci,O=Example', sans: ['DNS:ci.example', 'URI:spiffe://example.org/ci'], fingerprint256: 'AB:CD' } }
      expect(JSON.parse((await request(b.head, 'Connect', [], { caller })).args[0] as string)).toEqual(caller)
      expect(JSON.parse((await request(b.head, 'Connect', [], { caller: { listener: 'other' } })).args[0] as string)).toEqual({ listener: 'other' })
      expect(JSON.parse((await request(b.head, 'Connect')).args[0] as string)).toBeNull()
    } finally {
      await close()
    }
  })

  it('join two chains: request/reply, nested Attach, and byte streams both ways', async () => {
    const { b, close } = await joined(join(dir, 'a.sock'))
    try {
      const client = new Client(b.head)
      expect((await client.ls()).args).toEqual(['alpha', 'beta'])

      const child = await client.child('x')
      const grandchild = await child.child('child')
      expect((await grandchild.get(['deep'])).args).toEqual(['grandchild', 'deep'])

      const reply = await client.get(['file', String(3 * 1024 * 1024)])
      expect(reply.args).toEqual(['got file'])
      expect(await sha256(reply.stream!)).toBe(await sha256(bytes(3 * 1024 * 1024, 1)))

      const upload = await client.set([], { stream: bytes(5 * 1024 * 1024, 9) })
      expect(upload.args).toEqual([await sha256(bytes(5 * 1024 * 1024, 9))])
    } finally { await close() }
  })

  it('answers UNAVAILABLE when nothing listens, then reconnects once serve is up', async () => {
    const socket = join(dir, 'late.sock')
    const b = await spawnChain(['front', `remote unix://${socket}`], { resolve })
    try {
      await expect(request(b.head, 'Ls')).rejects.toMatchObject({ code: 'UNAVAILABLE' })
      const a = await spawnChain([`serve unix://${socket}`, 'answer'], { resolve })
      try {
        let reply
        for (let attempt = 0; reply === undefined && attempt < 50; attempt++) {
          reply = await request(b.head, 'Ls').catch(async () => { await new Promise((r) => setTimeout(r, 100)) })
        }
        expect(reply?.args).toEqual(['alpha', 'beta'])
      } finally { await a.close() }
    } finally { await b.close() }
  })

  it('rejects pending replies when the serving chain goes away, and reconnects when it is back', async () => {
    const socket = join(dir, 'drop.sock')
    const first = await joined(socket)
    try {
      expect((await request(first.b.head, 'Ls')).args).toEqual(['alpha', 'beta'])
      const pending = request(first.b.head, 'Start').then(() => 'resolved', (e: { code?: string }) => e.code)
      await new Promise((r) => setTimeout(r, 50))
      await first.a.close()
      expect(await pending).toMatch(/^(UNAVAILABLE|CHANNEL_CLOSED)$/)
      await expect(request(first.b.head, 'Ls')).rejects.toMatchObject({ code: 'UNAVAILABLE' })
      const again = await spawnChain([`serve unix://${socket}`, 'answer'], { resolve })
      try {
        let reply
        for (let attempt = 0; reply === undefined && attempt < 50; attempt++) {
          reply = await request(first.b.head, 'Ls').catch(async () => { await new Promise((r) => setTimeout(r, 100)) })
        }
        expect(reply?.args).toEqual(['alpha', 'beta'])
      } finally { await again.close() }
    } finally { await first.b.close() }
  })

  it('checks its arguments', async () => {
    await expect(spawnChain(['remote'], { resolve })).rejects.toMatchObject({ code: 'INVALID_ARGUMENTS' })
    await expect(spawnChain(['remote tls://127.0.0.1:1'], { resolve })).rejects.toMatchObject({ code: 'INVALID_ARGUMENTS' })
    await expect(spawnChain(['serve tcp://127.0.0.1:0 --tlscert x'], { resolve })).rejects.toMatchObject({ code: 'INVALID_ARGUMENTS' })
  })
})
