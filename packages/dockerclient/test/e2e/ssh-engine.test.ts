/**
 * dockerclient over `ssh://`: a real OpenSSH sshd on loopback (own host key and authorized
 * keys, root by key only) whose sessions run `docker system dial-stdio` against a private
 * dockerd. Plain requests, streams, hijack, and the faults: unknown or changed host key,
 * refused key, no docker on the remote, a dropped connection, an abandoned stream.
 */
import { readdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { endOfChain, request, silentLogger } from '@libswarm/core'
import { replyJson } from '@libswarm/docker-api'
import { canRunTests, eventually, generateSshKey, rejectionOf, startEngine, startSshd, type Engine, type Sshd } from '@libswarm/test-engine'
import { createDockerClient, dockerclient, type DockerClientOptions } from '../../src/index.js'
import { call, collect, FeedStream } from '../fake-engine.js'

let engine: Engine
let sshd: Sshd
let client: ReturnType<typeof createDockerClient>

function sshOptions (extra: Partial<DockerClientOptions> = {}): DockerClientOptions {
  return { address: sshd.address, sshKey: sshd.clientKeyFile, sshKnownHosts: sshd.knownHostsFile, sshConfig: '/dev/null', env: {}, ...extra }
}

/** ssh processes this test process runs now (one per engine connection over ssh). */
async function sshChildren (): Promise<number> {
  let count = 0
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    try {
      const stat = await readFile(`/proc/${entry}/stat`, 'utf8')
      const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'))
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
      if (comm === 'ssh' && Number(fields[1]) === process.pid && fields[0] !== 'Z') count++
    } catch {}
  }
  return count
}

const context = { next: endOfChain, log: silentLogger, spawn: async () => { throw new Error('no children') } }

const needs = canRunTests(['engine', 'sshd'])

beforeAll(async () => {
  if (!needs) return
  engine = await startEngine({ name: 'dockerclient-ssh' })
  sshd = await startSshd({ dockerHost: engine.host })
  client = createDockerClient(sshOptions())
}, 120_000)

afterAll(async () => {
  await client?.close()
  await sshd?.close()
  await engine?.close()
}, 120_000)

