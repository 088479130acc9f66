import { describe, expect, it } from 'vitest'
import { createServer, dial, message, request } from '@libswarm/core'
import { createServe, parseServeArgs, serve } from '../src/index.js'

const next = createServer({ Ls: () => message('Ack', ['from next']), Get: (m) => message('Ack', m.args) })

describe('serve', () => {
  it('feeds messages from wire connections into next, and its own sends too', async () => {
    const instance = await createServe(next, { address: 'tcp://127.0.0.1:0' })
    try {
      await using connection = await dial(instance.address)
      expect((await request(connection.remote, 'Ls')).args).toEqual(['from next'])
      const replies = await Promise.all(Array.from({ length: 100 }, async (_, i) => await request(connection.remote, 'Get', [String(i)])))
      expect(replies.map((reply) => reply.args[0])).toEqual(Array.from({ length: 100 }, (_, i) => String(i)))
      expect((await request(instance, 'Get', ['direct'])).args).toEqual(['direct'])
    } finally { await instance.close() }
  })

  it('stops listening and drops connections on close', async () => {
    const instance = await createServe(next, { address: 'tcp://127.0.0.1:0' })
    const connection = await dial(instance.address)
    await instance.close()
    expect(await connection.closed).toBeUndefined()
    await expect(dial(instance.address)).rejects.toMatchObject({ code: 'UNAVAILABLE' })
    await expect(instance.send(message('Ls'))).rejects.toMatchObject({ code: 'CHANNEL_CLOSED' })
  })

  it('parses ADDRESS and the TLS flags', () => {
    expect(parseServeArgs(['unix:///tmp/s.sock'])).toEqual({ address: 'unix:///tmp/s.sock' })
    expect(parseServeArgs(['tls://0.0.0.0:4242', '--tlscacert', 'ca.pem', '--tlscert=c.pem', '--tlskey', 'k.pem']))
      .toEqual({ address: 'tls://0.0.0.0:4242', tls: { ca: 'ca.pem', cert: 'c.pem', key: 'k.pem' } })
    expect(() => parseServeArgs([])).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENTS' }))
    expect(() => parseServeArgs(['tls://0.0.0.0:1'])).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENTS' }))
    expect(() => parseServeArgs(['tcp://0.0.0.0:1', '--bogus'])).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENTS' }))
    expect(serve.usage).toMatch(/^serve ADDRESS/)
  })
})
