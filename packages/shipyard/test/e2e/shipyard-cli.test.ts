import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { aggregate } from '@libswarm/aggregate'
import { spawnChain, type Chain, type Service } from '@libswarm/core'
import { complianceTests } from '@libswarm/core/compliance'
import { createDockerServer, type DockerServer } from '@libswarm/dockerserver'
import { openStateDirectory } from '@libswarm/provision'
import { canRunTests, DOCKER20, DOCKER28, dockerCliOutput, eventually, freePort, rejectionOf, runDockerCli, startSwarmd } from '@libswarm/test-engine'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ShipyardApi, shipyard, type ShipyardEngine } from '../../src/index.js'
import { startShipyardStandIn, type ShipyardStandIn } from '../shipyard-stand-in.js'

const services: Record<string, Service> = { aggregate, shipyard }
const SWARMD = fileURLToPath(new URL('../../node_modules/@libswarm/swarmd/bin/swarmd.js', import.meta.url))

interface Front { chain: Chain, server: DockerServer, host: string }

let dir = ''
let standIn: ShipyardStandIn
let serviceKey = ''
const fronts: Front[] = []

async function front (name: string, specs: string[]): Promise<Front> {
  const chain = await spawnChain(specs, { resolve: (service) => services[service] as Service })
  const socket = join(dir, `${name}.sock`)
  const server = createDockerServer({ addresses: [`unix://${socket}`], next: chain.head, closeTimeoutMs: 2000 })
  await server.start()
  const made = { chain, server, host: `unix://${socket}` }
  fronts.push(made)
  return made
}

async function docker (host: string, args: string[], cli = DOCKER28, timeout = 30_000): Promise<{ code: number, stdout: string, stderr: string }> {
  return await runDockerCli(host, args, { home: dir, cli, timeoutMs: timeout })
}

async function ok (host: string, args: string[], cli = DOCKER28): Promise<string> {
  return await dockerCliOutput(host, args, { home: dir, cli })
}

async function refusal (specs: string[]): Promise<{ code: string, message: string }> {
  return await rejectionOf((async () => {
    const chain = await spawnChain(specs, { resolve: (service) => services[service] as Service })
    await chain.close()
  })())
}

