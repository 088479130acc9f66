import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { endOfChain, silentLogger } from '@libswarm/core'
import { afterAll, describe, expect, it } from 'vitest'
import { dockerclient } from '../src/index.js'
import { FakeEngine } from './fake-engine.js'

const dir = mkdtempSync(join(tmpdir(), 'dockerclient-startup-'))
afterAll(() => { rmSync(dir, { recursive: true, force: true }) })

const context = { next: endOfChain, log: silentLogger, spawn: async () => { throw new Error('no children') } }

describe('spawning dockerclient', () => {
  it('fails with one clear UNAVAILABLE line when nothing listens at the address', async () => {
    const address = `unix://${join(dir, 'nobody.sock')}`
    await expect(dockerclient.spawn([address], context)).rejects.toMatchObject({
      name: 'SwarmError',
      code: 'UNAVAILABLE',
      message: `cannot reach engine at ${address}: ENOENT`
    })
  })

  it('starts when the engine answers, even with an HTTP error', async () => {
    const engine = await FakeEngine.start()
    try {
      engine.handler = (_req, res) => { res.writeHead(500, { 'Content-Type': 'application/json' }).end('{"message":"busy"}') }
      const client = await dockerclient.spawn([engine.address], context)
      await client.close()
    } finally {
      await engine.close()
    }
  })
})
