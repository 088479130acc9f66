import { X509Certificate, createPrivateKey } from 'node:crypto'
import { chmod, cp, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { isSwarmError, request } from '@libswarm/core'
import { decodeDockerReply } from '@libswarm/docker-api'
import { canRunTests, dockerCliOutput, freePort, startEngine } from '@libswarm/test-engine'
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

  it('makes P-256 keys, a CA that signs and leaves that do not', async () => {
    const state = await openStateDirectory(join(dir, 'state-p256'))
    const ca = new X509Certificate(state.caCert)
    const client = new X509Certificate(await readFile(state.clientCertFile))
    const server = await state.issueServerCertificate('h-0123456789ab.test.libswarm', ['10.0.0.7'])
    const leaf = new X509Certificate(server.cert)
    expect(createPrivateKey(server.key).asymmetricKeyDetails).toEqual({ namedCurve: 'prime256v1' })
    expect(leaf.publicKey.asymmetricKeyType).toBe('ec')
    expect(ca.ca).toBe(true)
    expect([client.ca, leaf.ca]).toEqual([false, false])
    expect(leaf.checkIssued(ca) && leaf.verify(ca.publicKey) && client.verify(ca.publicKey)).toBe(true)
    expect(leaf.checkHost('h-0123456789ab.test.libswarm')).toBe('h-0123456789ab.test.libswarm')
    expect(leaf.checkIP('10.0.0.7')).toBe('10.0.0.7')
    expect(leaf.keyUsage).toEqual(['1.3.6.1.5.5.7.3.1'])
    expect(client.keyUsage).toEqual(['1.3.6.1.5.5.7.3.2'])
  })

  it('opens a directory made by 0.1.0 (node-forge, RSA keys in PKCS#1) and signs with its RSA CA', async () => {
    const old = await copyForgeState(join(dir, 'state-forge'))
    const before = await readFile(join(old, 'ca.pem'), 'utf8')
    const state = await openStateDirectory(old)
    expect(state.caCert).toBe(before)
    expect(await readFile(state.clientKeyFile, 'utf8')).toMatch(/^-----BEGIN RSA PRIVATE KEY-----/)
    const leaf = new X509Certificate((await state.issueServerCertificate('h-0123456789ab.old.libswarm')).cert)
    expect(leaf.checkIssued(new X509Certificate(before)) && leaf.verify(new X509Certificate(before).publicKey)).toBe(true)
  })

  it('refuses a key that is not its certificate\'s, and a key others may read', async () => {
    const old = await copyForgeState(join(dir, 'state-mixed'))
    const other = await openStateDirectory(join(dir, 'state-other'))
    await writeFile(join(old, 'key.pem'), await readFile(other.clientKeyFile), { mode: 0o600 })
    await expect(openStateDirectory(old)).rejects.toMatchObject({ code: 'INVALID_ARGUMENTS', message: expect.stringContaining('not the certificate') })
    await chmod(join(old, 'ca-key.pem'), 0o644)
    await expect(openStateDirectory(old)).rejects.toMatchObject({ code: 'INVALID_ARGUMENTS', message: expect.stringContaining('chmod 600') })
  })
})

/** A copy of a state directory written by @libswarm/provision 0.1.0 (node-forge), with the modes git does not keep. */
async function copyForgeState (to: string): Promise<string> {
  await cp(fileURLToPath(new URL('../fixtures/node-forge-state', import.meta.url)), to, { recursive: true })
  await chmod(to, 0o700)
  await chmod(join(to, 'ca-key.pem'), 0o600)
  await chmod(join(to, 'key.pem'), 0o600)
  return to
}

describe.runIf(canRunTests(['engine', 'docker-cli']))('mutual TLS to a host engine', () => {
  let state: StateDirectory
  let other: StateDirectory
  let engine: Awaited<ReturnType<typeof startEngine>>
  let port = 0
  const tlsName = 'h-0123456789ab.test.libswarm'

  beforeAll(async () => {
    state = await openStateDirectory(join(dir, 'state-b'))
    other = await openStateDirectory(join(dir, 'state-c'))
    const server = await state.issueServerCertificate(tlsName, ['127.0.0.1'])
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

  it('is reached by the docker CLI with the same client certificate', async () => {
    const version = await dockerCliOutput(`tcp://127.0.0.1:${port}`, ['--tlsverify', '--tlscacert', state.caCertFile, '--tlscert', state.clientCertFile, '--tlskey', state.clientKeyFile, 'version', '--format', '{{.Server.Version}}'], { home: dir })
    expect(version).toMatch(/^\d+\.\d+/)
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

describe.runIf(canRunTests(['engine', 'docker-cli']))('mutual TLS with a state directory made by 0.1.0 (RSA CA and client key)', () => {
  it('dockerd accepts the old client certificate, and the new P-256 server certificate its old CA signed passes the client and the docker CLI', async () => {
    const state = await openStateDirectory(await copyForgeState(join(dir, 'state-forge-engine')))
    const tlsName = 'h-0123456789ab.old.libswarm'
    const server = await state.issueServerCertificate(tlsName, ['127.0.0.1'])
    const port = await freePort()
    await using engine = await startEngine({ busybox: false, tls: { caCert: state.caCert, cert: server.cert, key: server.key, port } })
    const client = connectHostEngine({ address: '127.0.0.1', port, tlsName }, state)
    try {
      await waitForEngine(client, 'test host', { timeoutMs: 10_000 })
      expect(JSON.parse(decodeDockerReply(await request(client, 'Get', ['SystemInfo', '', '{}'])).body ?? '{}').Name).toBe(engine.name)
    } finally {
      await client.close()
    }
    const version = await dockerCliOutput(`tcp://127.0.0.1:${port}`, ['--tlsverify', '--tlscacert', state.caCertFile, '--tlscert', state.clientCertFile, '--tlskey', state.clientKeyFile, 'version', '--format', '{{.Server.Version}}'], { home: dir })
    expect(version).toMatch(/^\d+\.\d+/)
  })
})

describe('engine client of a host', () => {
  it('is made at the first message: an unreadable client key is UNAVAILABLE (never an engine that answered), and a closed client refuses', async () => {
    const state = await openStateDirectory(join(dir, 'state-lazy'))
    const client = connectHostEngine({ address: '127.0.0.1', port: 1, tlsName: 'h-0123456789ab.test.libswarm' }, { ...state, clientKeyFile: join(dir, 'no-such-key.pem') })
    await expect(request(client, 'Get', ['SystemPing', '', '{}'])).rejects.toMatchObject({ code: 'UNAVAILABLE', message: expect.stringContaining('no-such-key.pem') })
    await expect(waitForEngine(client, 'test host', { timeoutMs: 300, intervalMs: 100 })).rejects.toMatchObject({ code: 'TIMEOUT' })
    await client.close()
    const closed = connectHostEngine({ address: '127.0.0.1', port: 1, tlsName: 'h-0123456789ab.test.libswarm' }, state)
    await closed.close()
    await expect(request(closed, 'Get', ['SystemPing', '', '{}'])).rejects.toMatchObject({ code: 'CHANNEL_CLOSED' })
  })
})
