// An attachment cut short by its sender (its source fails, or the connection closes cleanly
// under it) ends in an error for the receiver, never in a normal end of stream: node's
// Http2Stream.close(code) on the sending end writes END_STREAM before the RST_STREAM.
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { createServer, dial, listen, message, request, type ByteStream, type WireConnection, type WireListener } from '../src/index.js'

async function drain (stream: ByteStream | undefined): Promise<number | string> {
  let total = 0
  try {
    for await (const chunk of stream ?? []) {
      total += chunk.byteLength
      await new Promise((resolve) => setTimeout(resolve, 1))
    }
  } catch (error) {
    return (error as { code?: string }).code ?? 'error'
  }
  return total
}

async function * failing (): AsyncGenerator<Uint8Array> {
  for (let i = 0; i < 8; i++) yield Buffer.alloc(16 * 1024, i)
  await new Promise((resolve) => setTimeout(resolve, 20))
  throw new Error('source failed')
}

async function * endless (): AsyncGenerator<Uint8Array> {
  while (true) {
    yield Buffer.alloc(16 * 1024)
    await new Promise((resolve) => setTimeout(resolve, 2))
  }
}

let listener: WireListener
let connection: WireConnection

beforeEach(async () => {
  listener = await listen('tcp://127.0.0.1:0', {
    service: createServer({
      Get: () => message('Ack', [], { stream: failing() }),
      Watch: () => message('Ack', [], { stream: endless() })
    })
  })
  connection = await dial(listener.address)
})
afterEach(async () => {
  await connection.close()
  await listener.close()
})

describe('an attachment cut by its sender', () => {
  it('ends in an error when its source fails', async () => {
    const reply = await request(connection.remote, 'Get')
    expect(await drain(reply.stream)).toBe('UNAVAILABLE')
  })

  it('ends in an error when the sending end closes the connection cleanly under it', async () => {
    const reply = await request(connection.remote, 'Watch')
    const read = drain(reply.stream)
    await new Promise((resolve) => setTimeout(resolve, 50))
    await listener.close()
    expect(await read).toBe('UNAVAILABLE')
  })
})
