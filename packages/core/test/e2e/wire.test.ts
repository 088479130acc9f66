import { createHash, randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import net from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Client, connectStreams, createServer, dial, message, request, requestStream, type WireConnection } from '../../src/index.js'
// @ts-expect-error the fixture is plain JavaScript
import { generate } from '../fixtures/wire-peer.mjs'
import { killPeer, startListeningPeer, startStdioPeer, type PeerProcess } from './peer-process.js'
import { generateCertificates } from './tls-certs.js'

const BIG = 256 * 1024 * 1024
const generateBytes = generate as (seed: number, total: number) => AsyncGenerator<Buffer>

async function sha256Of (stream: AsyncIterable<Uint8Array>): Promise<[string, number]> {
  const hash = createHash('sha256')
  let bytes = 0
  for await (const chunk of stream) { hash.update(chunk); bytes += chunk.length }
  return [hash.digest('hex'), bytes]
}

const dir = mkdtempSync(join(tmpdir(), 'libswarm-wire-e2e-'))
afterAll(() => { rmSync(dir, { recursive: true, force: true }) })

/** The behaviours every transport must show, against a peer in another process. */
function transportSuite (open: () => Promise<{ connection: WireConnection, stop: () => Promise<void> }>): void {
  let connection: WireConnection
  let stop: () => Promise<void>
  beforeAll(async () => { ({ connection, stop } = await open()) })
  afterAll(async () => {
    await connection?.close()
    await stop?.()
  })

  it('answers a request', async () => {
    expect((await request(connection.remote, 'Ls')).args).toEqual(['peer'])
  })

  it('nests channels three deep, and a reply ret used with its own ret', async () => {
    const client = new Client(connection.remote)
    const level2 = await client.child('a')
    const level3 = await level2.child('b')
    const level4 = await level3.child('c')
    expect((await level4.get(['x'])).args).toEqual(['level4', 'x'])
    expect((await level2.get(['y'])).args).toEqual(['level2', 'y'])
    const spawned = await level3.spawn()
    expect(spawned.args).toEqual(['spawned at level3'])
    expect((await request(spawned.ret!, 'Get', ['z'])).args).toEqual(['inner of level3', 'z'])
  })

  it('serves 10,000 concurrent requests', async () => {
    const replies = await Promise.all(Array.from({ length: 10_000 }, async (_, i) => await request(connection.remote, 'Get', [String(i), 'x'.repeat(i % 50)])))
    replies.forEach((reply, i) => { expect(reply.args).toEqual([String(i), 'x'.repeat(i % 50)]) })
  })

  it('lets the peer call this end back on the same connection', async () => {
    expect((await request(connection.remote, 'Connect')).args).toEqual(['peer says', 'client'])
  })

  it('carries 256 MiB to the peer, verified by sha256', async () => {
    const [expected] = await sha256Of(generateBytes(7, BIG))
    const reply = await request(connection.remote, 'Set', [], { stream: generateBytes(7, BIG) })
    expect(reply.args).toEqual([expected, String(BIG)])
  }, 180_000)

  it('carries 256 MiB from the peer, verified by sha256', async () => {
    const [expected] = await sha256Of(generateBytes(11, BIG))
    const reply = await request(connection.remote, 'File', [String(BIG), '11'])
    expect(await sha256Of(reply.stream!)).toEqual([expected, BIG])
  }, 180_000)

  it('echoes 500 attachments of 256 KiB at once while 10,000 requests cross them', async () => {
    const size = 256 * 1024
    const echoes = Array.from({ length: 500 }, async (_, i) => {
      const reply = await request(connection.remote, 'Log', [], { stream: generateBytes(i + 1, size) })
      const [hash, bytes] = await sha256Of(reply.stream!)
      expect(bytes).toBe(size)
      expect(hash).toBe((await sha256Of(generateBytes(i + 1, size)))[0])
    })
    const requests = Array.from({ length: 10_000 }, async (_, i) => {
      expect((await request(connection.remote, 'Get', [String(i)])).args).toEqual([String(i)])
    })
    await Promise.all([...echoes, ...requests])
  }, 120_000)

  it('carries 64 MiB both ways at once (the peer echoes while it receives), verified by sha256', async () => {
    const size = 64 * 1024 * 1024
    const [expected] = await sha256Of(generateBytes(13, size))
    const reply = await request(connection.remote, 'Log', [], { stream: generateBytes(13, size) })
    expect(await sha256Of(reply.stream!)).toEqual([expected, size])
  }, 180_000)
}

const clientService = createServer({ Ls: () => message('Ack', ['client']) })

describe('wire over a unix socket, peer in another process', () => {
  transportSuite(async () => {
    const peer = await startListeningPeer(`unix://${join(dir, 'peer.sock')}`)
    const connection = await dial(peer.address, { service: clientService })
    return { connection, stop: peer.kill }
  })
})

