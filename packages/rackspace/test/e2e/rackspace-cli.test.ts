import { execFile } from 'node:child_process'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { request, requestStream, type Chain } from '@libswarm/core'
import { createDockerServer, type DockerServer } from '@libswarm/dockerserver'
import { canRunTests, DOCKER28 } from '@libswarm/test-engine'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { chain, rackspaceSpec, standIn, stateDir } from '../harness.js'
import { bootEngineFromUserData } from '../stand-in/engine-host.js'
import type { OpenStackStandIn } from '../stand-in/openstack-stand-in.js'

interface Front { chain: Chain, server: DockerServer, host: string, close: () => Promise<void> }

let dir = ''
let cloud: OpenStackStandIn
const state = stateDir()

async function front (name: string, ...specs: string[]): Promise<Front> {
  const started = await chain(...specs)
  const socket = join(dir, `${name}.sock`)
  const server = createDockerServer({ addresses: [`unix://${socket}`], next: started.head, closeTimeoutMs: 2000 })
  await server.start()
  return { chain: started, server, host: `unix://${socket}`, close: async () => { await server.close(); await started.close() } }
}

async function docker (host: string, args: string[], options: { cli?: string, cwd?: string } = {}): Promise<string> {
  return await new Promise((resolve, reject) => {
    execFile(options.cli ?? DOCKER28, args, { env: { PATH: process.env['PATH'], HOME: dir, DOCKER_HOST: host, DOCKER_CONFIG: join(dir, 'cli') }, cwd: options.cwd ?? dir, timeout: 90_000 }, (error, stdout, stderr) => {
      if (error !== null) reject(new Error(`docker ${args.join(' ')}: ${stderr.toString()}`)); else resolve(stdout.toString().trim())
    })
  })
}

