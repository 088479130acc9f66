/**
 * `rackspace --ssh-user`: servers reached as `ssh://USER@ADDRESS` (docker system dial-stdio)
 * instead of mutual TLS. The stand-in's servers are real private dockerd behind real OpenSSH
 * sshd whose host key comes from the user data; the docker CLI drives them through dockerserver.
 */
import { execFile } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createDockerServer } from '@libswarm/dockerserver'
import { canRunTests, DOCKER28, freePort, generateSshKey } from '@libswarm/test-engine'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { chain, rackspaceSpec, standIn, stateDir } from '../harness.js'
import { sshHostBooter } from '../stand-in/engine-host.js'
import type { OpenStackStandIn } from '../stand-in/openstack-stand-in.js'

let dir = ''
let cloud: OpenStackStandIn
let key = ''
let sshPort = 0
const state = stateDir()

async function docker (host: string, args: string[], input?: string): Promise<string> {
  return await new Promise((resolve, reject) => {
    const child = execFile(DOCKER28, args, { env: { PATH: process.env['PATH'], HOME: dir, DOCKER_HOST: host, DOCKER_CONFIG: join(dir, 'cli') }, cwd: dir, timeout: 90_000 }, (error, stdout, stderr) => {
      if (error !== null) reject(new Error(`docker ${args.join(' ')}: ${stderr.toString()}`)); else resolve(stdout.toString().trim())
    })
    child.stdin?.end(input)
  })
}

describe.runIf(canRunTests(['engine', 'docker-cli', 'sshd']))('rackspace --ssh-user: servers reached over ssh, driven by the docker CLI', () => {
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'rax-ssh-'))
    const login = await generateSshKey(join(dir, 'login'))
    key = login.privateKeyFile
    sshPort = await freePort()
    cloud = await standIn(sshHostBooter({ sshPort, authorizedKeys: [login.publicKey] }), { bootDelayMs: 200 })
  })
  afterAll(async () => {
    await cloud?.close()
    rmSync(dir, { recursive: true, force: true })
    state.remove()
  })

  it('runs, attaches and reads logs through a server reached as ssh://root@ADDRESS, whose host key it made', async () => {
    const started = await chain(rackspaceSpec(cloud, state.dir, `--swarm viassh --ssh-user root --ssh-key ${key} --ssh-port ${sshPort} --terminate-on-stop`))
    const socket = join(dir, 'front.sock')
    const server = createDockerServer({ addresses: [`unix://${socket}`], next: started.head, closeTimeoutMs: 2000 })
    await server.start()
    try {
      const [live] = cloud.liveServers()
      expect(live?.userData).toContain('ssh_keys:')
      expect(live?.userData).not.toMatch(/tcp:\/\/|BEGIN CERTIFICATE/)
      const host = `unix://${socket}`
      expect(await docker(host, ['info', '--format', '{{.Name}}'])).toBe(live?.name)
      expect(await docker(host, ['run', '--rm', '-i', 'busybox', 'sh', '-c', 'cat; echo over ssh'], 'from stdin\n')).toBe('from stdin\nover ssh')
      const id = await docker(host, ['run', '-d', 'busybox', 'sh', '-c', 'echo one; echo two'])
      expect(await docker(host, ['logs', '-f', id])).toBe('one\ntwo')
      const tlsName = live?.metadata['libswarm:tls-name'] ?? 'missing'
      expect(readFileSync(join(state.dir, 'known_hosts'), 'utf8')).toContain(`${tlsName} ssh-ed25519 `)
    } finally {
      await server.close()
      await started.close()
    }
    expect(cloud.liveServers()).toHaveLength(0)
  })
})