describe('wire over mutual TLS, peer in another process', () => {
  const certs = join(dir, 'certs')
  let peer: PeerProcess
  transportSuite(async () => {
    rmSync(certs, { recursive: true, force: true })
    const { mkdirSync } = await import('node:fs')
    mkdirSync(certs)
    generateCertificates(certs)
    peer = await startListeningPeer('tls://127.0.0.1:0', { WIRE_TLS_DIR: certs })
    const tls = { ca: join(certs, 'ca.pem'), cert: join(certs, 'client.pem'), key: join(certs, 'client-key.pem') }
    const connection = await dial(peer.address, { service: clientService, tls })
    return { connection, stop: peer.kill }
  })

  it('refuses a client whose certificate another CA signed', async () => {
    const tls = { ca: join(certs, 'ca.pem'), cert: join(certs, 'rogue-client.pem'), key: join(certs, 'rogue-client-key.pem') }
    await expect(dial(peer.address, { tls })).rejects.toMatchObject({ name: 'SwarmError', code: 'UNAUTHORIZED' })
  })

  it('refuses a client that trusts another CA (the server certificate does not verify)', async () => {
    const tls = { ca: join(certs, 'rogue-ca.pem'), cert: join(certs, 'client.pem'), key: join(certs, 'client-key.pem') }
    await expect(dial(peer.address, { tls })).rejects.toMatchObject({ code: 'UNAUTHORIZED' })
  })

  it('refuses a plain TCP client on the TLS port', async () => {
    const error = await dial(peer.address.replace('tls://', 'tcp://'), { signal: AbortSignal.timeout(5000) }).then(() => undefined, (e: unknown) => e)
    expect(error).toMatchObject({ name: 'SwarmError' })
  })
})

describe('wire over stdio of a child process', () => {
  transportSuite(async () => {
    const child = startStdioPeer()
    const connection = connectStreams(child.stdout!, child.stdin!, { role: 'client', service: clientService })
    return { connection, stop: async () => { await killPeer(child) } }
  })
})

describe('wire faults', () => {
  let peer: PeerProcess
  beforeAll(async () => { peer = await startListeningPeer(`unix://${join(dir, 'faults.sock')}`) })
  afterAll(async () => { await peer?.kill() })

  it('closes a connection that sends garbage instead of the HTTP/2 preface, and keeps serving', async () => {
    const socket = net.connect(peer.address.slice('unix://'.length))
    socket.on('error', () => {})
    await new Promise((resolve) => socket.once('connect', resolve))
    socket.resume()
    socket.write(randomBytes(4096))
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => { reject(new Error('the listener kept the garbage connection open')) }, 5000)
      socket.once('close', () => { clearTimeout(timer); resolve() })
    })
    expect(peer.child.exitCode).toBeNull()
    await using connection = await dial(peer.address)
    expect((await request(connection.remote, 'Ls')).args).toEqual(['peer'])
  })

  it('rejects everything pending within a second when the peer is killed mid-stream', async () => {
    const victim = await startListeningPeer(`unix://${join(dir, 'victim.sock')}`)
    const connection = await dial(victim.address)
    const download = await request(connection.remote, 'File', [String(64 * 1024 * 1024 * 1024), '3'])
    const iterator = download.stream![Symbol.asyncIterator]()
    await iterator.next()
    const upload = request(connection.remote, 'Set', [], { stream: generateBytes(5, 64 * 1024 * 1024 * 1024) })
    const pending = request(connection.remote, 'Start')
    const watch = requestStream(connection.remote, 'Watch')
    expect((await watch.next()).value?.args).toEqual(['first'])
    const receive = watch.next()
    const reading = (async () => { while (!(await iterator.next()).done); })()
    const outcomes = [pending, receive, reading, upload].map(async (p) => await p.then(() => 'resolved', (e: { code?: string }) => e.code))
    const killed = Date.now()
    await killPeer(victim.child)
    const codes = await Promise.all(outcomes)
    expect(Date.now() - killed).toBeLessThan(1000)
    expect(codes[0]).toMatch(/^(UNAVAILABLE|CHANNEL_CLOSED)$/)
    expect(codes[1]).toMatch(/^(UNAVAILABLE|CHANNEL_CLOSED)$/)
    expect(codes[2]).toMatch(/^(UNAVAILABLE|CHANNEL_CLOSED)$/)
    expect(codes[3]).toMatch(/^(UNAVAILABLE|CHANNEL_CLOSED)$/)
    expect(await connection.closed).toBeInstanceOf(Error)
    await expect(connection.remote.send(message('Ls'))).rejects.toMatchObject({ code: 'UNAVAILABLE' })
  })

  it('refuses to dial an address nobody listens on', async () => {
    await expect(dial(`unix://${join(dir, 'nobody.sock')}`)).rejects.toMatchObject({ code: 'UNAVAILABLE' })
  })
})
