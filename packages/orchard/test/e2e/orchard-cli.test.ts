import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { aggregate } from '@libswarm/aggregate'
import { spawnChain, type Chain, type Service } from '@libswarm/core'
import { complianceTests } from '@libswarm/core/compliance'
import { createDockerServer, type DockerServer } from '@libswarm/dockerserver'
import { openStateDirectory } from '@libswarm/provision'
import { canRunTests, DOCKER20, DOCKER28, dockerCliOutput, eventually, runDockerCli, startSwarmd } from '@libswarm/test-engine'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { orchard } from '../../src/index.js'
import { startOrchardStandIn, type OrchardStandIn } from '../orchard-stand-in.js'

const services: Record<string, Service> = { aggregate, orchard }
const SWARMD = fileURLToPath(new URL('../../node_modules/@libswarm/swarmd/bin/swarmd.js', import.meta.url))

interface Front { chain: Chain, server: DockerServer, host: string }

let dir = ''
let standIn: OrchardStandIn
let token = ''
const fronts: Front[] = []

function orchardSpec (...rest: string[]): string {
  return `orchard --api ${standIn.url} --token ${token} --ca ${standIn.caFile} ${rest.join(' ')}`
}

async function front (name: string, specs: string[]): Promise<Front> {
  const chain = await spawnChain(specs, { resolve: (service) => services[service] as Service })
  const socket = join(dir, `${name}.sock`)
  const server = createDockerServer({ addresses: [`unix://${socket}`], next: chain.head, closeTimeoutMs: 2000 })
  await server.start()
  const made = { chain, server, host: `unix://${socket}` }
  fronts.push(made)
  return made
}

async function shut (made: Front): Promise<void> {
  fronts.splice(fronts.indexOf(made), 1)
  await made.server.close().catch(() => {})
  await made.chain.close().catch(() => {})
}

async function docker (host: string, args: string[], cli = DOCKER28): Promise<{ code: number, stdout: string, stderr: string }> {
  return await runDockerCli(host, args, { home: dir, cli })
}

async function ok (host: string, args: string[], cli = DOCKER28): Promise<string> {
  return await dockerCliOutput(host, args, { home: dir, cli })
}

