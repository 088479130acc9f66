import { describe, expect, it } from 'vitest'
import { complianceTests, type ComplianceOptions } from '../src/compliance.js'
import { abandonedSignal, createServer, defineService, message, type ByteStream, type Message, type Sender, type Service } from '../src/index.js'

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

  it('catches a service that wraps ret to forward a message and loses its abandoned signal', async () => {
    const wrap = (ret: Sender, forward: boolean): Sender => forward
      ? { send: async (m) => { await ret.send(m) }, close: async (error) => { await ret.close(error) }, get abandoned () { return ret.abandoned } }
      : { send: async (m) => { await ret.send(m) }, close: async (error) => { await ret.close(error) } }
    const wrapper = (forward: boolean): Service => raw('wrapper', ({ next }) => createServer({
      default: async (m) => { await next.send({ ...m, ret: m.ret === undefined ? undefined : wrap(m.ret, forward) }) }
    }))
    expect(await failures({ service: wrapper(true) })).toEqual({})
    const failed = await failures({ service: wrapper(false), messages: [{ verb: 'Ls' }, { verb: 'Get' }] })
    expect(failed).toEqual({
      'forwards the abandoned signal of a return channel it wraps': expect.stringMatching(/^wrapper: wraps ret to forward Ls, Get but its abandoned signal did not abort within 200 ms/)
    })
  })

  it('catches a service that rebuilds a message it forwards and loses its caller', async () => {
    const rebuilder = (keep: boolean): Service => raw('rebuilder', ({ next }) => createServer({
      default: async (m) => { await next.send(message(m.verb, m.args, { ret: m.ret, stream: m.stream, caller: keep ? { ...m.caller } : undefined })) }
    }))
    expect(await failures({ service: rebuilder(true) })).toEqual({})
    const failed = await failures({ service: rebuilder(false), messages: [{ verb: 'Ls' }, { verb: 'Get' }] })
    expect(failed).toEqual({
      'keeps the caller of a message it forwards': expect.stringMatching(/^rebuilder: forwarded Ls \(forwarded with null\), Get \(forwarded with null\) instead of the caller it received/)
    })
  })

  describe('with streams', () => {
    /** Replies `Log` every 10 ms until told to stop; `heeds` says whether a receiver that left stops it. */
    const ticker = (heeds: boolean): Service => raw('ticker', () => createServer({
      Watch: async (m) => {
        const signal = heeds ? abandonedSignal(m.ret) : AbortSignal.timeout(5_000)
        const timer = setInterval(() => { void m.ret?.send(message('Log', ['tick'])) }, 10)
        signal.addEventListener('abort', () => { clearInterval(timer); void m.ret?.close() }, { once: true })
      },
      default: () => message('Ack')
    }))
    /** Answers `Ack` with an attachment that yields a chunk every 10 ms, until ret is abandoned if it `heeds`. */
    const feed = (heeds: boolean): Service => raw('feed', () => createServer({
      Watch: (m) => {
        const signal = heeds ? abandonedSignal(m.ret) : AbortSignal.timeout(5_000)
        const stream: ByteStream = (async function * () {
          while (!signal.aborted) {
            yield new Uint8Array([1])
            await new Promise((resolve) => setTimeout(resolve, 10))
          }
        })()
        return message('Ack', [], { stream })
      },
      default: () => message('Ack')
    }))
    const streams = [{ verb: 'Watch' as const }]
    const name = 'stops an endless answer once nobody listens any more'

    it('is not there without streams', () => {
      expect(complianceTests({ service: sample }).map((test) => test.name)).not.toContain(name)
    })

    it('passes a service that stops its replies, or ends its attachment, when ret is abandoned', async () => {
      expect(await failures({ service: ticker(true), streams })).toEqual({})
      expect(await failures({ service: feed(true), streams })).toEqual({})
    })

    it('catches a service that goes on when nobody listens', async () => {
      expect(await failures({ service: ticker(false), streams })).toEqual({
        [name]: 'ticker: went on answering Watch after its receiver left (ret.abandoned aborted): within 200 ms it did not close ret'
      })
      expect(await failures({ service: feed(false), streams })).toEqual({ [name]: expect.stringMatching(/within 200 ms the reply's attachment did not end$/) })
    })

    it('catches a message listed in streams that is not answered with a stream', async () => {
      const failed = await failures({ service: sample, streams: [{ verb: 'Ls' }] })
      expect(failed[name]).toBe(undefined)
      const errs = raw('errs', () => createServer({ default: () => { throw new Error('no') } }))
      expect((await failures({ service: errs, streams }))[name]).toMatch(/^errs: answered Watch with Error .*: it is listed in streams$/)
    })
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
