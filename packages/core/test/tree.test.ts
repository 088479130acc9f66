import { describe, expect, it } from 'vitest'
import { createServer, createTree, message, request } from '../src/index.js'

describe('createTree', () => {
  it('lists its children and hands each one back on Attach', async () => {
    const a = createServer({ Ls: () => message('Ack', ['in a']) })
    const tree = createTree(new Map([['a', a], ['b', createServer({})]]))
    expect((await request(tree, 'Ls')).args).toEqual(['a', 'b'])
    const attached = await request(tree, 'Attach', ['a'])
    expect(attached).toMatchObject({ verb: 'Ack', args: ['a'] })
    expect(attached.ret).toBe(a)
    expect((await request(attached.ret!, 'Ls')).args).toEqual(['in a'])
  })

  it('answers NOT_FOUND for an unknown child and NOT_IMPLEMENTED for other verbs', async () => {
    const tree = createTree({})
    await expect(request(tree, 'Attach', ['x'])).rejects.toMatchObject({ code: 'NOT_FOUND', message: 'no such child: x' })
    await expect(request(tree, 'Get')).rejects.toMatchObject({ code: 'NOT_IMPLEMENTED' })
  })

  it('closes its children when closed, even if one fails to close', async () => {
    const closed: string[] = []
    const failing = { send: async () => {}, close: async () => { closed.push('bad'); throw new Error('nope') } }
    const good = createServer({}, { onClose: () => { closed.push('good') } })
    const tree = createTree({ bad: failing, good })
    await tree.close()
    expect(closed).toEqual(['bad', 'good'])
  })
})
