import { execFile } from 'node:child_process'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { spawnChain, type Chain, type Service } from '@libswarm/core'
import { dockerclient } from '@libswarm/dockerclient'
import { createDockerServer, type DockerServer } from '@libswarm/dockerserver'
import { canRunTests, DOCKER20, DOCKER28, startEngine, writeComposeProject, type Engine } from '@libswarm/test-engine'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { aggregate } from '../../src/index.js'

const services: Record<string, Service> = { aggregate, dockerclient }

interface Front { chain: Chain, server: DockerServer, host: string }

let dir = ''
let engines: Engine[] = []
let spread: Front
let binpack: Front

async function front (name: string, args: string): Promise<Front> {
  const chain = await spawnChain([`aggregate ${args} --health-interval 500ms --health-timeout 2s ${engines.map((engine, index) => `--name node-${index}="dockerclient ${engine.tcpHost ?? ''}"`).join(' ')}`], {
    resolve: (service) => services[service] as Service
  })
  const socket = join(dir, `${name}.sock`)
  const server = createDockerServer({ addresses: [`unix://${socket}`], next: chain.head, closeTimeoutMs: 2000 })
  await server.start()
  return { chain, server, host: `unix://${socket}` }
}

interface Run { code: number, stdout: string, stderr: string }

async function cli (host: string, args: string[], options: { cli?: string, input?: string, cwd?: string, timeoutMs?: number } = {}): Promise<Run> {
  return await new Promise((resolve) => {
    const child = execFile(options.cli ?? DOCKER28, args, {
      env: { PATH: process.env.PATH, HOME: dir, DOCKER_HOST: host, DOCKER_CONFIG: join(dir, 'cli'), DOCKER_BUILDKIT: '0' },
      cwd: options.cwd ?? dir,
      timeout: options.timeoutMs ?? 30_000
    }, (error, stdout, stderr) => {
      resolve({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : 1, stdout: stdout.toString(), stderr: stderr.toString() })
    })
    child.stdin?.end(options.input)
  })
}

async function ok (host: string, args: string[], options?: Parameters<typeof cli>[2]): Promise<string> {
  const result = await cli(host, args, options)
  if (result.code !== 0) throw new Error(`docker ${args.join(' ')} failed (${result.code}): ${result.stderr}`)
  return result.stdout.trim()
}

async function nodeOf (ref: string): Promise<string> {
  return await ok(spread.host, ['inspect', '-f', '{{.Node.Name}}', ref])
}

