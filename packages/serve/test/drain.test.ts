// close() drains: serve stops accepting, lets the replies in flight reach their peers (streams
// included), then closes; a request that never answers holds it only until closeTimeoutMs.
import { describe, expect, it } from 'vitest'
import { createServer, dial, message, request, type ByteStream } from '@libswarm/core'
import { createServe } from '../src/index.js'

const sleep = async (ms: number): Promise<void> => { await new Promise((resolve) => setTimeout(resolve, ms)) }

async function * slowBytes (chunks: number, size: number): AsyncGenerator<Uint8Array> {
  for (let i = 0; i < chunks; i++) {
    await sleep(20)
    yield Buffer.alloc(size, i)
  }
}

async function length (stream: ByteStream): Promise<number> {
  let total = 0
  for await (const chunk of stream) total += chunk.byteLength
  return total
}

const slow = createServer({
  Get: async (m) => { await sleep(300); return message('Ack', m.args) },
  File: async () => { await sleep(100); return message('Ack', ['file'], { stream: slowBytes(10, 64 * 1024) }) },
  Start: () => new Promise<undefined>(() => {})
})

describe('serve: close() drains', () => {
  it('delivers the 20 replies in flight, and a streamed one whole, before it closes', async () => {
    const instance = await createServe(slow, { address: 'tcp://127.0.0.1:0' })
    const connection = await dial(instance.address)
    const replies = Array.from({ length: 20 }, async (_, i) => await request(connection.remote, 'Get', [String(i)]))
    const file = request(connection.remote, 'File').then(async (reply) => await length(reply.stream!))
    await sleep(50)
    const started = Date.now()
    const closed = instance.close()
    await sleep(20)
    await expect(dial(instance.address)).rejects.toMatchObject({ code: 'UNAVAILABLE' })
    await expect(request(connection.remote, 'Get', ['late'])).rejects.toMatchObject({ code: 'UNAVAILABLE', message: 'serve is shutting down' })
    expect((await Promise.all(replies)).map((reply) => reply.args[0])).toEqual(Array.from({ length: 20 }, (_, i) => String(i)))
    expect(await file).toBe(10 * 64 * 1024)
    await closed
    expect(Date.now() - started).toBeLessThan(3000)
    expect(await connection.closed).toBeUndefined()
  })

  it('closes after closeTimeoutMs when a request never answers, failing it', async () => {
    const instance = await createServe(slow, { address: 'tcp://127.0.0.1:0', closeTimeoutMs: 300 })
    const connection = await dial(instance.address)
    const hung = request(connection.remote, 'Start').catch((error: unknown) => error)
    await sleep(50)
    const started = Date.now()
    await instance.close()
    const took = Date.now() - started
    expect(took).toBeGreaterThanOrEqual(250)
    expect(took).toBeLessThan(2000)
    expect(await hung).toMatchObject({ code: 'UNAVAILABLE' })
  })

  it('cuts the drain at once on a second close', async () => {
    const instance = await createServe(slow, { address: 'tcp://127.0.0.1:0' })
    const connection = await dial(instance.address)
    const hung = request(connection.remote, 'Start').catch((error: unknown) => error)
    await sleep(50)
    const started = Date.now()
    void instance.close()
    await instance.close()
    expect(Date.now() - started).toBeLessThan(1500)
    expect(await hung).toMatchObject({ code: 'UNAVAILABLE' })
  })
})
