import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createDockerClient, dockerclient, parseDockerClientArgs } from '../src/index.js'
import { resolveEngineEndpoint } from '../src/engine-address.js'
import { SshStdioSocket, sshArguments, type SshTarget } from '../src/ssh-connection.js'
import { createServer, type AddressInfo } from 'node:net'
import { request } from '@libswarm/core'
import { canRunTests } from '@libswarm/test-engine'
import { encodeDockerRequest } from '@libswarm/docker-api'

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
    expect(() => resolveEngineEndpoint({ address: 'fd://3', env: {} })).toThrow(/unsupported address.*ssh:\/\/\[user@\]host/)
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

describe('ssh:// addresses', () => {
  it('reads ssh://[user@]host[:port] from the argument or DOCKER_HOST, as the docker CLI does', () => {
    const endpoint = resolveEngineEndpoint({ address: 'ssh://core@10.0.0.2:2222', env: {} })
    expect(endpoint.address).toBe('ssh://core@10.0.0.2:2222')
    expect(endpoint.ssh).toMatchObject({ host: '10.0.0.2', user: 'core', port: 2222 })
    const fromEnv = resolveEngineEndpoint({ env: { DOCKER_HOST: 'ssh://host.example' } })
    expect(fromEnv.address).toBe('ssh://host.example')
    expect(fromEnv.ssh).toMatchObject({ host: 'host.example', user: undefined, port: undefined })
    expect(resolveEngineEndpoint({ address: 'ssh://root@[::1]:22', env: {} }).ssh).toMatchObject({ host: '::1', port: 22 })
  })

  it('refuses passwords, paths and TLS options on an ssh address', () => {
    expect(() => resolveEngineEndpoint({ address: 'ssh://u:secret@h', env: {} })).toThrow(/take no password/)
    expect(() => resolveEngineEndpoint({ address: 'ssh://u@h/var/run/docker.sock', env: {} })).toThrow(/take no path/)
    expect(() => resolveEngineEndpoint({ address: 'ssh://u@h', tlsVerify: true, env: {} })).toThrow(/TLS options do not apply/)
    expect(() => resolveEngineEndpoint({ address: 'ssh://', env: {} })).toThrow(/no host/)
  })

  it('parses the ssh flags', () => {
    expect(parseDockerClientArgs(['ssh://u@h', '--ssh-key', 'id', '--ssh-known-hosts=kh', '--ssh-config', 'cfg', '--ssh-option', 'StrictHostKeyChecking=accept-new', '--ssh-option', 'ProxyJump=bastion'])).toEqual({
      address: 'ssh://u@h', sshKey: 'id', sshKnownHosts: 'kh', sshConfig: 'cfg', sshOptions: ['StrictHostKeyChecking=accept-new', 'ProxyJump=bastion']
    })
    expect(() => parseDockerClientArgs(['--ssh-option', 'nonsense'])).toThrow(/KEY=VALUE/)
    expect(() => parseDockerClientArgs(['--ssh-key'])).toThrow(/needs a file/)
  })

  it('builds the ssh command line: the user options first (ssh keeps the first value), never a prompt, then the remote command', () => {
    expect(sshArguments({ host: 'h', user: 'u', port: 2222, keyFile: 'id', knownHostsFile: 'kh', configFile: 'cfg', options: ['ConnectTimeout=5'] })).toEqual([
      '-o', 'ConnectTimeout=5', '-F', 'cfg', '-i', 'id', '-o', 'IdentitiesOnly=yes', '-o', 'UserKnownHostsFile=kh',
      '-o', 'BatchMode=yes', '-o', 'ConnectTimeout=20', '-o', 'ServerAliveInterval=10', '-o', 'ServerAliveCountMax=3', '-T',
      '-l', 'u', '-p', '2222', '--', 'h', 'docker', 'system', 'dial-stdio'
    ])
    expect(sshArguments({ host: 'h' }).slice(-4)).toEqual(['h', 'docker', 'system', 'dial-stdio'])
    expect(sshArguments({ host: 'h' })).not.toContain('-l')
  })

  it.runIf(canRunTests(['sshd']))('fails a request with UNAVAILABLE and ssh\'s own words when ssh cannot connect, without a hang', async () => {
    // a port nothing listens on: ssh itself says "Connection refused" and exits 255
    const client = createDockerClient({ address: 'ssh://nobody@127.0.0.1:1', sshConfig: '/dev/null', env: {} })
    try {
      const message = encodeDockerRequest({ operation: 'SystemPing', target: '' })
      await expect(request(client, message.verb, message.args)).rejects.toMatchObject({
        code: 'UNAVAILABLE',
        message: expect.stringMatching(/^cannot reach engine at ssh:\/\/nobody@127\.0\.0\.1:1: ssh exited with status 255: .*Connection refused/)
      })
    } finally {
      await client.close()
    }
  })

  it.runIf(canRunTests(['sshd']))('gives up on a host that accepts the connection but never speaks ssh (ConnectTimeout)', async () => {
    const silent = createServer(() => {})
    await new Promise<void>((resolve) => { silent.listen(0, '127.0.0.1', resolve) })
    const port = (silent.address() as AddressInfo).port
    const client = createDockerClient({ address: `ssh://nobody@127.0.0.1:${port}`, sshConfig: '/dev/null', sshOptions: ['ConnectTimeout=1'], env: {} })
    try {
      const message = encodeDockerRequest({ operation: 'SystemPing', target: '' })
      const started = Date.now()
      await expect(request(client, message.verb, message.args)).rejects.toMatchObject({
        code: 'UNAVAILABLE',
        message: expect.stringMatching(/ssh exited with status 255: .*timed out/i)
      })
      expect(Date.now() - started).toBeLessThan(15_000)
    } finally {
      await client.close()
      silent.close()
    }
  })

  it('names the ssh program when it cannot be run', async () => {
    const endpoint = resolveEngineEndpoint({ address: 'ssh://u@127.0.0.1:1', env: {} })
    const socket = new SshStdioSocket({ ...endpoint.ssh as SshTarget, command: '/nonexistent/ssh' })
    const error = await new Promise<Error>((resolve) => { socket.once('error', resolve) })
    expect(error.message).toBe('cannot run /nonexistent/ssh: ENOENT')
  })
})
