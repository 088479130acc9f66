import { describe, expect, it } from 'vitest'
import { decodeDockerReply } from '@libswarm/docker-api'
import { createAggregate } from '../src/index.js'
import { jsonArrayChunks } from '../src/child-call.js'
import { docker, fakeCluster } from './harness.js'

const filled = (perEngine: number) => (engines: Array<{ add: (name: string, extra?: Record<string, any>) => string }>) => {
  for (const [index, engine] of engines.entries()) {
    for (let n = 0; n < perEngine; n++) engine.add(`c${index}-${n}`, { running: n % 2 === 0 })
  }
}

describe('streamed docker ps', () => {
  it('streams a listing of more than 1,000 rows as JSON pieces, and sends a short one whole', async () => {
    await using cluster = await fakeCluster([{}, {}], {}, filled(600))
    const all = await docker(cluster.service, 'ContainerList', '', { query: { all: '1' } })
    const reply = decodeDockerReply(all.message)
    expect(reply.stream).toBeDefined()
    expect(reply.body ?? '').toBe('')
    expect(reply.headers?.['Content-Type']).toBe('application/json')
    expect(all.json).toHaveLength(1200)
    expect(new Set(all.json.map((row: any) => row.Id)).size).toBe(1200)
    expect(all.json.every((row: any) => /^\/node-[01]\/c[01]-\d+$/.test(row.Names[0]))).toBe(true)
    // running only: 600 rows, one body
    const running = await docker(cluster.service, 'ContainerList')
    expect(decodeDockerReply(running.message).stream).toBeUndefined()
    expect(running.json).toHaveLength(600)
    expect(running.json.every((row: any) => row.State === 'running')).toBe(true)
  })

  it('reads a child that streams its listing: aggregate over aggregate', async () => {
    await using inner = await fakeCluster([{}, {}], {}, filled(550))
    const outer = await createAggregate({ children: [{ service: inner.service, name: 'inner', addr: 'inner' }], healthTimeoutMs: 2000 }, { spawn: async () => { throw new Error('no spawning in this test') } })
    try {
      const all = await docker(outer, 'ContainerList', '', { query: { all: '1' } })
      expect(all.json).toHaveLength(1100)
    } finally {
      await outer.close()
    }
  })

  it('pieces make the same JSON as a join', async () => {
    const items = Array.from({ length: 5000 }, (_, index) => ({ index, text: 'x'.repeat(index % 50) }))
    const decoder = new TextDecoder()
    let text = ''
    let pieces = 0
    for await (const chunk of jsonArrayChunks(items, (item) => JSON.stringify(item))) {
      text += decoder.decode(chunk, { stream: true })
      pieces++
    }
    expect(text).toBe(JSON.stringify(items))
    expect(pieces).toBeGreaterThan(1)
    let empty = ''
    for await (const chunk of jsonArrayChunks([], String)) empty += decoder.decode(chunk)
    expect(empty).toBe('[]')
  })
})
