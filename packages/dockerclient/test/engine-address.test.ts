import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { dockerclient, parseDockerClientArgs } from '../src/index.js'
import { resolveEngineEndpoint } from '../src/engine-address.js'

let certs: string
beforeAll(async () => {
  certs = await mkdtemp(join(tmpdir(), 'dockerclient-certs-'))
  for (const name of ['ca.pem', 'cert.pem', 'key.pem']) await writeFile(join(certs, name), `-----${name}-----\n`)
})
afterAll(async () => { await rm(certs, { recursive: true, force: true }) })

describe('parseDockerClientArgs', () => {
  it('reads an address and the docker CLI TLS flags', () => {
    expect(parseDockerClientArgs(['tcp://10.0.0.2:2376', '--tlsverify', '--tlscacert', 'ca.pem', '--tlscert=c.pem', '--tlskey', 'k.pem'])).toEqual({
      address: 'tcp://10.0.0.2:2376', tlsVerify: true, tlsCaCert: 'ca.pem', tlsCert: 'c.pem', tlsKey: 'k.pem'
    })
    expect(parseDockerClientArgs([])).toEqual({})
  })

  it('refuses unknown flags, two addresses and a flag without its file', () => {
    expect(() => parseDockerClientArgs(['--nope'])).toThrow(/unknown option --nope/)
    expect(() => parseDockerClientArgs(['unix:///a', 'unix:///b'])).toThrow(/one address only/)
    expect(() => parseDockerClientArgs(['--tlscert'])).toThrow(/needs a file/)
  })
})

describe('resolveEngineEndpoint', () => {
  it('defaults to DOCKER_HOST, then /var/run/docker.sock', () => {
    expect(resolveEngineEndpoint({ env: {} }).address).toBe('unix:///var/run/docker.sock')
    expect(resolveEngineEndpoint({ env: {} }).modem.socketPath).toBe('/var/run/docker.sock')
    const fromEnv = resolveEngineEndpoint({ env: { DOCKER_HOST: 'tcp://127.0.0.1:2375' } })
    expect(fromEnv.address).toBe('tcp://127.0.0.1:2375')
    expect(fromEnv.modem).toMatchObject({ host: '127.0.0.1', port: 2375, protocol: 'http' })
    expect(fromEnv.modem.socketPath).toBeUndefined()
  })

  it('defaults the port by protocol and keeps the explicit address over DOCKER_HOST', () => {
    const plain = resolveEngineEndpoint({ address: 'tcp://engine.local', env: { DOCKER_HOST: 'unix:///x.sock' } })
    expect(plain.address).toBe('tcp://engine.local:2375')
    expect(plain.modem.port).toBe(2375)
  })

  it('turns on TLS like the docker CLI: flags, or DOCKER_TLS_VERIFY with DOCKER_CERT_PATH', () => {
    const flags = resolveEngineEndpoint({ address: 'tcp://h:2376', tlsVerify: true, tlsCaCert: join(certs, 'ca.pem'), tlsCert: join(certs, 'cert.pem'), tlsKey: join(certs, 'key.pem'), env: {} })
    expect(flags.modem.protocol).toBe('https')
    expect(flags.rejectUnauthorized).toBe(true)
    expect(String(flags.modem.ca)).toBe('-----ca.pem-----\n')
    const env = resolveEngineEndpoint({ env: { DOCKER_HOST: 'tcp://h', DOCKER_TLS_VERIFY: '1', DOCKER_CERT_PATH: certs } })
    expect(env.address).toBe('tcp://h:2376')
    expect(env.modem.protocol).toBe('https')
    expect(String(env.modem.key)).toBe('-----key.pem-----\n')
    const noVerify = resolveEngineEndpoint({ address: 'tcp://h:2376', tls: true, env: { DOCKER_CERT_PATH: certs } })
    expect(noVerify.modem.protocol).toBe('https')
    expect(noVerify.rejectUnauthorized).toBe(false)
  })

  it('says what is wrong with a bad address or a missing certificate', () => {
    expect(() => resolveEngineEndpoint({ address: 'ssh://h', env: {} })).toThrow(/unsupported address/)
    expect(() => resolveEngineEndpoint({ address: 'unix://', env: {} })).toThrow(/needs a socket path/)
    expect(() => resolveEngineEndpoint({ address: 'tcp://h', tlsVerify: true, env: { DOCKER_CERT_PATH: '/nonexistent' } })).toThrow(/needs a CA certificate/)
    expect(() => resolveEngineEndpoint({ address: 'tcp://h', tlsCert: '/nonexistent/c.pem', env: {} })).toThrow(/cannot read \/nonexistent\/c.pem/)
  })
})

describe('dockerclient service', () => {
  it('is a service with the documented usage', () => {
    expect(dockerclient.name).toBe('dockerclient')
    expect(dockerclient.usage).toMatch(/^dockerclient \[ADDRESS\]/)
  })
})