describe.runIf(canRunTests())('aggregate over three private dockerd, driven by the docker CLI', () => {
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'aggregate-e2e-'))
    engines = await Promise.all([
      startEngine({ name: 'node-0', labels: { storage: 'ssd' }, tcp: true }),
      startEngine({ name: 'node-1', labels: { storage: 'disk' }, tcp: true }),
      startEngine({ name: 'node-2', tcp: true })
    ])
    spread = await front('spread', '')
    binpack = await front('binpack', '--strategy binpack')
  }, 120_000)

  afterAll(async () => {
    for (const each of [spread, binpack]) {
      await each?.server.close().catch(() => {})
      await each?.chain.close().catch(() => {})
    }
    await Promise.all(engines.map(async (engine) => { await engine.close().catch(() => {}) }))
    await rm(dir, { recursive: true, force: true })
  }, 120_000)

  it('shows every node in docker info, with both CLIs', async () => {
    for (const binary of [DOCKER28, DOCKER20]) {
      const info = await ok(spread.host, ['info'], { cli: binary })
      expect(info).toMatch(/ Nodes: 3\n/)
      for (const [index, engine] of engines.entries()) {
        expect(info).toContain(`  node-${index}: ${(engine.tcpHost ?? '').replace('tcp://', '')}\n`)
      }
      expect(info).toMatch(/└ Status: Healthy/)
      expect(info).toMatch(/└ Labels: kernelversion=[^\n]*, storage=ssd, storagedriver=/)
      expect(info).toMatch(/└ Reserved Memory: 0 B \/ /)
      expect(info).toMatch(/ Strategy: spread\n/)
    }
  })

  it('spreads containers over the nodes, and binpack keeps them together', async () => {
    const since = String(Math.floor(Date.now() / 1000) - 1)
    for (const name of ['s1', 's2', 's3']) await ok(spread.host, ['run', '-d', '--name', name, 'busybox', 'sleep', '600'])
    const names = (await ok(spread.host, ['ps', '--format', '{{.Names}}', '--filter', 'name=s[123]'])).split('\n').sort()
    expect(names.map((name) => name.split('/')[0]).sort()).toEqual(['node-0', 'node-1', 'node-2'])
    expect(names.map((name) => name.split('/')[1]).sort()).toEqual(['s1', 's2', 's3'])
    const onNode1 = await ok(spread.host, ['ps', '--format', '{{.Names}}', '--filter', 'node=node-1'])
    expect(onNode1.split('\n').every((name) => name.startsWith('node-1/'))).toBe(true)
    const qualified = names.find((name) => name.endsWith('/s1')) as string
    expect(await ok(spread.host, ['inspect', '--format', '{{.Name}} {{.State.Running}}', qualified])).toBe('/s1 true')
    expect(await ok(spread.host, ['stop', '-t', '0', qualified])).toBe(qualified)
    expect(await ok(spread.host, ['inspect', '--format', '{{.State.Running}}', qualified])).toBe('false')
    await ok(spread.host, ['start', qualified])
    for (const name of ['b1', 'b2']) await ok(binpack.host, ['create', '--name', name, 'busybox', 'true'])
    expect(await nodeOf('b1')).toBe(await nodeOf('b2'))
    const events = await ok(spread.host, ['events', '--since', since, '--until', String(Math.floor(Date.now() / 1000) + 1), '--filter', 'event=start'])
    for (const name of ['s1', 's2', 's3']) expect(events).toMatch(new RegExp(`container start [0-9a-f]{64} \\(.*name=${name}, node\\.addr=127\\.0\\.0\\.1:\\d+, node\\.id=[^,]*, node\\.ip=127\\.0\\.0\\.1, node\\.name=node-\\d\\)`))
  })

  it('places by constraint, affinity, dependency and port, and says why when it cannot', async () => {
    await ok(spread.host, ['create', '--name', 'ssd', '-e', 'constraint:storage==ssd', 'busybox', 'true'])
    expect(await nodeOf('ssd')).toBe('node-0')
    await ok(spread.host, ['create', '--name', 'notssd', '-l', 'com.docker.swarm.constraints=["storage!=ssd","node==/node-[12]/"]', 'busybox', 'true'])
    expect(['node-1', 'node-2']).toContain(await nodeOf('notssd'))
    await ok(spread.host, ['create', '--name', 'near', '-e', 'affinity:container==s2', 'busybox', 'true'])
    expect(await nodeOf('near')).toBe(await nodeOf('s2'))
    await ok(spread.host, ['create', '--name', 'dep', '--volumes-from', 's3', 'busybox', 'true'])
    expect(await nodeOf('dep')).toBe(await nodeOf('s3'))
    const env = await ok(spread.host, ['inspect', '-f', '{{json .Config.Env}} {{index .Config.Labels "com.docker.swarm.constraints"}}', 'ssd'])
    expect(env).not.toContain('constraint:')
    expect(env).toContain('["storage==ssd"]')

    const nowhere = await cli(spread.host, ['run', '-d', '-e', 'constraint:node==node-9', 'busybox', 'true'])
    expect(nowhere.code).not.toBe(0)
    expect(nowhere.stderr).toContain('Unable to find a node that satisfies the following conditions [node==node-9]')
    const noImage = await cli(spread.host, ['create', '-e', 'affinity:image==redis', 'busybox', 'true'])
    expect(noImage.stderr).toContain('[image==redis]')
    const split = await cli(spread.host, ['create', '--volumes-from', 's1', '--link', 's2:other', 'busybox', 'true'])
    expect(split.stderr).toContain('Unable to find a node fulfilling all dependencies: --volumes-from=s1 --link=s2')
    const tooBig = await cli(spread.host, ['create', '-m', '100000g', 'busybox', 'true'])
    expect(tooBig.stderr).toContain('no resources available to schedule container')

    const portNodes: string[] = []
    for (const name of ['p1', 'p2', 'p3']) {
      await ok(spread.host, ['create', '--name', name, '-p', '18080:80', 'busybox', 'true'])
      portNodes.push(await nodeOf(name))
    }
    expect(portNodes.sort()).toEqual(['node-0', 'node-1', 'node-2'])
    const clash = await cli(spread.host, ['create', '--name', 'p4', '-p', '18080:80', 'busybox', 'true'])
    expect(clash.stderr).toContain('Unable to find a node that satisfies the following conditions [port 18080 (Bridge mode)]')
  })

  it('routes logs, exec, attach, cp and rm to the node that holds the container', async () => {
    const out = await ok(spread.host, ['run', '--name', 'talk', 'busybox', 'echo', 'hello from talk'])
    expect(out).toBe('hello from talk')
    expect(await ok(spread.host, ['logs', 'talk'])).toBe('hello from talk')
    const node = await nodeOf('s1')
    expect(await ok(spread.host, ['exec', 's1', 'hostname'])).toBe((await ok(spread.host, ['inspect', '-f', '{{.Id}}', 's1'])).slice(0, 12))
    expect(await ok(spread.host, ['exec', `${node}/s1`, 'sh', '-c', 'echo exec ok'])).toBe('exec ok')
    // attach: stdin in, stdout back, through the hijacked connection of the right node
    expect(await ok(spread.host, ['run', '-i', '--rm', 'busybox', 'cat'], { input: 'attached stdin\n' })).toBe('attached stdin')
    await writeFile(join(dir, 'in.txt'), 'copied in\n')
    await ok(spread.host, ['cp', join(dir, 'in.txt'), 's2:/tmp/in.txt'])
    expect(await ok(spread.host, ['exec', 's2', 'cat', '/tmp/in.txt'])).toBe('copied in')
    await ok(spread.host, ['cp', 's2:/tmp/in.txt', join(dir, 'out.txt')])
    expect(await readFile(join(dir, 'out.txt'), 'utf8')).toBe('copied in\n')
    await ok(spread.host, ['rm', '-f', 'talk'])
    expect(await ok(spread.host, ['ps', '-a', '--format', '{{.Names}}'])).not.toMatch(/\/talk$/m)
    const engine = engines[Number(node.slice('node-'.length))] as Engine
    expect((await engine.docker(['ps', '--format', '{{.Names}}'])).stdout).toMatch(/^s1$/m)
  })

  it.runIf(canRunTests(['docker-compose']))('runs a docker-compose project on the node of its network', async () => {
    const project = await writeComposeProject(dir)
    const compose = async (args: string[]): Promise<string> => await ok(spread.host, args, { cli: '/usr/bin/docker-compose', cwd: project, timeoutMs: 90_000 })
    await compose(['up', '-d'])
    const ps = await compose(['ps'])
    expect(ps).toMatch(/proj_web_1 .* Up/)
    expect(ps).toMatch(/proj_worker_2 .* Up/)
    // as with classic Swarm, the project's bridge network is on one node, and its containers join it there
    const nodes = new Set(await Promise.all(['proj_web_1', 'proj_worker_1', 'proj_worker_2'].map(nodeOf)))
    const networkNode = (await ok(spread.host, ['network', 'ls', '--filter', 'name=proj_default', '--format', '{{.Name}}'])).split('/')[0]
    expect([...nodes]).toEqual([networkNode])
    expect(await compose(['logs', 'worker'])).toContain('worker up')
    await compose(['down'])
    expect(await ok(spread.host, ['ps', '-a', '--format', '{{.Names}}'])).not.toContain('proj_')
    expect(await ok(spread.host, ['network', 'ls', '--format', '{{.Name}}'])).not.toContain('proj_default')
  })

  it('drops a killed engine at once and takes it back after a restart', async () => {
    const victim = engines[2] as Engine
    await ok(spread.host, ['run', '-d', '--name', 'onvictim', '-e', 'constraint:node==node-2', 'busybox', 'sleep', '600'])
    await victim.kill()
    // the event stream breaks at once; give the health check a moment at most
    let listed = ''
    const deadline = Date.now() + 5000
    do {
      const started = Date.now()
      listed = await ok(spread.host, ['ps', '--format', '{{.Names}}'])
      expect(Date.now() - started).toBeLessThan(2000)
    } while (listed.includes('node-2/') && Date.now() < deadline)
    expect(listed).not.toContain('node-2/')
    expect(listed).toContain('node-0/')
    const logs = await cli(spread.host, ['logs', 'onvictim'])
    expect(logs.code).not.toBe(0)
    expect(logs.stderr).toMatch(/Container (onvictim|[0-9a-f]{64}) running on unhealthy node node-2 /)
    expect(await ok(spread.host, ['info'])).toMatch(/node-2: [^\n]+\n   └ ID: [^\n]*\n   └ Status: Unhealthy/)
    const elsewhere = await ok(spread.host, ['run', '-d', '--name', 'meanwhile', 'busybox', 'sleep', '600'])
    expect(elsewhere).toMatch(/^[0-9a-f]{64}$/)
    expect(await nodeOf('meanwhile')).not.toBe('node-2')

    await victim.restart()
    const back = Date.now() + 30_000
    // while node-2 is down, ps -a lists onvictim as Host Down: back, it is listed with its state
    while (!/^node-2\/onvictim\t(?!Host Down)/m.test(await ok(spread.host, ['ps', '-a', '--format', '{{.Names}}\t{{.Status}}']))) {
      if (Date.now() > back) throw new Error('node-2 did not rejoin')
      await new Promise((resolve) => setTimeout(resolve, 250))
    }
    await ok(spread.host, ['start', 'onvictim'])
    expect(await ok(spread.host, ['ps', '--format', '{{.Names}}', '--filter', 'node=node-2'])).toContain('node-2/onvictim')
  }, 90_000)
})
