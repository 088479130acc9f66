import { describe, expect, it } from 'vitest'
import { teeStream } from '../src/byte-tee.js'

async function * numbers (count: number, pulled: number[]): AsyncGenerator<Uint8Array> {
  for (let index = 0; index < count; index++) {
    pulled.push(index)
    yield new Uint8Array([index])
  }
}

async function drain (stream: AsyncIterable<Uint8Array>): Promise<number[]> {
  const seen: number[] = []
  for await (const chunk of stream) seen.push(chunk[0] as number)
  return seen
}

describe('teeStream', () => {
  it('gives every reader every chunk, reading the source at the pace of the slowest', async () => {
    const pulled: number[] = []
    const [fast, slow] = teeStream(numbers(100, pulled), 2)
    const fastIterator = fast![Symbol.asyncIterator]()
    const early: number[] = []
    for (let index = 0; index < 16; index++) early.push((await fastIterator.next()).value[0])
    // the slow reader has read nothing: the source stays 16 chunks ahead of it, and the fast reader waits
    const waiting = fastIterator.next()
    await new Promise((resolve) => setTimeout(resolve, 20))
    expect(pulled.length).toBe(16)
    const [all, , rest] = await Promise.all([drain(slow!), waiting, drain({ [Symbol.asyncIterator]: () => fastIterator })])
    expect(all).toEqual(Array.from({ length: 100 }, (_, index) => index))
    expect(early.length + 1 + rest.length).toBe(100)
  })

  it('drops a reader that stops, even before its first read', async () => {
    const pulled: number[] = []
    const [gone, kept] = teeStream(numbers(50, pulled), 2)
    await gone![Symbol.asyncIterator]().return!()
    expect(await drain(kept!)).toHaveLength(50)
  })
})