describe.runIf(canRunTests(['engine', 'docker-cli']))('rackspace: servers that are real dockerd over mutual TLS, driven by the docker CLI', () => {
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'rax-e2e-'))
    cloud = await standIn(bootEngineFromUserData, { bootDelayMs: 200 })
  })
  afterAll(async () => {
    await cloud?.close()
    rmSync(dir, { recursive: true, force: true })
    state.remove()
  })

  it('alone with one server, forwards every Docker message to its engine; a restarted chain finds the server again; --terminate-on-stop deletes it', async () => {
    const first = await front('one', rackspaceSpec(cloud, state.dir, '--swarm solo --metadata team=infra --key-name deploy'))
    let server
    try {
      expect(cloud.liveServers()).toHaveLength(1)
      server = cloud.liveServers()[0]
      expect(server).toMatchObject({ status: 'ACTIVE', keyName: 'deploy', metadata: { 'libswarm:swarm': 'solo', 'libswarm:launched-by': 'libswarm', team: 'infra' } })
      expect(await docker(first.host, ['info', '--format', '{{.Name}}'])).toBe(server?.name)
      expect(await docker(first.host, ['run', '--rm', 'busybox', 'echo', 'hello from nova'])).toBe('hello from nova')
      expect(await docker(first.host, ['ps', '-a', '--format', '{{.Image}}'])).toBe('')
    } finally {
      await first.close()
    }
    // the server stays without --terminate-on-stop, and is reused rather than launched again
    expect(cloud.liveServers()).toHaveLength(1)
    const posts = cloud.calls.get('POST /servers')
    const second = await front('again', rackspaceSpec(cloud, state.dir, '--swarm solo --terminate-on-stop'))
    try {
      expect(cloud.calls.get('POST /servers')).toBe(posts)
      expect(await docker(second.host, ['info', '--format', '{{.Name}}'])).toBe(server?.name)
    } finally {
      await second.close()
    }
    expect(cloud.liveServers()).toHaveLength(0)
  })

  it('replaces a server whose engine stops answering, and tells its watchers', async () => {
    const watched = await chain(rackspaceSpec(cloud, state.dir, '--swarm heal --check-interval 300ms --check-retries 2 --terminate-on-stop'))
    try {
      const [lost] = cloud.liveServers()
      const changes: string[] = []
      const watcher = new AbortController()
      const watching = (async () => {
        for await (const reply of requestStream(watched.head, 'Watch', [], { signal: watcher.signal })) {
          if (reply.args[0] === 'synced') continue
          changes.push(`${reply.args[0] ?? ''} ${reply.args[1] ?? ''}`)
          if (changes.length === 3) return
        }
      })().catch(() => {})
      await cloud.cutHost(lost?.id as string)
      await Promise.race([watching, new Promise((resolve) => setTimeout(resolve, 40_000))])
      watcher.abort()
      expect(changes.slice(0, 2)).toEqual([`added ${lost?.name ?? ''}`, `removed ${lost?.name ?? ''}`])
      expect(changes[2]).toMatch(/^added heal-h-/)
      expect(cloud.liveServers()).toHaveLength(1)
      expect(cloud.liveServers()[0]?.id).not.toBe(lost?.id)
      expect((await request(watched.head, 'Ls', [])).args).toEqual([cloud.liveServers()[0]?.name])
    } finally {
      await watched.close()
    }
    expect(cloud.liveServers()).toHaveLength(0)
  })

  it('under aggregate, three servers are three nodes for the docker CLI', async () => {
    const swarm = await front('three', `aggregate --health-interval 500ms "${rackspaceSpec(cloud, state.dir, '--swarm trio --count 3 --terminate-on-stop').replaceAll('"', '\\"')}"`)
    try {
      const names = cloud.liveServers().map((server) => server.name).sort()
      expect(names).toHaveLength(3)
      const info = await docker(swarm.host, ['info', '--format', '{{json .}}'])
      for (const name of names) expect(info).toContain(name)
      for (let index = 0; index < 3; index++) await docker(swarm.host, ['run', '-d', '--name', `web-${index}`, 'busybox', 'sleep', '300'])
      const nodes = await Promise.all([0, 1, 2].map(async (index) => await docker(swarm.host, ['inspect', '-f', '{{.Node.Name}}', `web-${index}`])))
      expect(new Set(nodes).size).toBe(3) // spread placement: one container on each server
      expect(nodes.sort()).toEqual(names)
      expect((await docker(swarm.host, ['ps', '--format', '{{.Names}}'])).split('\n').map((name) => name.replace(/^.*\//, '')).sort()).toEqual(['web-0', 'web-1', 'web-2'])
      expect(await docker(swarm.host, ['logs', 'web-1'])).toBe('')
      await docker(swarm.host, ['rm', '-f', 'web-0', 'web-1', 'web-2'])
      expect(await docker(swarm.host, ['ps', '-aq'])).toBe('')
      if (canRunTests(['docker-compose'])) {
        // docker-compose 1.29 through the same endpoint: as in Classic Swarm, the project's bridge network
        // lives on one server, so all three replicas run there
        const project = join(dir, 'proj')
        mkdirSync(project)
        writeFileSync(join(project, 'docker-compose.yml'), 'version: "2.4"\nservices:\n  web:\n    image: busybox\n    command: sh -c "echo web up; sleep 600"\n    scale: 3\n')
        const compose = async (args: string[]): Promise<string> => await docker(swarm.host, args, { cli: '/usr/bin/docker-compose', cwd: project })
        await compose(['up', '-d'])
        expect(await compose(['ps'])).toMatch(/proj_web_3 .* Up/)
        const placed = await Promise.all([1, 2, 3].map(async (index) => await docker(swarm.host, ['inspect', '-f', '{{.Node.Name}}', `proj_web_${index}`])))
        expect(new Set(placed).size).toBe(1)
        expect(names).toContain(placed[0])
        expect(await compose(['logs', 'web'])).toContain('web up')
        await compose(['down'])
        expect(await docker(swarm.host, ['ps', '-a', '--format', '{{.Names}}'])).not.toContain('proj_')
      }
    } finally {
      await swarm.close()
    }
    expect(cloud.liveServers()).toHaveLength(0)
  })
})
