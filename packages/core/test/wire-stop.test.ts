// A client that stops reading many attachments in a short time (clients cut off `logs -f`,
// `events`, attaches) must not lose its connection. nghttp2 (1.57 and later) ends a server's
// session with GOAWAY(INTERNAL_ERROR) once the peer has reset more than 1,000 of its streams
// at over 33 a second (its answer to the "rapid reset" attack), so the client asks the
// listening end to end each stream (a STOP frame) instead of resetting it.
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { createServer, dial, listen, message, request, type WireConnection, type WireListener } from '../src/index.js'

let listener: WireListener
let connection: WireConnection
let started = 0
let stopped = 0

async function * endless (): AsyncGenerator<Uint8Array> {
  started++
  try {
    while (true) {
      yield Buffer.alloc(1024)
      await new Promise((resolve) => setTimeout(resolve, 1))
    }
  } finally {
    stopped++
  }
}

beforeEach(async () => {
  started = 0
  stopped = 0
  listener = await listen('unix:///tmp/libswarm-wire-stop-' + String(process.pid) + '.sock', {
    service: createServer({
      Watch: () => message('Ack', [], { stream: endless() }),
      Get: () => message('Ack', ['alive'])
    })
  })
  connection = await dial(listener.address)
})
afterEach(async () => {
  await connection.close()
  await listener.close()
})

/** Requests an endless attachment, reads one chunk of it and stops. */
async function readOneAndStop (): Promise<void> {
  const reply = await request(connection.remote, 'Watch')
  const iterator = (reply.stream as AsyncIterable<Uint8Array>)[Symbol.asyncIterator]()
  await iterator.next()
  await iterator.return?.()
}

describe('a client that stops reading attachments', () => {
  it('keeps its connection after stopping 2,500 of them within seconds, and each source stops', async () => {
    let lost: Error | undefined | 'no' = 'no'
    void connection.closed.then((error) => { lost = error })
    const begin = Date.now()
    for (let round = 0; round < 125; round++) {
      await Promise.all(Array.from({ length: 20 }, async () => { await readOneAndStop() }))
    }
    const seconds = (Date.now() - begin) / 1000
    // Far over nghttp2's budget of resets (1,000, then 33 a second), had each been a reset.
    expect(2500).toBeGreaterThan(1000 + 33 * seconds)
    expect(lost).toBe('no')
    expect((await request(connection.remote, 'Get')).args).toEqual(['alive'])
    const deadline = Date.now() + 5000
    while (stopped < started && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20))
    expect(started).toBe(2500)
    expect(stopped).toBe(2500)
  }, 60_000)
})
