import { describe, expect, it } from 'vitest'
import { Client, createServer, endOfChain, pipe, request, requestStream, spawnChain } from '@libswarm/core'
import type { LogFields, Logger, Message, Sender, Service } from '@libswarm/core'
import { complianceTests } from '@libswarm/core/compliance'
import { createDebug, debug } from '../src/index.js'

interface Line { level: string, text: string, fields: LogFields }

function memoryLogger (lines: Line[] = [], base: LogFields = {}): Logger & { lines: Line[] } {
  const at = (level: string) => (text: string, fields?: LogFields): void => { lines.push({ level, text, fields: { ...base, ...fields } }) }
  return { lines, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error'), child: (fields) => memoryLogger(lines, { ...base, ...fields }) }
}

const backend: Sender = createServer({
  Ls: () => ({ verb: 'Ack', args: ['a', 'b'] }),
  Get: (message) => ({ verb: 'Ack', args: [message.args.join('+')] }),
  Watch: async (message) => {
    for (const n of ['1', '2', '3']) await message.ret?.send({ verb: 'Log', args: [n] })
    await message.ret?.close()
  },
  Stop: () => { throw Object.assign(new Error('cannot stop'), { name: 'SwarmError', code: 'CONFLICT' }) }
})

function service (name: string, spawn: Service['spawn']): Service { return { name, usage: name, spawn } }

describe('debug', () => {
  it('forwards a request unchanged and logs it in and out with the time to first reply', async () => {
    const log = memoryLogger()
    const instance = createDebug(backend, log)
    const reply = await request(instance, 'Get', ['x', 'y'])
    expect(reply).toMatchObject({ verb: 'Ack', args: ['x+y'] })
    const [incoming, outgoing] = log.lines
    expect(incoming).toMatchObject({ level: 'info', fields: { dir: 'in', verb: 'Get', args: ['x', 'y'], stream: false, id: 1 } })
    expect(outgoing).toMatchObject({ level: 'info', fields: { dir: 'out', verb: 'Ack', args: ['x+y'], id: 1 } })
    expect(typeof outgoing?.fields.firstReplyMs).toBe('number')
  })

  it('forwards every reply of a stream and the close, in order', async () => {
    const log = memoryLogger()
    const instance = createDebug(backend, log)
    const replies: string[] = []
    for await (const reply of requestStream(instance, 'Watch')) replies.push(reply.args[0] as string)
    expect(replies).toEqual(['1', '2', '3'])
    expect(log.lines.filter((line) => line.fields.dir === 'out' && line.level === 'info').map((line) => line.fields.verb)).toEqual(['Log', 'Log', 'Log'])
    expect(log.lines.at(-1)).toMatchObject({ level: 'debug', fields: { replies: 3 } })
  })

  it('passes Error replies through as they are', async () => {
    const instance = createDebug(backend, memoryLogger())
    await expect(request(instance, 'Stop')).rejects.toMatchObject({ code: 'CONFLICT', message: 'cannot stop' })
    await expect(request(instance, 'Spawn')).rejects.toMatchObject({ code: 'NOT_IMPLEMENTED' })
  })

  it('passes a close with an error through to the original return channel', async () => {
    const failing = createServer({ default: async (message) => { await message.ret?.close(new Error('backend went away')) } })
    const log = memoryLogger()
    await expect(request(createDebug(failing, log), 'Ls')).rejects.toThrow('backend went away')
    expect(log.lines.at(-1)).toMatchObject({ level: 'info', fields: { error: 'backend went away' } })
  })

  it('keeps the message itself: same verb, args, stream and a ret that reaches the caller', async () => {
    const seen: Message[] = []
    const spy = createServer({ default: (message) => { seen.push(message); return { verb: 'Ack', args: [] } } })
    const stream = (async function * () { yield new Uint8Array([1, 2, 3]) })()
    await request(createDebug(spy, memoryLogger()), 'File', ['name'], { stream })
    expect(seen[0]?.verb).toBe('File')
    expect(seen[0]?.args).toEqual(['name'])
    expect(seen[0]?.stream).toBe(stream)
    expect(seen[0]?.ret).toBeDefined()
  })

  it('passes the caller on and names it in one short field of the line in', async () => {
    const seen: Message[] = []
    const spy = createServer({ default: (message) => { seen.push(message); return { verb: 'Ack', args: [] } } })
    const log = memoryLogger()
    const instance = createDebug(spy, log)
    const caller = { listener: 'ci', uid: 1000, certificate: { subject: 'CN=ci', sans: ['DNS:ci'] }, address: '127.0.0.1:1' }
    await request(instance, 'Get', [], { caller })
    await request(instance, 'Get', [], { caller: { listener: 'local', address: '127.0.0.1:2' } })
    await request(instance, 'Get', [], { caller: {} })
    await request(instance, 'Get')
    expect(seen.map((message) => message.caller)).toEqual([caller, { listener: 'local', address: '127.0.0.1:2' }, {}, undefined])
    expect(seen[0]?.caller).toBe(caller)
    const lines = log.lines.filter((line) => line.fields.dir === 'in')
    expect(lines.map((line) => line.fields.caller)).toEqual(['ci uid=1000 CN=ci', 'local 127.0.0.1:2', '-', undefined])
    expect(lines[3]?.fields).not.toHaveProperty('caller')
  })

  it('cuts long arguments to --max-arg-length in the log only', async () => {
    const log = memoryLogger()
    const chain = await spawnChain(['debug --max-arg-length 4', 'backend'], {
      resolve: (name) => name === 'debug' ? debug : service('backend', () => backend),
      log
    })
    const reply = await request(chain.head, 'Get', ['abcdefgh'])
    expect(reply.args).toEqual(['abcdefgh'])
    expect(log.lines[0]?.fields.args).toEqual(['abcd…(8 chars)'])
    expect(log.lines[0]?.fields.service).toBe('debug')
    await chain.close()
  })

  it('forwards Attach replies with their channel, so a client can talk to the child', async () => {
    const child = createServer({ Ls: () => ({ verb: 'Ack', args: ['inside'] }) })
    const tree = createServer({ Attach: () => ({ verb: 'Ack', args: ['c'], ret: child }) })
    const client = new Client(createDebug(tree, memoryLogger()))
    expect((await (await client.child('c')).ls()).args).toEqual(['inside'])
  })

  it('applies the next service\'s backpressure to the sender', async () => {
    const [receiver, sender] = pipe({ highWaterMark: 1 })
    const instance = createDebug(sender, memoryLogger())
    await instance.send({ verb: 'Log', args: ['1'] })
    let second = false
    const pending = instance.send({ verb: 'Log', args: ['2'] }).then(() => { second = true })
    await new Promise((resolve) => setTimeout(resolve, 20))
    expect(second).toBe(false)
    await receiver.receive()
    await pending
    expect(second).toBe(true)
  })

  it('rejects bad arguments with INVALID_ARGUMENTS', async () => {
    const context = { next: endOfChain, log: memoryLogger(), spawn: async () => endOfChain }
    expect(() => debug.spawn(['--max-arg-length'], context)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENTS' }))
    expect(() => debug.spawn(['--max-arg-length', 'x'], context)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENTS' }))
    expect(() => debug.spawn(['--verbose'], context)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENTS' }))
    expect(() => debug.spawn(['--max-arg-length=10'], context)).not.toThrow()
  })

  it('refuses messages once closed', async () => {
    const instance = createDebug(backend, memoryLogger())
    await instance.close()
    await instance.close()
    await expect(instance.send({ verb: 'Ls', args: [] })).rejects.toMatchObject({ code: 'CHANNEL_CLOSED' })
  })

  describe('compliance', () => {
    for (const test of complianceTests({ service: debug, args: ['--max-arg-length', '10'] })) it(test.name, test.run)
  })
})