describe.runIf(needs)('dockerclient over ssh:// to a real sshd', () => {
  it('reaches the engine behind sshd: ping, info, container list', async () => {
    const ping = await call(client, { operation: 'SystemPing', target: '' })
    expect(ping.body).toBe('OK')
    expect(ping.headers?.['Api-Version']).toBe('1.41')
    expect(replyJson<{ Name: string }>(await call(client, { operation: 'SystemInfo', target: '' })).Name).toBe('dockerclient-ssh')
    expect(replyJson<unknown[]>(await call(client, { operation: 'ContainerList', target: '', query: { all: '1' } }))).toEqual([])
  })

  it('spawns as a service from its arguments, pinging the engine over ssh', async () => {
    const service = await dockerclient.spawn([sshd.address, '--ssh-key', sshd.clientKeyFile, '--ssh-known-hosts', sshd.knownHostsFile, '--ssh-config', '/dev/null'], context)
    try {
      expect((await call(service, { operation: 'SystemPing', target: '' })).body).toBe('OK')
    } finally {
      await service.close()
    }
  })

  it('attaches with stdin over an ssh channel (hijack, half-close) and streams logs -f', async () => {
    const created = await call(client, { operation: 'ContainerCreate', target: '', body: { Image: 'busybox', Cmd: ['cat'], OpenStdin: true, StdinOnce: true, AttachStdin: true, AttachStdout: true } })
    const id = replyJson<{ Id: string }>(created).Id
    const stdin = new FeedStream()
    const attached = await call(client, { operation: 'ContainerAttach', target: id, query: { stream: '1', stdin: '1', stdout: '1' }, stream: stdin })
    expect(attached.status).toBe(101)
    expect((await call(client, { operation: 'ContainerStart', target: id })).status).toBe(204)
    stdin.push(Buffer.from('through ssh\n'))
    stdin.end()
    const output = await collect(attached.stream)
    expect(output.subarray(8).toString()).toBe('through ssh\n')

    const ticker = replyJson<{ Id: string }>(await call(client, { operation: 'ContainerCreate', target: '', body: { Image: 'busybox', Cmd: ['sh', '-c', 'for i in 1 2 3; do echo tick $i; sleep 0.2; done'] } })).Id
    expect((await call(client, { operation: 'ContainerStart', target: ticker })).status).toBe(204)
    const logs = await call(client, { operation: 'ContainerLogs', target: ticker, query: { follow: '1', stdout: '1' } })
    const text = (await collect(logs.stream)).toString()
    expect(text).toContain('tick 1')
    expect(text).toContain('tick 3')
  })

  it('sends a build context as a streamed body', async () => {
    const { execFileSync } = await import('node:child_process')
    const dir = join(engine.dir, 'ssh-build')
    execFileSync('mkdir', ['-p', dir])
    await writeFile(join(dir, 'Dockerfile'), 'FROM busybox\nCOPY hello.txt /hello.txt\n')
    await writeFile(join(dir, 'hello.txt'), 'hello over ssh\n')
    const tar = execFileSync('tar', ['-c', '-C', dir, '.'])
    const context = new FeedStream()
    context.push(tar)
    context.end()
    const built = await call(client, { operation: 'ImageBuild', target: '', query: { t: 'ssh-built:1' }, stream: context })
    const progress = (await collect(built.stream)).toString()
    expect(progress).toContain('Successfully tagged ssh-built:1')
    expect((await call(client, { operation: 'ImageInspect', target: 'ssh-built:1' })).status).toBe(200)
  })

  it('closes the ssh connection of an abandoned stream', async () => {
    await call(client, { operation: 'SystemPing', target: '' })
    const before = await sshChildren()
    const events = await call(client, { operation: 'SystemEvents', target: '' })
    expect(await sshChildren()).toBeGreaterThanOrEqual(1)
    await events.stream?.[Symbol.asyncIterator]().return?.()
    expect(await eventually(sshChildren, (count) => count <= before, { attempts: 50, intervalMs: 100 })).toBeLessThanOrEqual(before)
  })

  it('fails a stream with UNAVAILABLE when the ssh connection drops, and reconnects for the next request', async () => {
    const events = await call(client, { operation: 'SystemEvents', target: '' })
    const reading = collect(events.stream)
    await new Promise((resolve) => setTimeout(resolve, 200))
    await sshd.dropSessions()
    const error = await rejectionOf(reading)
    expect(error.code).toBe('UNAVAILABLE')
    expect(error.message).toMatch(/lost connection to engine at ssh:\/\/root@127\.0\.0\.1:\d+/)
    expect((await call(client, { operation: 'SystemPing', target: '' })).body).toBe('OK')
  })

  it('refuses a host whose key is not known, unless told to accept new keys', async () => {
    const empty = join(engine.dir, 'known_hosts_empty')
    await writeFile(empty, '')
    const strict = createDockerClient(sshOptions({ sshKnownHosts: empty }))
    try {
      const error = await rejectionOf(call(strict, { operation: 'SystemPing', target: '' }))
      expect(error.code).toBe('UNAVAILABLE')
      expect(error.message).toMatch(/cannot reach engine at ssh:\/\/root@127\.0\.0\.1:\d+: ssh exited with status 255: .*Host key verification failed/)
    } finally {
      await strict.close()
    }
    const accepting = createDockerClient(sshOptions({ sshKnownHosts: empty, sshOptions: ['StrictHostKeyChecking=accept-new'] }))
    try {
      expect((await call(accepting, { operation: 'SystemPing', target: '' })).body).toBe('OK')
      expect(await readFile(empty, 'utf8')).toContain(sshd.hostPublicKey.split(' ')[1])
    } finally {
      await accepting.close()
    }
  })

  it('refuses a host whose key changed', async () => {
    const other = await generateSshKey(join(engine.dir, 'other_host_key'))
    const wrong = join(engine.dir, 'known_hosts_wrong')
    await writeFile(wrong, `[127.0.0.1]:${sshd.port} ${other.publicKey}\n`)
    const changed = createDockerClient(sshOptions({ sshKnownHosts: wrong }))
    try {
      const error = await rejectionOf(call(changed, { operation: 'SystemPing', target: '' }))
      expect(error.message).toMatch(/REMOTE HOST IDENTIFICATION HAS CHANGED|Host key verification failed/)
    } finally {
      await changed.close()
    }
  })

  it('says so when the key is refused', async () => {
    const stranger = await generateSshKey(join(engine.dir, 'stranger_key'))
    const refused = createDockerClient(sshOptions({ sshKey: stranger.privateKeyFile }))
    try {
      const error = await rejectionOf(call(refused, { operation: 'SystemPing', target: '' }))
      expect(error.code).toBe('UNAVAILABLE')
      expect(error.message).toMatch(/Permission denied \(publickey\)/)
    } finally {
      await refused.close()
    }
    await expect(dockerclient.spawn([sshd.address, '--ssh-key', stranger.privateKeyFile, '--ssh-known-hosts', sshd.knownHostsFile, '--ssh-config', '/dev/null'], context))
      .rejects.toThrow(/Permission denied \(publickey\)/)
  })

  it('says so when the remote has no docker', async () => {
    await using bare = await startSshd({ env: { PATH: '/var/empty' } })
    const nodocker = createDockerClient({ address: bare.address, sshKey: bare.clientKeyFile, sshKnownHosts: bare.knownHostsFile, sshConfig: '/dev/null', env: {} })
    try {
      const error = await rejectionOf(call(nodocker, { operation: 'SystemPing', target: '' }))
      expect(error.code).toBe('UNAVAILABLE')
      expect(error.message).toMatch(/ssh exited with status 127: .*docker: (command )?not found/)
    } finally {
      await nodocker.close()
    }
  })

  it('logs in once for many connections (ControlMaster) and ends that login on close', async () => {
    await using own = await startSshd({ dockerHost: engine.host })
    const logins = async (): Promise<number> => (await own.log()).split('\n').filter((line) => line.includes('Accepted publickey for root')).length
    const shared = createDockerClient({ address: own.address, sshKey: own.clientKeyFile, sshKnownHosts: own.knownHostsFile, sshConfig: '/dev/null', env: {} })
    const id = replyJson<{ Id: string }>(await call(shared, { operation: 'ContainerCreate', target: '', body: { Image: 'busybox', Cmd: ['echo', 'shared'] } })).Id
    await call(shared, { operation: 'ContainerStart', target: id })
    await call(shared, { operation: 'ContainerWait', target: id })
    for (let i = 0; i < 3; i++) {
      // each attach is a connection of its own, a channel on the shared login
      const attached = await call(shared, { operation: 'ContainerAttach', target: id, query: { logs: '1', stdout: '1' } })
      expect((await collect(attached.stream)).subarray(8).toString()).toBe('shared\n')
    }
    expect(await logins()).toBe(1)
    const masters = async (): Promise<number> => {
      let count = 0
      for (const entry of await readdir('/proc')) {
        if (!/^\d+$/.test(entry)) continue
        const cmdline = await readFile(`/proc/${entry}/cmdline`, 'utf8').catch(() => '')
        if (cmdline.startsWith('ssh\0') && cmdline.includes(`\0${own.port}\0`)) count++
      }
      return count
    }
    expect(await masters()).toBeGreaterThanOrEqual(1)
    await shared.close()
    expect(await eventually(masters, (count) => count === 0, { attempts: 50, intervalMs: 100 })).toBe(0)
  })

  it('is told the same by request() as by call()', async () => {
    const answer = await request(client, 'Get', ['SystemPing', '', '{}'])
    expect(answer.verb).toBe('Ack')
  })
})
