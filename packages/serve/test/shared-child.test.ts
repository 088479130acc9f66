// A child of a tree, attached through serve by several connections, outlives any one
// of them: a connection's end releases its own handles only (PROTOCOL.md §9).
import { describe, expect, it } from 'vitest'
import { Client, createServer, createTree, dial, message, type WireConnection } from '@libswarm/core'
import { createServe } from '../src/index.js'

function sharedTree (): { tree: ReturnType<typeof createTree>, childClosed: () => boolean } {
  let closed = false
  const child = createServer({ Get: (m) => message('Ack', ['child', ...m.args]), Start: () => new Promise<undefined>(() => {}) }, { onClose: () => { closed = true } })
  return { tree: createTree({ child }), childClosed: () => closed }
}

async function attached (connection: WireConnection): Promise<Client> {
  return await new Client(connection.remote).child('child')
}

describe('serve: a shared child', () => {
  for (const ending of ['a clean close', 'a crash'] as const) {
    it(`keeps serving the other clients after ${ending} of one`, async () => {
      const { tree, childClosed } = sharedTree()
      const instance = await createServe(tree, { address: 'tcp://127.0.0.1:0' })
      try {
        await using keeper = await dial(instance.address)
        const leaver = await dial(instance.address)
        const kept = await attached(keeper)
        const left = await attached(leaver)
        expect((await left.get(['a'])).args).toEqual(['child', 'a'])
        expect((await kept.get(['b'])).args).toEqual(['child', 'b'])
        if (ending === 'a clean close') await leaver.close()
        else await leaver.close(new Error('crashed'))
        // Let serve's end of the connection see the close and tear down.
        await new Promise((resolve) => setTimeout(resolve, 200))
        expect(childClosed()).toBe(false)
        expect((await kept.get(['c'])).args).toEqual(['child', 'c'])
        const again = await attached(await dial(instance.address))
        expect((await again.get(['d'])).args).toEqual(['child', 'd'])
      } finally { await instance.close() }
    })
  }

  it('keeps serving after a client left with a request on the child still unanswered', async () => {
    const { tree, childClosed } = sharedTree()
    const instance = await createServe(tree, { address: 'tcp://127.0.0.1:0' })
    try {
      await using keeper = await dial(instance.address)
      const leaver = await dial(instance.address)
      const kept = await attached(keeper)
      const left = await attached(leaver)
      const unanswered = left.start().catch((error: unknown) => error)
      await leaver.close(new Error('crashed'))
      expect(await unanswered).toMatchObject({ code: 'UNAVAILABLE' })
      await new Promise((resolve) => setTimeout(resolve, 200))
      expect(childClosed()).toBe(false)
      expect((await kept.get(['e'])).args).toEqual(['child', 'e'])
    } finally { await instance.close() }
  })
})