describe.runIf(canRunTests())('orchard hosts driven by the docker CLI (API stand-in, private dockerd over mutual TLS)', () => {
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'orchard-e2e-'))
    standIn = await startOrchardStandIn()
    token = standIn.issueToken()
    await standIn.addHost('alpha')
  }, 120_000)

  afterAll(async () => {
    for (const made of [...fronts]) await shut(made)
    await standIn?.close()
    await rm(dir, { recursive: true, force: true })
  }, 120_000)

  it('is one host\'s engine through orchard alone, with both CLIs', async () => {
    const alpha = await front('alpha', [orchardSpec('alpha')])
    for (const cli of [DOCKER28, DOCKER20]) {
      expect(await ok(alpha.host, ['info', '--format', '{{.Name}}'], cli)).toBe('alpha')
    }
    expect(await ok(alpha.host, ['run', '--rm', 'busybox', 'echo', 'hello from orchard'])).toBe('hello from orchard')
    await ok(alpha.host, ['run', '-d', '--name', 'web', 'busybox', 'sleep', '300'])
    expect(await ok(alpha.host, ['ps', '--format', '{{.Names}} {{.Status}}'])).toMatch(/^web Up /)
    const missing = await docker(alpha.host, ['inspect', 'nothing-here'])
    expect(missing.code).toBe(1)
    expect(missing.stderr).toContain('No such object: nothing-here')
    await ok(alpha.host, ['rm', '-f', 'web'])
    await shut(alpha)
  })

  it('refuses an engine whose certificate the given CA did not sign', async () => {
    const other = await openStateDirectory(join(dir, 'other-ca'))
    const spec = orchardSpec('--connect-timeout', '2s', 'alpha').replace(standIn.caFile, join(other.dir, 'ca.pem'))
    await expect(spawnChain([spec], { resolve: (service) => services[service] as Service })).rejects.toThrow(/^orchard host alpha \(127\.\d+\.\d+\.\d+:4243\): its engine did not answer over TLS within 2 s \(last: .*certificate/)
  })

  it('creates a missing host with --create --size, and --remove-on-stop deletes it', async () => {
    const created = await front('created', [orchardSpec('--create', '--size', '1G', '--remove-on-stop', 'beta')])
    expect(standIn.requests).toContain('POST /hosts')
    expect(standIn.hosts.get('beta')?.size).toBe(1024)
    expect(await ok(created.host, ['info', '--format', '{{.Name}}'])).toBe('beta')
    expect(await ok(created.host, ['run', '--rm', 'busybox', 'hostname'])).not.toBe('')
    await shut(created)
    expect(standIn.requests).toContain('DELETE /hosts/beta')
    expect(standIn.hosts.has('beta')).toBe(false)
    // a host it found, it never deletes
    const found = await front('found', [orchardSpec('--remove-on-stop', 'alpha')])
    await shut(found)
    expect(standIn.hosts.has('alpha')).toBe(true)
  })

  it('is two nodes under aggregate, which schedules across them', async () => {
    await standIn.addHost('gamma')
    const swarm = await front('swarm', [`aggregate --health-interval 1s "${orchardSpec('alpha', 'gamma')}"`])
    const info = await ok(swarm.host, ['info'])
    expect(info).toMatch(/ Nodes: 2\n/)
    expect(info).toMatch(/ {2}alpha: 127\.\d+\.\d+\.\d+:4243\n/)
    expect(info).toMatch(/ {2}gamma: 127\.\d+\.\d+\.\d+:4243\n/)
    for (const name of ['s1', 's2']) await ok(swarm.host, ['run', '-d', '--name', name, 'busybox', 'sleep', '300'])
    const names = (await ok(swarm.host, ['ps', '--format', '{{.Names}}'])).split('\n').sort()
    expect(names.map((name) => name.split('/')[0])).toEqual(['alpha', 'gamma'])
    expect(await ok(swarm.host, ['exec', 's1', 'echo', 'in s1'])).toBe('in s1')
    await ok(swarm.host, ['rm', '-f', 's1', 's2'])
    await shut(swarm)
  })

  it('runs in the real swarmd by its package name, under aggregate', async () => {
    // swarmd finds a third-party service as an installed package of its working directory
    const cwd = join(dir, 'swarmd')
    const socket = join(dir, 'swarmd.sock')
    const spec = orchardSpec('alpha', 'gamma').replace(/^orchard /, '@libswarm/orchard ')
    await using swarmd = await startSwarmd({ bin: SWARMD, cwd, args: [`dockerserver unix://${socket}`, `aggregate --health-interval 1s "${spec}"`], packages: { '@libswarm/orchard': fileURLToPath(new URL('../..', import.meta.url)) } })
    const info = await eventually(async () => (await docker(`unix://${socket}`, ['info'])).stdout, (text) => text.includes('Nodes: 2') || swarmd.process.exitCode !== null, { attempts: 60 })
    expect(info, swarmd.log()).toMatch(/ {2}alpha: 127\.\d+\.\d+\.\d+:4243\n/)
    expect(info).toMatch(/ {2}gamma: 127\.\d+\.\d+\.\d+:4243\n/)
    expect(await ok(`unix://${socket}`, ['run', '--rm', 'busybox', 'echo', 'through swarmd'])).toBe('through swarmd')
  })

  describe('compliance (one orchard host)', () => {
    // the stand-in is there once the tests run
    const tests = complianceTests({ service: { ...orchard, spawn: async (args, context) => await orchard.spawn([...orchardSpec('alpha').split(' ').slice(1), ...args], context) }, streams: [{ verb: 'Watch' }] })
    for (const test of tests) it(test.name, test.run)
  })
})
