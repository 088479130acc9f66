import { describe, expect, it } from 'vitest'
import { createServer, defineService, request, type Message, type Service } from '@libswarm/core'
import { startSwarmd } from '../src/index.js'

/** A front that records its close, and a back that answers after `delay` ms. */
function services (delay: number): { resolve: (name: string) => Service, events: string[] } {
  const events: string[] = []
  const front = defineService({
    name: 'front',
    usage: 'front',
    spawn: (_args, context) => createServer({ default: async (message) => { await context.next.send(message) } }, { onClose: () => { events.push('front closed') } })
  })
  const back = defineService({
    name: 'back',
    usage: 'back',
    spawn: () => createServer({
      default: async (message: Message): Promise<Message> => {
        await new Promise((resolve) => setTimeout(resolve, delay))
        events.push(`answered ${message.args[0] ?? ''}`)
        return { verb: 'Ack', args: [] }
      }
    }, { onClose: () => { events.push('back closed') } })
  })
  return { resolve: (name) => name === 'front' ? front : back, events }
}

describe('startSwarmd', () => {
  it('lets requests in flight finish before closing the rest of the chain', async () => {
    const { resolve, events } = services(150)
    const swarmd = await startSwarmd({ links: ['front', 'back'], resolve })
    const pending = request(swarmd.chain.head, 'Get', ['one'])
    await new Promise((resolve) => setTimeout(resolve, 20))
    expect(swarmd.inFlight).toBe(1)
    const result = await swarmd.shutdown(2000)
    await pending
    expect(result).toEqual({ clean: true, inFlight: 0 })
    expect(events).toEqual(['front closed', 'answered one', 'back closed'])
  })

  it('gives up at the timeout and still closes every service', async () => {
    const { resolve, events } = services(1000)
    const swarmd = await startSwarmd({ links: ['front', 'back'], resolve })
    void request(swarmd.chain.head, 'Get', ['slow']).catch(() => {})
    await new Promise((resolve) => setTimeout(resolve, 20))
    const result = await swarmd.shutdown(100)
    expect(result).toEqual({ clean: false, inFlight: 1 })
    expect(events).toEqual(['front closed', 'back closed'])
  })

  it('shuts down once, however often it is asked', async () => {
    const { resolve, events } = services(0)
    const swarmd = await startSwarmd({ links: ['front', 'back'], resolve })
    await Promise.all([swarmd.shutdown(), swarmd.shutdown(), swarmd[Symbol.asyncDispose]()])
    expect(events).toEqual(['front closed', 'back closed'])
  })

  it('does not count requests that services behind the front send', async () => {
    const { resolve } = services(0)
    const swarmd = await startSwarmd({ links: ['front', 'back'], resolve })
    await request(swarmd.chain.instances[1]!, 'Get', ['direct'])
    expect(swarmd.inFlight).toBe(0)
    await swarmd.shutdown()
  })
})
