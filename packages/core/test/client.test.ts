import { describe, expect, it } from 'vitest'
import { Client, VERBS, createServer, createTree, message, request, requestStream, type Message, type Sender, type Verb } from '../src/index.js'

/** Answers every verb with `Ack [verb, ...args]`, and records what it saw. */
function echo (seen: Message[] = []): Sender {
  return createServer({ default: (m) => { seen.push(m); return message('Ack', [m.verb, ...m.args]) } })
}

describe('request', () => {
  it('sends verb and args and resolves with the first reply', async () => {
    expect((await request(echo(), 'Get', ['a'])).args).toEqual(['Get', 'a'])
  })

  it('attaches the stream option to the message', async () => {
    const seen: Message[] = []
    const stream = (async function * () { yield new Uint8Array([7]) })()
    await request(echo(seen), 'File', ['f'], { stream })
    expect(seen[0]?.stream).toBe(stream)
  })

  it('rejects when ret is closed without a reply, or with an error', async () => {
    const silent = createServer({ default: async (m) => { await m.ret?.close() } })
    await expect(request(silent, 'Ls')).rejects.toMatchObject({ code: 'CHANNEL_CLOSED' })
    const failing = createServer({ default: async (m) => { await m.ret?.close(new Error('gone')) } })
    await expect(request(failing, 'Ls')).rejects.toThrow('gone')
  })

  it('rejects at once with an aborted signal, and on abort while waiting', async () => {
    const hanging = createServer({ default: async () => {} })
    await expect(request(hanging, 'Ls', [], { signal: AbortSignal.abort(new Error('before')) })).rejects.toThrow('before')
    const controller = new AbortController()
    const pending = request(hanging, 'Ls', [], { signal: controller.signal })
    controller.abort(new Error('while waiting'))
    await expect(pending).rejects.toThrow('while waiting')
  })

  it('rejects when the target refuses the message', async () => {
    const closed = echo()
    await closed.close()
    await expect(request(closed, 'Ls')).rejects.toMatchObject({ code: 'CHANNEL_CLOSED' })
  })
})

describe('requestStream', () => {
  const counter = createServer({
    Watch: async (m) => {
      const count = Number(m.args[0] ?? '3')
      try {
        for (let n = 1; n <= count; n++) await m.ret?.send(message('Log', [String(n)]))
        await m.ret?.close()
      } catch {
        // The caller stopped listening: stop producing.
      }
    },
    Get: async (m) => {
      await m.ret?.send(message('Log', ['first']))
      await m.ret?.send(message('Error', ['CONFLICT', 'half way']))
      await m.ret?.close()
    }
  })

  it('yields every reply until ret closes', async () => {
    const seen: string[] = []
    for await (const reply of requestStream(counter, 'Watch', ['4'])) seen.push(reply.args[0] as string)
    expect(seen).toEqual(['1', '2', '3', '4'])
  })

  it('throws a typed error on an Error reply', async () => {
    const seen: string[] = []
    await expect((async () => { for await (const reply of requestStream(counter, 'Get')) seen.push(reply.args[0] as string) })())
      .rejects.toMatchObject({ code: 'CONFLICT', message: 'half way' })
    expect(seen).toEqual(['first'])
  })

  it('closes ret when the loop breaks, so the responder stops', async () => {
    let stoppedAt = -1
    const endless = createServer({
      Watch: async (m) => {
        let n = 0
        try {
          while (true) await m.ret?.send(message('Log', [String(n++)]))
        } catch {
          stoppedAt = n
        }
      }
    })
    for await (const reply of requestStream(endless, 'Watch', [], { highWaterMark: 2 })) if (reply.args[0] === '5') break
    await new Promise((resolve) => setTimeout(resolve, 10))
    expect(stoppedAt).toBeGreaterThan(5)
    expect(stoppedAt).toBeLessThan(12)
  })

  it('stops on abort', async () => {
    const hanging = createServer({ Watch: async () => {} })
    const controller = new AbortController()
    const loop = (async () => { for await (const _ of requestStream(hanging, 'Watch', [], { signal: controller.signal })) { /* none */ } })()
    controller.abort(new Error('enough'))
    await expect(loop).rejects.toThrow('enough')
  })
})

describe('Client', () => {
  it('sends each verb its method names', async () => {
    const seen: Message[] = []
    const client = new Client(echo(seen))
    const calls: Array<[Verb, () => Promise<Message>]> = [
      ['Ls', async () => await client.ls(['x'])],
      ['Spawn', async () => await client.spawn(['x'])],
      ['Attach', async () => await client.attach('x')],
      ['Get', async () => await client.get(['x'])],
      ['Set', async () => await client.set(['x'])],
      ['Start', async () => await client.start(['x'])],
      ['Stop', async () => await client.stop(['x'])],
      ['Connect', async () => await client.connect(['x'])],
      ['Log', async () => await client.log(['x'])],
      ['File', async () => await client.file(['x'])],
      ['Ack', async () => await client.request('Ack', ['x'])]
    ]
    for (const [verb, call] of calls) expect((await call()).args).toEqual([verb, 'x'])
    expect((await client.error('CODE', 'text')).args).toEqual(['Error', 'CODE', 'text'])
    expect(seen.map((m) => m.verb)).toEqual([...calls.map(([verb]) => verb), 'Error'])
  })

  it('streams with watch and stream', async () => {
    const watcher = createServer({
      default: async (m) => {
        await m.ret?.send(message('Log', [m.verb]))
        await m.ret?.close()
      }
    })
    const client = new Client(watcher)
    const watched: string[] = []
    for await (const reply of client.watch()) watched.push(reply.args[0] as string)
    for await (const reply of client.stream('Get')) watched.push(reply.args[0] as string)
    expect(watched).toEqual(['Watch', 'Get'])
  })

  it('attaches to a child of a tree and talks to it', async () => {
    const tree = createTree({ engine: createServer({ Ls: () => message('Ack', ['c1', 'c2']) }) })
    const client = new Client(tree)
    const child = await client.child('engine')
    expect((await child.ls()).args).toEqual(['c1', 'c2'])
    await expect(client.child('nope')).rejects.toMatchObject({ code: 'NOT_FOUND' })
  })

  it('rejects child() when Attach is answered without a channel', async () => {
    await expect(new Client(echo()).child('x')).rejects.toMatchObject({ code: 'PROTOCOL_ERROR' })
  })

  it('passes its signal down', async () => {
    const client = new Client(createServer({ default: async () => {} }))
    await expect(client.ls([], { signal: AbortSignal.timeout(10) })).rejects.toMatchObject({ name: 'TimeoutError' })
  })

  it('covers every verb of the protocol', () => {
    const methods = ['ls', 'spawn', 'attach', 'get', 'set', 'start', 'stop', 'connect', 'log', 'error', 'file', 'watch']
    const verbsWithMethods = VERBS.filter((verb) => verb !== 'Ack')
    expect(verbsWithMethods.map((verb) => verb.toLowerCase()).sort()).toEqual([...methods].sort())
    for (const method of methods) expect(typeof (Client.prototype as unknown as Record<string, unknown>)[method]).toBe('function')
  })
})
