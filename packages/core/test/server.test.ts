import { describe, expect, it } from 'vitest'
import { ErrorCode, SwarmError, createServer, errorFromMessage, errorMessage, message, pipe, replyAndClose, request, requestStream, type Message } from '../src/index.js'

describe('createServer', () => {
  it('sends a handler\'s reply on ret and closes it', async () => {
    const server = createServer({ Ls: () => message('Ack', ['a', 'b']) })
    const [replies, ret] = pipe()
    await server.send(message('Ls', [], { ret }))
    expect((await replies.receive())?.args).toEqual(['a', 'b'])
    expect(await replies.receive()).toBeUndefined()
  })

  it('turns a thrown SwarmError into Error [code, message]', async () => {
    const server = createServer({ Get: () => { throw new SwarmError(ErrorCode.NotFound, 'no such thing') } })
    const [replies, ret] = pipe()
    await server.send(message('Get', [], { ret }))
    expect(await replies.receive()).toMatchObject({ verb: 'Error', args: ['NOT_FOUND', 'no such thing'] })
    await expect(request(server, 'Get')).rejects.toMatchObject({ name: 'SwarmError', code: 'NOT_FOUND', message: 'no such thing' })
  })

  it('turns any other thrown error into INTERNAL, and an AbortError into ABORTED', async () => {
    const server = createServer({
      Get: async () => { throw new TypeError('bad') },
      Stop: () => { throw Object.assign(new Error('aborted'), { name: 'AbortError' }) }
    })
    await expect(request(server, 'Get')).rejects.toMatchObject({ code: 'INTERNAL', message: 'bad' })
    await expect(request(server, 'Stop')).rejects.toMatchObject({ code: 'ABORTED' })
  })

  it('answers NOT_IMPLEMENTED for a verb without a handler', async () => {
    const server = createServer({ Ls: () => message('Ack') })
    await expect(request(server, 'Spawn')).rejects.toMatchObject({ code: 'NOT_IMPLEMENTED', message: 'verb Spawn is not implemented' })
  })

  it('hands verbs without a handler to default', async () => {
    const seen: string[] = []
    const server = createServer({ Ls: () => message('Ack', ['ls']), default: (m) => { seen.push(m.verb); return message('Ack', ['default']) } })
    expect((await request(server, 'Ls')).args).toEqual(['ls'])
    expect((await request(server, 'Watch')).args).toEqual(['default'])
    expect(seen).toEqual(['Watch'])
  })

  it('leaves ret to a handler that returns nothing: it may stream, then close', async () => {
    const server = createServer({
      Watch: async (m) => {
        for (const n of ['1', '2']) await m.ret?.send(message('Log', [n]))
        await m.ret?.close()
      }
    })
    const seen: string[] = []
    for await (const reply of requestStream(server, 'Watch')) seen.push(reply.args[0] as string)
    expect(seen).toEqual(['1', '2'])
  })

  it('handles messages without ret and survives a failing handler with no one to tell', async () => {
    let calls = 0
    const server = createServer({ Log: () => { calls++; throw new Error('nobody listens') }, Ls: () => message('Ack') })
    await server.send(message('Log'))
    await server.send(message('Spawn'))
    await new Promise((resolve) => setTimeout(resolve, 5))
    expect(calls).toBe(1)
    expect((await request(server, 'Ls')).verb).toBe('Ack')
  })

  it('does not wait for a handler before accepting the next message', async () => {
    let release!: () => void
    const gate = new Promise<void>((resolve) => { release = resolve })
    const server = createServer({ Get: async () => { await gate; return message('Ack', ['slow']) }, Ls: () => message('Ack', ['fast']) })
    const slow = request(server, 'Get')
    expect((await request(server, 'Ls')).args).toEqual(['fast'])
    release()
    expect((await slow).args).toEqual(['slow'])
  })

  it('refuses messages after close and runs onClose once', async () => {
    let closes = 0
    const server = createServer({ Ls: () => message('Ack') }, { onClose: () => { closes++ } })
    await server.close()
    await server.close()
    expect(closes).toBe(1)
    await expect(server.send(message('Ls'))).rejects.toMatchObject({ code: 'CHANNEL_CLOSED' })
  })

  it('passes the close error to onClose', async () => {
    let seen: Error | undefined
    const server = createServer({}, { onClose: (error) => { seen = error } })
    await server.close(new Error('why'))
    expect(seen?.message).toBe('why')
  })
})

describe('error messages', () => {
  it('round-trip a code and a message', () => {
    const m: Message = errorMessage(new SwarmError('MY_CODE', 'text'))
    expect(m).toEqual({ verb: 'Error', args: ['MY_CODE', 'text'] })
    expect(errorFromMessage(m)).toMatchObject({ name: 'SwarmError', code: 'MY_CODE', message: 'text' })
    expect(errorFromMessage(message('Error'))).toMatchObject({ code: 'INTERNAL', message: 'unknown error' })
  })

  it('replyAndClose ignores a ret that is already closed, and a missing one', async () => {
    const [replies, ret] = pipe()
    await replies.close()
    await expect(replyAndClose(ret, message('Ack'))).resolves.toBeUndefined()
    await expect(replyAndClose(undefined, message('Ack'))).resolves.toBeUndefined()
  })
})
