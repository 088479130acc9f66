import { execFileSync } from 'node:child_process'
import { mkdir, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { ServiceInstance } from '@libswarm/core'
import { createDockerClient } from '@libswarm/dockerclient'
import { canRunTests, startEngine, type Engine } from '@libswarm/test-engine'
import { createDockerServer, parseDockerServerArgs, type DockerServer } from '../../src/index.js'
import { CLI_20, CLI_28, runCli } from '../harness.js'

/*
 * The real CLIs over mutual TLS: dockerserver (tcp, --tlsverify) -> dockerclient -> a private
 * dockerd. Without -i the CLI half-closes the hijacked connection at once (a TLS close_notify,
 * then a TCP half-close) and still reads the container's output.
 */

let engine: Engine
let client: ServiceInstance
let server: DockerServer
let dir: string
let certs: string
let host: string

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'dockerserver-tls-e2e-'))
  const tls = join(dir, 'tls')
  certs = join(dir, 'client')
  await mkdir(certs)
  execFileSync('bash', ['-c', [
    `mkdir -p ${tls} && cd ${tls}`,
    'openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout ca-key.pem -out ca.pem -days 1 -subj /CN=test-ca 2>/dev/null',
    'openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout server-key.pem -out server.csr -subj /CN=localhost 2>/dev/null',
    'printf "subjectAltName=IP:127.0.0.1,DNS:localhost\\nextendedKeyUsage=serverAuth\\n" > server.ext',
    'openssl x509 -req -in server.csr -CA ca.pem -CAkey ca-key.pem -CAcreateserial -out server-cert.pem -days 1 -extfile server.ext 2>/dev/null',
    'openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout client-key.pem -out client.csr -subj /CN=ci 2>/dev/null',
    'printf "extendedKeyUsage=clientAuth\\n" > client.ext',
    'openssl x509 -req -in client.csr -CA ca.pem -CAkey ca-key.pem -CAcreateserial -out client-cert.pem -days 1 -extfile client.ext 2>/dev/null',
    // the CLI's DOCKER_CERT_PATH layout
    `cp ca.pem ${certs}/ca.pem && cp client-cert.pem ${certs}/cert.pem && cp client-key.pem ${certs}/key.pem`
  ].join(' && ')])
  engine = await startEngine({ name: 'dockerserver-tls-e2e' })
  client = createDockerClient({ address: engine.host, env: {} })
  const options = parseDockerServerArgs(['tcp://127.0.0.1:0', '--tlsverify', '--tlscacert', join(tls, 'ca.pem'), '--tlscert', join(tls, 'server-cert.pem'), '--tlskey', join(tls, 'server-key.pem')])
  server = createDockerServer({ ...options, next: client, closeTimeoutMs: 2000 })
  await server.start()
  host = server.addresses[0] as string
}, 180_000)

afterAll(async () => {
  await server?.close()
  await client?.close()
  await engine?.close()
  if (dir !== undefined) await rm(dir, { recursive: true, force: true })
}, 180_000)

describe.runIf(canRunTests())('docker CLIs over mutual TLS through dockerserver and dockerclient', () => {
  it.each([['28', CLI_28], ['20.10', CLI_20]])('CLI %s: docker run --rm busybox echo hello (no -i) prints hello', async (_name, cli) => {
    const result = await runCli(cli, host, ['run', '--rm', 'busybox', 'echo', 'hello'], {
      configDir: dir, env: { DOCKER_TLS_VERIFY: '1', DOCKER_CERT_PATH: certs }, timeoutMs: 60_000
    })
    expect(result.stderr).toBe('')
    expect(result.stdout).toBe('hello\n')
    expect(result.code).toBe(0)
  })

  it.each([['28', CLI_28], ['20.10', CLI_20]])('CLI %s: output printed after a pause still arrives on the half-closed connection', async (_name, cli) => {
    const result = await runCli(cli, host, ['run', '--rm', 'busybox', 'sh', '-c', 'echo one; sleep 2; echo two'], {
      configDir: dir, env: { DOCKER_TLS_VERIFY: '1', DOCKER_CERT_PATH: certs }, timeoutMs: 60_000
    })
    expect(result.stdout).toBe('one\ntwo\n')
    expect(result.code).toBe(0)
  })
})