describe.runIf(canRunTests())('shipyard driven by the docker CLI (v2 API stand-in over two private dockerd)', () => {
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'shipyard-e2e-'))
    standIn = await startShipyardStandIn()
    standIn.addAccount('admin', 'shipyard', 'admin')
    standIn.addAccount('ops', 'ops-pass', 'user')
    standIn.addAccount('guest', 'guest-pass', 'guest')
    serviceKey = standIn.issueServiceKey()
    await Promise.all([standIn.addEngine('e1', ['zone=a']), standIn.addEngine('e2', ['zone=b'])])
  }, 120_000)

  afterAll(async () => {
    for (const made of fronts) {
      await made.server.close().catch(() => {})
      await made.chain.close().catch(() => {})
    }
    await standIn?.close()
    await rm(dir, { recursive: true, force: true })
  }, 120_000)

  it('maps info, run -d, ps, inspect, logs, stop, restart, rm and events onto Shipyard\'s API', async () => {
    const mapped = await front('mapped', [`shipyard ${standIn.url} --user admin --password shipyard`])
    const since = String(Math.floor(Date.now() / 1000) - 1)
    const info = await ok(mapped.host, ['info'])
    expect(info).toMatch(/ Nodes: 2\n/)
    expect(info).toMatch(/ {2}e1: 127\.0\.0\.1:\d+\n/)
    expect(info).toMatch(/└ Labels: zone=b\n/)
    const port = await freePort()
    const id = await ok(mapped.host, ['run', '-d', '--name', 'web', '-e', 'GREETING=hello from shipyard', '-p', `${port}:80`, '-l', 'tier=front', '--restart', 'always', '--cpus', '0.5', '-m', '64m', 'busybox', 'sh', '-c', 'trap "exit 0" TERM; echo $GREETING; sleep 300 & wait'])
    expect(id).toMatch(/^[0-9a-f]{64}$/)
    expect(await ok(mapped.host, ['ps', '--format', '{{.Names}} {{.Image}} {{.Labels}} {{.Ports}}'])).toMatch(new RegExp(`^web busybox tier=front 0\\.0\\.0\\.0:${port}->80/tcp`))
    for (const cli of [DOCKER28, DOCKER20]) {
      expect(await ok(mapped.host, ['inspect', '-f', '{{.State.Running}} {{index .Config.Env 0}} {{.HostConfig.RestartPolicy.Name}} {{.HostConfig.Memory}} {{.HostConfig.NanoCpus}}', 'web'], cli)).toBe('true GREETING=hello from shipyard always 67108864 500000000')
    }
    // the container echoes once it runs, which may be just after run -d returned
    expect(await eventually(async () => await ok(mapped.host, ['logs', 'web']), (text) => text !== '')).toBe('hello from shipyard')
    await ok(mapped.host, ['stop', 'web'])
    expect(await ok(mapped.host, ['inspect', '-f', '{{.State.Running}}', 'web'])).toBe('false')
    expect(await ok(mapped.host, ['ps', '-a', '--filter', 'status=exited', '--format', '{{.Names}}'])).toBe('web')
    await ok(mapped.host, ['start', 'web'])
    await ok(mapped.host, ['restart', 'web'])
    expect(await ok(mapped.host, ['inspect', '-f', '{{.State.Running}}', 'web'])).toBe('true')
    const running = await docker(mapped.host, ['rm', 'web'])
    expect(running.code).not.toBe(0)
    expect(running.stderr).toContain('container is running')
    await ok(mapped.host, ['rm', '-f', 'web'])
    expect(await ok(mapped.host, ['ps', '-a', '--format', '{{.Names}}'])).toBe('')
    const events = await ok(mapped.host, ['events', '--since', since, '--until', String(Math.floor(Date.now() / 1000) + 1)])
    expect(events).toMatch(new RegExp(`container start ${id} \\(image=busybox, name=web, node\\.name=e[12]\\)`))
    expect(events).toMatch(new RegExp(`container destroy ${id} `))
  })

  it('follows docker events by reading Shipyard\'s event list again', async () => {
    const mapped = await front('events', [`shipyard ${standIn.url} --service-key ${serviceKey}`])
    const since = String(Math.floor(Date.now() / 1000))
    const following = docker(mapped.host, ['events', '--since', since, '--filter', 'event=start', '--filter', 'container=followed'], DOCKER28, 6000)
    await new Promise((resolve) => setTimeout(resolve, 1000))
    await ok(mapped.host, ['run', '-d', '--name', 'followed', 'busybox', 'sleep', '300'])
    await ok(mapped.host, ['run', '-d', '--name', 'other', 'busybox', 'sleep', '300'])
    const seen = await following
    expect(seen.stdout).toMatch(/container start [0-9a-f]{64} \(image=busybox, name=followed, node\.name=e[12]\)\n$/)
    await ok(mapped.host, ['rm', '-f', 'followed', 'other'])
  })

  it('answers NOT_IMPLEMENTED, naming what Shipyard lacks, for the rest', async () => {
    const mapped = await front('limits', [`shipyard ${standIn.url} --service-key ${serviceKey}`])
    const images = await docker(mapped.host, ['images'])
    expect(images.code).not.toBe(0)
    expect(images.stderr).toContain('shipyard: ImageList cannot be done through Shipyard: its API has containers (list, inspect, run, stop, restart, destroy, logs, scale), engines, events and cluster info')
    const volume = await docker(mapped.host, ['run', '-d', '-v', '/tmp:/data', 'busybox', 'true'])
    expect(volume.stderr).toContain('shipyard: Shipyard\'s image (citadel) has no volumes or mounts')
    const missing = await docker(mapped.host, ['logs', 'nothing'])
    expect(missing.stderr).toContain('shipyard: GET /api/containers/nothing answered 500: container nothing not found')
    await ok(mapped.host, ['run', '-d', '--name', 'follow', 'busybox', 'sleep', '300'])
    const follow = await docker(mapped.host, ['logs', '-f', 'follow'])
    expect(follow.stderr).toContain('shipyard: Shipyard\'s logs endpoint answers the log so far; it cannot follow (--follow)')
    await ok(mapped.host, ['rm', '-f', 'follow'])
    expect(await ok(mapped.host, ['ps', '-a', '--format', '{{.Names}}'])).toBe('')
  })

  it('refuses a bad token and a role Shipyard denies, and lets the user role through', async () => {
    expect(await refusal([`shipyard ${standIn.url} --user admin --token not-a-token`])).toEqual({ code: 'UNAUTHORIZED', message: 'shipyard: GET /api/containers answered 401: unauthorized' })
    expect(await refusal([`shipyard ${standIn.url} --user admin --password wrong`])).toEqual({ code: 'FORBIDDEN', message: 'shipyard: POST /auth/login answered 403: invalid username/password' })
    expect(await refusal([`shipyard ${standIn.url} --user guest --password guest-pass`])).toEqual({ code: 'FORBIDDEN', message: 'shipyard: GET /api/containers answered 403: access denied' })
    expect(await refusal([`shipyard ${standIn.url} --service-key wrong --engines`])).toEqual({ code: 'UNAUTHORIZED', message: 'shipyard: GET /api/engines answered 401: unauthorized' })
    const ops = await front('ops', [`shipyard ${standIn.url} --user ops --password ops-pass`])
    expect(await ok(ops.host, ['ps', '--format', '{{.Names}}'], DOCKER20)).toBe('')
  })

  it('with --engines, is one node per Shipyard engine under aggregate, with the whole Docker API', async () => {
    // an engine whose ca_cert did not sign its certificate is left out
    const api = new ShipyardApi(standIn.url, { serviceKey })
    const e1 = await api.json<ShipyardEngine>('GET', '/api/engines/e1')
    const other = await openStateDirectory(join(dir, 'other-ca'))
    await api.text('POST', '/api/engines', { body: { ...e1, ca_cert: other.caCert, engine: { ...e1.engine, id: 'forged' } } })
    const swarm = await front('swarm', [`aggregate --health-interval 1s "shipyard ${standIn.url} --service-key ${serviceKey} --engines --engines-interval 300ms --connect-timeout 1s"`])
    await api.text('DELETE', '/api/engines/forged')
    const info = await ok(swarm.host, ['info'])
    expect(info).toMatch(/ Nodes: 2\n/)
    expect(info).toMatch(/ {2}e1: 127\.0\.0\.1:\d+\n/)
    expect(info).toMatch(/ {2}e2: 127\.0\.0\.1:\d+\n/)
    for (const name of ['a1', 'a2']) await ok(swarm.host, ['run', '-d', '--name', name, 'busybox', 'sleep', '300'])
    const names = (await ok(swarm.host, ['ps', '--format', '{{.Names}}'])).split('\n').sort()
    expect(names.map((name) => name.split('/')[0])).toEqual(['e1', 'e2'])
    expect(await ok(swarm.host, ['exec', 'a1', 'echo', 'exec works'])).toBe('exec works')
    expect(await ok(swarm.host, ['images', '--format', '{{.Repository}}'])).toContain('busybox')
    await ok(swarm.host, ['rm', '-f', 'a1', 'a2'])
    // engines removed from and added to Shipyard are dropped and added as nodes
    const e2 = await api.json<ShipyardEngine>('GET', '/api/engines/e2')
    await api.text('DELETE', '/api/engines/e2')
    expect(await eventually(async () => await ok(swarm.host, ['info']), (text) => / Nodes: 1\n/.test(text))).not.toMatch(/ {2}e2: /)
    await api.text('POST', '/api/engines', { body: e2 })
    expect(await eventually(async () => await ok(swarm.host, ['info']), (text) => / Nodes: 2\n/.test(text))).toMatch(/ {2}e2: 127\.0\.0\.1:\d+\n/)
  })

  it('runs in the real swarmd by its package name', async () => {
    // swarmd finds a third-party service as an installed package of its working directory
    const cwd = join(dir, 'swarmd')
    const socket = join(dir, 'swarmd.sock')
    await using swarmd = await startSwarmd({ bin: SWARMD, cwd, args: [`dockerserver unix://${socket}`, `@libswarm/shipyard ${standIn.url} --user ops --password ops-pass`], packages: { '@libswarm/shipyard': fileURLToPath(new URL('../..', import.meta.url)) } })
    const info = await eventually(async () => (await docker(`unix://${socket}`, ['info'])).stdout, (text) => text.includes('Nodes: 2') || swarmd.process.exitCode !== null, { attempts: 60 })
    expect(info, swarmd.log()).toMatch(/ Nodes: 2\n/)
    await ok(`unix://${socket}`, ['run', '-d', '--name', 'via-swarmd', 'busybox', 'sleep', '300'])
    expect(await ok(`unix://${socket}`, ['ps', '--format', '{{.Names}}'])).toBe('via-swarmd')
    await ok(`unix://${socket}`, ['rm', '-f', 'via-swarmd'])
  })

  describe('compliance (mapped, and --engines)', () => {
    for (const engines of [false, true]) {
      const tests = complianceTests({
        service: { ...shipyard, spawn: async (args, context) => await shipyard.spawn([standIn.url, '--service-key', serviceKey, ...(engines ? ['--engines'] : []), ...args], context) },
        streams: engines ? [{ verb: 'Watch' }] : []
      })
      for (const test of tests) it(`${engines ? '--engines: ' : ''}${test.name}`, test.run)
    }
  })
})
