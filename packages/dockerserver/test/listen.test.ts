import { execFileSync, spawn } from 'node:child_process'
import { existsSync, statSync, writeFileSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import https from 'node:https'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { silentLogger, spawnChain, type Logger, type Service } from '@libswarm/core'
import { createDockerServer, dockerserver, parseDockerServerArgs } from '../src/index.js'
import { createFakeBackend } from './fake-backend.js'
import { CLI_28, httpRequest, runCli } from './harness.js'

let dir: string
beforeAll(async () => { dir = await mkdtemp(join(tmpdir(), 'dockerserver-listen-')) })
afterAll(async () => { await rm(dir, { recursive: true, force: true }) })

const backend = createFakeBackend()
const next = backend.sender

describe('addresses', () => {
  it('listens on loopback TCP and on a unix socket at once', async () => {
    const socket = join(dir, 'both.sock')
    await using server = createDockerServer({ addresses: ['tcp://127.0.0.1:0', `unix://${socket}`], next })
    await server.start()
    const port = Number(/:(\d+)$/.exec(server.addresses[0] ?? '')?.[1])
    expect(port).toBeGreaterThan(0)
    expect(server.addresses[1]).toBe(`unix://${socket}`)
    expect((await httpRequest({ port }, 'GET', '/_ping')).body).toBe('OK')
    expect((await httpRequest({ socket }, 'GET', '/_ping')).body).toBe('OK')
    expect(statSync(socket).mode & 0o777).toBe(0o660)
  })

  it('refuses plain TCP off loopback unless told, in one clear line', () => {
    expect(() => createDockerServer({ addresses: ['tcp://0.0.0.0:2375'], next })).toThrow(/^refusing plain TCP on tcp:\/\/0\.0\.0\.0:2375: .*--allow-insecure-tcp$/)
    expect(() => createDockerServer({ addresses: ['tcp://:2375'], next })).toThrow(/refusing plain TCP/)
    expect(() => createDockerServer({ addresses: ['tcp://0.0.0.0:0'], next, allowInsecureTcp: true })).not.toThrow()
    expect(() => createDockerServer({ addresses: ['tcp://[::1]:0'], next })).not.toThrow()
  })

  it('warns when it listens beyond loopback with plain TCP allowed, or TLS without client verification', () => {
    const warnings: string[] = []
    const log: Logger = { ...silentLogger, warn: (text) => { warnings.push(text) }, child: () => log }
    const tls = { cert: 'unused', key: 'unused' }
    createDockerServer({ addresses: ['tcp://127.0.0.1:0'], next, log, tls })
    createDockerServer({ addresses: ['tcp://127.0.0.1:0'], next, log, allowInsecureTcp: true })
    createDockerServer({ addresses: ['tcp://0.0.0.0:0'], next, log, tls: { ...tls, verify: true } })
    expect(warnings).toEqual([])
    createDockerServer({ addresses: ['tcp://0.0.0.0:0'], next, log, allowInsecureTcp: true })
    createDockerServer({ addresses: ['tcp://0.0.0.0:0'], next, log, tls })
    expect(warnings).toEqual([expect.stringMatching(/plain TCP beyond loopback/), expect.stringMatching(/TLS without client verification/)])
  })

  it.each(['http://127.0.0.1:2375', 'tcp://127.0.0.1:99999', 'unix://', 'tcp://a b:1', '127.0.0.1:2375', 'tcp://127.0.0.1:2375/path'])('refuses the bad address %s', (address) => {
    expect(() => createDockerServer({ addresses: [address], next })).toThrow(/^bad address /)
  })

  it('says when an address is in use (TCP and unix) and listens nowhere then', async () => {
    await using first = createDockerServer({ addresses: ['tcp://127.0.0.1:0'], next })
    await first.start()
    const busy = first.addresses[0] ?? ''
    const socket = join(dir, 'partial.sock')
    const second = createDockerServer({ addresses: [`unix://${socket}`, busy], next })
    await expect(second.start()).rejects.toThrow(`${busy}: address already in use`)
    expect(existsSync(socket)).toBe(false)
    const live = join(dir, 'live.sock')
    await using third = createDockerServer({ addresses: [`unix://${live}`], next })
    await third.start()
    await expect(createDockerServer({ addresses: [`unix://${live}`], next }).start()).rejects.toThrow(/address already in use/)
  })

  it('replaces a stale socket and removes its own on close', async () => {
    const socket = join(dir, 'stale.sock')
    // a process killed with SIGKILL leaves its socket file behind
    const child = spawn(process.execPath, ['-e', `require('net').createServer().listen(${JSON.stringify(socket)}, () => console.log('up'))`], { stdio: ['ignore', 'pipe', 'ignore'] })
    await new Promise((resolve) => child.stdout.once('data', resolve))
    child.kill('SIGKILL')
    await new Promise((resolve) => child.once('exit', resolve))
    expect(statSync(socket).isSocket()).toBe(true)
    const server = createDockerServer({ addresses: [`unix://${socket}`], next })
    await server.start()
    expect((await httpRequest({ socket }, 'GET', '/_ping')).status).toBe(200)
    await server.close()
    expect(existsSync(socket)).toBe(false)
  })

  it('refuses to replace a file that is not a socket', async () => {
    const file = join(dir, 'plain-file')
    writeFileSync(file, 'x')
    await expect(createDockerServer({ addresses: [`unix://${file}`], next }).start()).rejects.toThrow(/exists and is not a socket/)
  })
})

describe('close', () => {
  it('stops accepting, lets a request in flight finish, then closes', async () => {
    const socket = join(dir, 'graceful.sock')
    const slow = createFakeBackend()
    slow.override = async () => { await new Promise((resolve) => setTimeout(resolve, 300)); return { status: 200, body: '{"slow":true}' } }
    const server = createDockerServer({ addresses: [`unix://${socket}`], next: slow.sender, closeTimeoutMs: 5000 })
    await server.start()
    const inFlight = httpRequest({ socket }, 'GET', '/info')
    await new Promise((resolve) => setTimeout(resolve, 50))
    const closed = server.close()
    await new Promise((resolve) => setTimeout(resolve, 20))
    await expect(httpRequest({ socket }, 'GET', '/info')).rejects.toThrow()
    expect((await inFlight).body).toBe('{"slow":true}')
    await closed
    expect(existsSync(socket)).toBe(false)
  })

  it('ends streams that never end by themselves at once, and lets a finite one finish', async () => {
    const socket = join(dir, 'endless.sock')
    const streaming = createFakeBackend()
    const forever = async function * () { yield Buffer.from('{"status":"start"}\n'); await new Promise(() => {}) }
    const finite = async function * () { for (let i = 0; i < 5; i++) { await new Promise((resolve) => setTimeout(resolve, 100)); yield Buffer.from(`part ${i}\n`) } }
    streaming.override = async (request) => ({
      status: 200,
      headers: { 'Content-Type': request.operation === 'ContainerExport' ? 'application/x-tar' : 'application/json' },
      stream: request.operation === 'ContainerExport' ? finite() : forever()
    })
    const server = createDockerServer({ addresses: [`unix://${socket}`], next: streaming.sender, closeTimeoutMs: 5000 })
    await server.start()
    const events = httpRequest({ socket }, 'GET', '/v1.41/events')
    const logs = httpRequest({ socket }, 'GET', '/v1.41/containers/web/logs?follow=1&stdout=1')
    const exported = httpRequest({ socket }, 'GET', '/v1.41/containers/web/export')
    await new Promise((resolve) => setTimeout(resolve, 100))
    const started = Date.now()
    await server.close()
    expect(Date.now() - started).toBeLessThan(2000)
    expect((await events).body).toBe('{"status":"start"}\n')
    expect((await logs).status).toBe(200)
    expect((await exported).body).toBe('part 0\npart 1\npart 2\npart 3\npart 4\n')
  })

  it('cuts a request that outlives the close timeout', async () => {
    const socket = join(dir, 'cut.sock')
    const stuck = createFakeBackend()
    stuck.override = async () => await new Promise(() => {})
    const server = createDockerServer({ addresses: [`unix://${socket}`], next: stuck.sender, closeTimeoutMs: 200 })
    await server.start()
    const inFlight = httpRequest({ socket }, 'GET', '/info').catch((error: Error) => error)
    await new Promise((resolve) => setTimeout(resolve, 50))
    const started = Date.now()
    await server.close()
    expect(Date.now() - started).toBeLessThan(2000)
    expect(await inFlight).toBeInstanceOf(Error)
  })
})

describe('TLS', () => {
  it('with --tlsverify, answers clients with a certificate from the CA and refuses others', async () => {
    const tls = join(dir, 'tls')
    execFileSync('sh', ['-c', [
      `mkdir -p ${tls} && cd ${tls}`,
      'openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout ca-key.pem -out ca.pem -days 1 -subj /CN=test-ca 2>/dev/null',
      'openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout server-key.pem -out server.csr -subj /CN=localhost 2>/dev/null',
      'printf "subjectAltName=IP:127.0.0.1,DNS:localhost\\n" > server.ext',
      'openssl x509 -req -in server.csr -CA ca.pem -CAkey ca-key.pem -CAcreateserial -out cert.pem -days 1 -extfile server.ext 2>/dev/null',
      'openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout key.pem -out client.csr -subj /CN=client 2>/dev/null',
      'printf "extendedKeyUsage=clientAuth\\n" > client.ext',
      'openssl x509 -req -in client.csr -CA ca.pem -CAkey ca-key.pem -CAcreateserial -out client-cert.pem -days 1 -extfile client.ext 2>/dev/null'
    ].join(' && ')], { timeout: 30_000 })
    const options = parseDockerServerArgs(['tcp://127.0.0.1:0', '--tlsverify', '--tlscacert', join(tls, 'ca.pem'), '--tlscert', join(tls, 'cert.pem'), '--tlskey', join(tls, 'server-key.pem')])
    await using server = createDockerServer({ ...options, next })
    await server.start()
    const port = Number(/:(\d+)$/.exec(server.addresses[0] ?? '')?.[1])
    const { readFileSync } = await import('node:fs')
    const get = async (withCert: boolean): Promise<string> => await new Promise((resolve, reject) => {
      const req = https.request({
        host: '127.0.0.1',
        port,
        path: '/_ping',
        ca: readFileSync(join(tls, 'ca.pem')),
        ...(withCert ? { cert: readFileSync(join(tls, 'client-cert.pem')), key: readFileSync(join(tls, 'key.pem')) } : {}),
        agent: false,
        timeout: 5000
      }, (res) => {
        let body = ''
        res.on('data', (chunk: Buffer) => { body += chunk.toString() })
        res.on('end', () => resolve(body))
      })
      req.on('error', reject)
      req.end()
    })
    expect(await get(true)).toBe('OK')
    await expect(get(false)).rejects.toThrow()
    const docker = await runCli(CLI_28, `tcp://127.0.0.1:${port}`, ['--tlsverify', '--tlscacert', join(tls, 'ca.pem'), '--tlscert', join(tls, 'client-cert.pem'), '--tlskey', join(tls, 'key.pem'), 'version', '--format', '{{.Server.APIVersion}}'], { configDir: tls })
    expect(docker.stderr).toBe('')
    expect(docker.stdout.trim()).toBe('1.41')
    const attached = await runCli(CLI_28, `tcp://127.0.0.1:${port}`, ['--tlsverify', '--tlscacert', join(tls, 'ca.pem'), '--tlscert', join(tls, 'client-cert.pem'), '--tlskey', join(tls, 'key.pem'), 'run', '-i', 'busybox', 'cat'], { configDir: tls, input: 'over tls\n' })
    expect(attached.stdout).toBe('over tls\n')
    expect(attached.code).toBe(0)
  })
})

describe('service arguments', () => {
  it('reads addresses and flags as dockerd names them', () => {
    expect(parseDockerServerArgs(['unix:///tmp/a.sock', 'tcp://127.0.0.1:2375', '--allow-insecure-tcp'])).toEqual({ addresses: ['unix:///tmp/a.sock', 'tcp://127.0.0.1:2375'], tls: undefined, allowInsecureTcp: true })
    expect(() => parseDockerServerArgs([])).toThrow(/needs an address/)
    expect(() => parseDockerServerArgs(['unix:///a', '--bogus'])).toThrow(/^dockerserver: Unknown option '--bogus'.*; usage: dockerserver /)
    expect(() => parseDockerServerArgs(['tcp://127.0.0.1:1', '--tlsverify', '--tlscert', 'a', '--tlskey', 'b'])).toThrow(/--tlsverify needs --tlscacert/)
    expect(() => parseDockerServerArgs(['tcp://127.0.0.1:1', '--tlscert', 'a'])).toThrow(/need --tls or --tlsverify/)
    expect(() => parseDockerServerArgs(['tcp://127.0.0.1:1', '--tls', '--tlscert', join(dir, 'missing.pem'), '--tlskey', 'b'])).toThrow(/--tlscert .*missing\.pem: ENOENT/)
  })

  it('reads the limits: counts, sizes and durations', () => {
    expect(parseDockerServerArgs(['unix:///a', '--max-connections', '200', '--max-body-size', '2m', '--headers-timeout', '10s', '--body-timeout=500ms', '--keep-alive-timeout', '1.5'])).toMatchObject({
      maxConnections: 200, maxBodySize: 2 * 1024 * 1024, headersTimeoutMs: 10_000, bodyTimeoutMs: 500, keepAliveTimeoutMs: 1500
    })
    expect(parseDockerServerArgs(['unix:///a', '--body-timeout', '0']).bodyTimeoutMs).toBe(0)
    expect(() => parseDockerServerArgs(['unix:///a', '--max-connections', '0'])).toThrow(/--max-connections "0": expected a whole number/)
    expect(() => parseDockerServerArgs(['unix:///a', '--max-body-size', '10 parsecs'])).toThrow(/--max-body-size "10 parsecs": expected a size/)
    expect(() => parseDockerServerArgs(['unix:///a', '--headers-timeout', 'soon'])).toThrow(/--headers-timeout "soon": expected a duration/)
  })

  it('runs as the front of a chain', async () => {
    const socket = join(dir, 'chain.sock')
    const fake: Service = { name: 'fake', usage: 'fake', spawn: () => createFakeBackend().sender }
    await using chain = await spawnChain([`dockerserver unix://${socket}`, 'fake'], { resolve: (name) => name === 'dockerserver' ? dockerserver : fake })
    expect(chain.instances).toHaveLength(2)
    expect((await httpRequest({ socket }, 'GET', '/containers/json')).body).toContain('canned-container')
  })
})
