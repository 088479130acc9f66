import { PassThrough } from 'node:stream'
const abandonedSignal = (ret: any): AbortSignal => ret?.abandoned ?? new AbortController().signal
import { describe, expect, it } from 'vitest'
import {
  connectStreams, createServer, message, pipe, request, requestStream,
  type Message, type Sender
} from '../src/index.js'

/** Resolves with the reason once `signal` aborts; fails the test after `ms`. */
async function aborted (signal: AbortSignal, ms = 2000): Promise<unknown> {
  if (signal.aborted) return signal.reason
  return await new Promise((resolve, reject) => {
    const timer = setTimeout(() => { reject(new Error(`not aborted within ${ms} ms`)) }, ms)
    signal.addEventListener('abort', () => { clearTimeout(timer); resolve(signal.reason) }, { once: true })
  })
}

function wirePair (server: Sender): { client: ReturnType<typeof connectStreams>, server: ReturnType<typeof connectStreams>, up: PassThrough, down: PassThrough } {
  const up = new PassThrough()
  const down = new PassThrough()
  return {
    server: connectStreams(up, down, { role: 'server', service: server }),
    client: connectStreams(down, up, { role: 'client' }),
    up,
    down
  }
}

/** A service that hands each request's ret to `seen` and never answers. */
function holdingService (seen: (ret: Sender) => void): Sender {
  return createServer({ default: (m: Message) => { if (m.ret !== undefined) seen(m.ret) } })
}

describe('abandoned return channels', () => {
  it('abandonedSignal never aborts for no ret or a sender that cannot tell', () => {
    expect(abandonedSignal(undefined).aborted).toBe(false)
    expect(abandonedSignal({ send: async () => {}, close: async () => {} }).aborted).toBe(false)
  })

  it('a pipe sender is abandoned when its receiver closes, not when the sender closes', async () => {
    const [receiver, sender] = pipe()
    const signal = abandonedSignal(sender)
    expect(signal.aborted).toBe(false)
    await receiver.close()
    expect((await aborted(signal) as { code?: string }).code).toBe('CHANNEL_CLOSED')

    const [other, otherSender] = pipe()
    await otherSender.close()
    await other.close()
    expect(abandonedSignal(otherSender).aborted).toBe(false)
  })

  it('a pipe sender is abandoned when its receiver stops iterating, asked before or after', async () => {
    const [receiver, sender] = pipe()
    await sender.send(message('Log', ['1']))
    for await (const _ of receiver) break
    expect(abandonedSignal(sender).aborted).toBe(true)
  })

  it('requestStream abandons its ret when the caller breaks out', async () => {
    let ret: Sender | undefined
    const service = createServer({ Watch: async (m) => { ret = m.ret; await m.ret?.send(message('Log', ['x'])) } })
    for await (const _ of requestStream(service, 'Watch')) break
    expect(abandonedSignal(ret).aborted).toBe(true)
  })

  it("request's ret is abandoned when its signal aborts", async () => {
    let ret: Sender | undefined
    const controller = new AbortController()
    const pending = request(holdingService((r) => { ret = r }), 'Get', [], { signal: controller.signal })
    await new Promise((resolve) => setImmediate(resolve))
    expect(abandonedSignal(ret).aborted).toBe(false)
    controller.abort(new Error('gone'))
    await expect(pending).rejects.toThrow('gone')
    expect(abandonedSignal(ret).aborted).toBe(true)
  })

  it('over the wire: the far ret is abandoned when the requester stops listening', async () => {
    let far: Sender | undefined
    const pair = wirePair(holdingService((r) => { far = r }))
    try {
      const [replies, ret] = pipe()
      await pair.client.remote.send(message('Watch', [], { ret }))
      while (far === undefined) await new Promise((resolve) => setTimeout(resolve, 5))
      const signal = abandonedSignal(far)
      expect(signal.aborted).toBe(false)
      await replies.close()
      expect((await aborted(signal) as { code?: string }).code).toBe('CHANNEL_CLOSED')
      await expect(far.send(message('Log'))).rejects.toMatchObject({ code: 'CHANNEL_CLOSED' })
    } finally {
      await pair.client.close()
      await pair.server.close()
    }
  })

  it('over the wire: relayed through a second connection, the abandonment reaches the last service', async () => {
    let far: Sender | undefined
    const back = wirePair(holdingService((r) => { far = r }))
    // the middle end forwards its root messages, ret and all, to the back connection
    const front = wirePair({ send: async (m, options) => { await back.client.remote.send(m, options) }, close: async () => {} })
    try {
      const [replies, ret] = pipe()
      await front.client.remote.send(message('Watch', [], { ret }))
      while (far === undefined) await new Promise((resolve) => setTimeout(resolve, 5))
      await replies.close()
      await aborted(abandonedSignal(far))
    } finally {
      await front.client.close()
      await front.server.close()
      await back.client.close()
      await back.server.close()
    }
  })

  it('over the wire: the far ret is abandoned when the connection drops', async () => {
    let far: Sender | undefined
    const pair = wirePair(holdingService((r) => { far = r }))
    const [, ret] = pipe()
    await pair.client.remote.send(message('Watch', [], { ret }))
    while (far === undefined) await new Promise((resolve) => setTimeout(resolve, 5))
    const signal = abandonedSignal(far)
    pair.up.destroy()
    pair.down.destroy()
    expect((await aborted(signal) as { code?: string }).code).toBe('UNAVAILABLE')
    await pair.client.close()
    await pair.server.close()
  })

  it('over the wire: a ret closed by its sender is not abandoned', async () => {
    let far: Sender | undefined
    const pair = wirePair(holdingService((r) => { far = r }))
    try {
      const [replies, ret] = pipe()
      await pair.client.remote.send(message('Watch', [], { ret }))
      while (far === undefined) await new Promise((resolve) => setTimeout(resolve, 5))
      const signal = abandonedSignal(far)
      await far.send(message('Ack'))
      await far.close()
      expect((await replies.receive())?.verb).toBe('Ack')
      expect(await replies.receive()).toBeUndefined()
      await replies.close()
      await new Promise((resolve) => setTimeout(resolve, 50))
      expect(signal.aborted).toBe(false)
    } finally {
      await pair.client.close()
      await pair.server.close()
    }
  })

  it('over the wire: a reader that cancels an idle attachment stops its source at once', async () => {
    let stopped = false
    // a source with nothing to give yet (events, an idle attach): only return() ends it
    const idle: AsyncIterable<Uint8Array> = {
      [Symbol.asyncIterator]: () => ({
        next: async () => await new Promise<IteratorResult<Uint8Array>>(() => {}),
        return: async () => { stopped = true; return { done: true, value: undefined } }
      })
    }
    const pair = wirePair(createServer({ Get: () => message('Ack', [], { stream: idle }) }))
    try {
      const reply = await request(pair.client.remote, 'Get')
      const iterator = (reply.stream as AsyncIterable<Uint8Array>)[Symbol.asyncIterator]()
      void iterator.next().catch(() => {})
      await new Promise((resolve) => setTimeout(resolve, 50))
      await iterator.return?.()
      const deadline = Date.now() + 2000
      while (!stopped && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10))
      expect(stopped).toBe(true)
    } finally {
      await pair.client.close()
      await pair.server.close()
    }
  })
})
