import { mkdtemp, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { isSwarmError, request } from '@libswarm/core'
import { decodeDockerReply } from '@libswarm/docker-api'
import { canRunTests, freePort, startEngine } from '@libswarm/test-engine'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { connectHostEngine, openStateDirectory, waitForEngine, type StateDirectory } from '../../src/index.js'

let dir = ''
beforeAll(async () => { dir = await mkdtemp(join(tmpdir(), 'lsw-provision-')) })
afterAll(async () => { await rm(dir, { recursive: true, force: true }) })

describe('state directory', () => {
  it('is created 0700 with keys 0600, and opened again unchanged', async () => {
    const state = await openStateDirectory(join(dir, 'state-a'))
    expect((await stat(state.dir)).mode & 0o777).toBe(0o700)
    expect((await stat(state.clientKeyFile)).mode & 0o777).toBe(0o600)
    expect((await stat(join(state.dir, 'ca-key.pem'))).mode & 0o777).toBe(0o600)
    const again = await openStateDirectory(state.dir)
    expect(again.caCert).toBe(state.caCert)
  })
})

describe.runIf(canRunTests(['engine']))('mutual TLS to a host engine', () => {
  let state: StateDirectory
  let other: StateDirectory
  let engine: Awaited<ReturnType<typeof startEngine>>
  let port = 0
  const tlsName = 'h-0123456789ab.test.libswarm'

  beforeAll(async () => {
    state = await openStateDirectory(join(dir, 'state-b'))
    other = await openStateDirectory(join(dir, 'state-c'))
    const server = await state.issueServerCertificate(tlsName)
    port = await freePort()
    engine = await startEngine({ busybox: false, tls: { caCert: state.caCert, cert: server.cert, key: server.key, port } })
  })
  afterAll(async () => { await engine?.close() })

  it('reaches the engine with the client certificate, checking the server name', async () => {
    const client = connectHostEngine({ address: '127.0.0.1', port, tlsName }, state)
    try {
      await waitForEngine(client, 'test host', { timeoutMs: 10_000 })
      const reply = decodeDockerReply(await request(client, 'Get', ['SystemInfo', '', '{}']))
      expect(JSON.parse(reply.body ?? '{}').Name).toBe(engine.name)
    } finally {
      await client.close()
    }
  })

  it('refuses an engine whose certificate is for another name', async () => {
    const client = connectHostEngine({ address: '127.0.0.1', port, tlsName: 'h-ffffffffffff.test.libswarm' }, state)
    try {
      const error = await request(client, 'Get', ['SystemPing', '', '{}']).then(() => undefined, (caught: unknown) => caught)
      expect(isSwarmError(error) && error.code).toBe('UNAVAILABLE')
      expect(String((error as Error).message)).toMatch(/altnames|Hostname|certificate/i)
    } finally {
      await client.close()
    }
  })

  it('is refused by the engine with a client certificate of another CA', async () => {
    const client = connectHostEngine({ address: '127.0.0.1', port, tlsName }, { ...other, caCertFile: state.caCertFile })
    try {
      await expect(waitForEngine(client, 'test host', { timeoutMs: 1500, intervalMs: 200 })).rejects.toMatchObject({ code: 'TIMEOUT' })
    } finally {
      await client.close()
    }
  })
})
