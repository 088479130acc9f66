import { describe, expect, it } from 'vitest'
import { message, pipe, type Message } from '../src/index.js'

const tick = async (ms = 10): Promise<void> => { await new Promise((resolve) => setTimeout(resolve, ms)) }

describe('pipe', () => {
  it('delivers messages in order', async () => {
    const [receiver, sender] = pipe()
    for (let n = 0; n < 5; n++) await sender.send(message('Log', [String(n)]))
    await sender.close()
    const seen: string[] = []
    for await (const m of receiver) seen.push(m.args[0] as string)
    expect(seen).toEqual(['0', '1', '2', '3', '4'])
  })

  it('hands a message straight to a waiting receiver', async () => {
    const [receiver, sender] = pipe({ highWaterMark: 1 })
    const pending = receiver.receive()
    await sender.send(message('Ls'))
    expect((await pending)?.verb).toBe('Ls')
  })

  it('blocks a sender at highWaterMark until the slow receiver takes a message', async () => {
    const [receiver, sender] = pipe({ highWaterMark: 2 })
    await sender.send(message('Log', ['1']))
    await sender.send(message('Log', ['2']))
    let accepted = false
    const third = sender.send(message('Log', ['3'])).then(() => { accepted = true })
    await tick()
    expect(accepted).toBe(false)
    expect((await receiver.receive())?.args).toEqual(['1'])
    await third
    expect(accepted).toBe(true)
    expect((await receiver.receive())?.args).toEqual(['2'])
    expect((await receiver.receive())?.args).toEqual(['3'])
  })

  it('keeps memory bounded: a fast sender never gets more than highWaterMark ahead of a slow receiver', async () => {
    const highWaterMark = 8
    const [receiver, sender] = pipe({ highWaterMark })
    let sent = 0
    let received = 0
    let maxAhead = 0
    const producer = (async () => {
      for (let n = 0; n < 200; n++) {
        await sender.send(message('Log', [String(n)]))
        sent++
        maxAhead = Math.max(maxAhead, sent - received)
      }
      await sender.close()
    })()
    for await (const m of receiver) {
      expect(m.args[0]).toBe(String(received))
      received++
      if (received % 20 === 0) await tick(1)
    }
    await producer
    expect(received).toBe(200)
    // The one in hand plus a full buffer plus one handed over on receive.
    expect(maxAhead).toBeLessThanOrEqual(highWaterMark + 2)
  })

  it('ends iteration on a clean close, after the buffered messages', async () => {
    const [receiver, sender] = pipe()
    await sender.send(message('Ls'))
    await sender.close()
    expect((await receiver.receive())?.verb).toBe('Ls')
    expect(await receiver.receive()).toBeUndefined()
    expect(await receiver.receive()).toBeUndefined()
  })

  it('propagates a close with an error to pending and later receives', async () => {
    const [receiver, sender] = pipe()
    const pending = receiver.receive()
    await sender.close(new Error('boom'))
    await expect(pending).rejects.toThrow('boom')
    await expect(receiver.receive()).rejects.toThrow('boom')
  })

  it('rejects sends after close with CHANNEL_CLOSED', async () => {
    const [, sender] = pipe()
    await sender.close()
    await expect(sender.send(message('Ls'))).rejects.toMatchObject({ code: 'CHANNEL_CLOSED' })
  })

  it('rejects blocked and later sends when the receiver closes', async () => {
    const [receiver, sender] = pipe({ highWaterMark: 1 })
    await sender.send(message('Log'))
    const blocked = sender.send(message('Log'))
    await receiver.close()
    await expect(blocked).rejects.toMatchObject({ code: 'CHANNEL_CLOSED' })
    await expect(sender.send(message('Log'))).rejects.toMatchObject({ code: 'CHANNEL_CLOSED' })
  })

  it('closes the channel when iteration stops early', async () => {
    const [receiver, sender] = pipe()
    await sender.send(message('Log', ['1']))
    await sender.send(message('Log', ['2']))
    for await (const m of receiver) { expect(m.args).toEqual(['1']); break }
    await expect(sender.send(message('Log'))).rejects.toMatchObject({ code: 'CHANNEL_CLOSED' })
  })

  it('aborts a blocked send and a waiting receive through their signals', async () => {
    const [receiver, sender] = pipe({ highWaterMark: 1 })
    await sender.send(message('Log', ['kept']))
    const controller = new AbortController()
    const blocked = sender.send(message('Log', ['dropped']), { signal: controller.signal })
    controller.abort(new Error('gave up'))
    await expect(blocked).rejects.toThrow('gave up')
    expect((await receiver.receive())?.args).toEqual(['kept'])
    const receiving = new AbortController()
    const waiting = receiver.receive({ signal: receiving.signal })
    receiving.abort(new Error('stop waiting'))
    await expect(waiting).rejects.toThrow('stop waiting')
    // The aborted receive took nothing: the next message goes to the next receive.
    await sender.send(message('Log', ['next']))
    expect((await receiver.receive())?.args).toEqual(['next'])
    await expect(sender.send(message('Ls'), { signal: AbortSignal.abort() })).rejects.toThrow()
  })

  it('carries ret and stream through untouched', async () => {
    const [receiver, sender] = pipe()
    const [, ret] = pipe()
    const stream = (async function * () { yield new Uint8Array([1]) })()
    const sent: Message = { verb: 'File', args: ['x'], ret, stream }
    await sender.send(sent)
    const got = await receiver.receive()
    expect(got?.ret).toBe(ret)
    expect(got?.stream).toBe(stream)
  })
})
