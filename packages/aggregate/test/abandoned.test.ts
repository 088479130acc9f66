import { describe, expect, it } from 'vitest'
import { abandonedSignal, pipe, type Message, type Sender } from '@libswarm/core'
import { decodeDockerRequest, encodeDockerRequest } from '@libswarm/docker-api'
import { createAggregate } from '../src/index.js'
import { fakeEngine } from './fake-engine.js'
import { eventually, run } from './harness.js'

/** A fake engine whose `hold` operations are never answered: their ret is kept for the test. */
function holdingChild (hold: Set<string>, held: Sender[]): Sender {
  const fake = fakeEngine({ name: 'node-0' })
  return {
    send: async (message: Message, options) => {
      const request = decodeDockerRequest(message)
      // the node's own event subscription (no `since`) is not the test's
      const own = request.operation === 'SystemEvents' && request.query?.since === undefined
      if (message.ret !== undefined && hold.has(request.operation) && !own) {
        held.push(message.ret)
        return
      }
      await fake.service.send(message, options)
    },
    close: async () => { await fake.service.close() }
  }
}

describe('a requester that stops listening', () => {
  it.each([
    ['SystemEvents', { query: { since: '0' } }],
    ['ContainerWait', {}],
    ['ContainerLogs', { query: { follow: '1', stdout: '1' } }]
  ] as const)('is seen by the node asked for %s', async (operation, extra) => {
    const held: Sender[] = []
    const service = await createAggregate({
      healthTimeoutMs: 500,
      healthIntervalMs: 200,
      children: [{ service: holdingChild(new Set([operation]), held), addr: '127.0.0.1:2401' }]
    }, { spawn: async () => { throw new Error('no spawning in this test') } })
    try {
      const target = operation === 'SystemEvents' ? '' : (await run(service, 'web')).id
      const [replies, ret] = pipe()
      await service.send(encodeDockerRequest({ operation, target, ...extra }, ret))
      await eventually(() => held.length > 0)
      const signal = abandonedSignal(held[0])
      expect(signal.aborted).toBe(false)
      await replies.close()
      await eventually(() => signal.aborted, 1000)
    } finally {
      await service.close()
    }
  })
})
