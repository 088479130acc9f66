import { describe, expect, it } from 'vitest'
import { complianceTests, type ComplianceOptions } from '../src/compliance.js'
import { createServer, defineService, message, type Message, type Sender, type Service } from '../src/index.js'

/** A well-behaved service: answers Ls, forwards the rest. */
const sample = defineService({
  name: 'sample',
  usage: 'sample [LABEL]',
  spawn: (args, context) => createServer({
    Ls: () => message('Ack', [args[0] ?? 'sample']),
    default: async (m) => { await context.next.send(m) }
  })
})

/** Runs every test of the suite and returns the names of those that failed, with their errors. */
async function failures (options: ComplianceOptions): Promise<Record<string, string>> {
  const failed: Record<string, string> = {}
  for (const test of complianceTests({ timeout: 200, ...options })) {
    try {
      await test.run()
    } catch (error) {
      failed[test.name] = (error as Error).message
    }
  }
  return failed
}

/** A raw service with the given behaviour, bypassing createServer's safety nets. */
function raw (name: string, instance: (context: { next: Sender }) => Sender, usage = name): Service {
  return { name, usage, spawn: (_args, context) => instance(context) }
}

describe('complianceTests', () => {
  describe('on a sample service', () => {
    for (const test of complianceTests({ service: sample, args: ['x'] })) it(test.name, test.run)
  })

  it('passes a service that only forwards, and one that answers everything', async () => {
    expect(await failures({ service: raw('forwarder', ({ next }) => createServer({ default: async (m) => { await next.send(m) } })) })).toEqual({})
    expect(await failures({ service: raw('answerer', () => createServer({ default: () => message('Ack') })) })).toEqual({})
  })

  it('uses the given next, and counts messages reaching it as forwarded', async () => {
    const seen: Message[] = []
    const next = createServer({ default: (m) => { seen.push(m); return message('Ack') } })
    expect(await failures({ service: sample, next, messages: [{ verb: 'Get', args: ['a'] }] })).toEqual({})
    expect(seen.some((m) => m.verb === 'Get' && m.args[0] === 'a')).toBe(true)
  })

  it('catches a service that ignores a verb', async () => {
    const deaf = raw('deaf', () => createServer({ Ls: () => message('Ack'), default: () => undefined }))
    const failed = await failures({ service: deaf })
    expect(Object.keys(failed)).toEqual(['answers or forwards every verb sent with a return channel, never silence'])
    expect(Object.values(failed)[0]).toMatch(/^deaf: no reply, no close of ret and no forward to next within 200 ms for: Ack, Attach, Connect/)
    expect(Object.values(failed)[0]).not.toMatch(/Ls/)
  })

  it('catches a service that fails on a message without ret', async () => {
    const needsRet = raw('needs-ret', () => ({
      send: async (m: Message) => {
        if (m.ret === undefined) throw new TypeError('Cannot read properties of undefined')
        await m.ret.send(message('Ack'))
      },
      close: async () => {}
    }))
    const failed = await failures({ service: needsRet })
    expect(Object.keys(failed)).toContain('survives messages without a return channel')
  })

  it('catches a close that throws the second time, and one that never resolves', async () => {
    const twice = raw('twice', () => {
      let closes = 0
      return { send: async (m: Message) => { if (closes > 0) throw new Error('closed'); await m.ret?.send(message('Ack')) }, close: async () => { if (++closes > 1) throw new Error('already closed') } }
    })
    expect(await failures({ service: twice })).toEqual({ 'close resolves and is idempotent': 'already closed' })
    const hangs = raw('hangs', () => ({ send: async (m: Message) => { await m.ret?.send(message('Ack')) }, close: async () => { await new Promise(() => {}) } }))
    const failed = await failures({ service: hangs })
    expect(failed['close resolves and is idempotent']).toMatch(/close did not resolve within 200 ms/)
  })

  it('catches a closed service that still forwards, or accepts silently', async () => {
    const forwardsAfterClose = raw('zombie', ({ next }) => ({ send: async (m: Message) => { await next.send(m) }, close: async () => {} }))
    expect(await failures({ service: forwardsAfterClose })).toEqual({
      'rejects or answers an Error to a send after close': 'zombie: a closed instance forwarded Ls to next; it must reject or answer an Error'
    })
    const silentAfterClose = raw('mute', () => {
      let closed = false
      return { send: async (m: Message) => { if (!closed) await m.ret?.send(message('Ack')) }, close: async () => { closed = true } }
    })
    expect(Object.keys(await failures({ service: silentAfterClose, messages: [{ verb: 'Ls' }] }))).toEqual(['rejects or answers an Error to a send after close'])
  })

  it('catches a bad name or usage, and a spawn that returns no instance', async () => {
    const badName = { name: 'Bad Name', usage: 'Bad Name', spawn: () => createServer({}) }
    expect(Object.keys(await failures({ service: badName }))).toEqual(['has a valid name and a one-line usage that starts with it'])
    const badUsage = raw('ok', () => createServer({}), 'usage: ok\nmore')
    expect(Object.values(await failures({ service: badUsage }))[0]).toMatch(/usage must be one line/)
    const noInstance = { name: 'empty', usage: 'empty', spawn: () => ({}) as unknown as Sender }
    expect((await failures({ service: noInstance }))['spawn returns an instance with send and close']).toMatch(/spawn must return an instance with send\(\) and close\(\), got \{\}/)
  })

  it('returns plain name and run pairs, for any test framework', () => {
    const tests = complianceTests({ service: sample })
    expect(tests.length).toBeGreaterThanOrEqual(6)
    for (const test of tests) {
      expect(typeof test.name).toBe('string')
      expect(typeof test.run).toBe('function')
    }
  })
})
