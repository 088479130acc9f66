import { execFile, spawn } from 'node:child_process'
import { mkdir, mkdtemp, rm, symlink } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { spawnChain, type Chain, type Service, type ServiceInstance } from '@libswarm/core'
import { createDockerClient, dockerclient } from '@libswarm/dockerclient'
import { createDockerServer, type DockerServer } from '@libswarm/dockerserver'
import { DOCKER28, startEngine, type Engine } from '@libswarm/test-engine'
import { mesos } from '../../src/index.js'
import { StandInMaster, type StandInOptions } from './stand-in-master.js'

export interface Stand {
  dir: string
  engines: Engine[]
  agentClients: ServiceInstance[]
  master: StandInMaster
  close: () => Promise<void>
}

/** Private engines as agents, and a stand-in master offering them. */
export async function startStand (count: number, options: StandInOptions = {}, attributes: (engine: Engine, index: number) => Record<string, string> = (_engine, index) => ({ zone: `zone-${index + 1}` })): Promise<Stand> {
  const dir = await mkdtemp(join(tmpdir(), 'mesos-e2e-'))
  const engines = await Promise.all(Array.from({ length: count }, async (_value, index) => await startEngine({ name: `agent-${index + 1}`, tcp: true })))
  const agentClients = engines.map((engine) => createDockerClient({ address: engine.host }))
  const master = new StandInMaster(engines.map((engine, index) => ({
    hostname: engine.name, cpus: 2, mem: 2048, ports: [[31000 + index * 100, 31000 + index * 100 + 99]], attributes: attributes(engine, index), engine: agentClients[index] as ServiceInstance
  })), { heartbeatSeconds: 0.5, ...options })
  await master.start()
  return {
    dir,
    engines,
    agentClients,
    master,
    close: async () => {
      await master.close().catch(() => {})
      await Promise.all(agentClients.map(async (client) => { await client.close() }))
      await Promise.all(engines.map(async (engine) => { await engine.close().catch(() => {}) }))
      await rm(dir, { recursive: true, force: true })
    }
  }
}

export interface Front { chain: Chain, server: DockerServer, host: string, close: () => Promise<void> }

const services: Record<string, Service> = { mesos, dockerclient }

/** `dockerserver unix://… | mesos --master … "dockerclient …" …`, as swarmd would chain it. */
export async function startFront (stand: Stand, extra = '', name = 'swarm', withChildren = true): Promise<Front> {
  const children = withChildren ? stand.engines.map((engine) => `"dockerclient ${engine.host}"`).join(' ') : ''
  const chain = await spawnChain([`mesos --master ${stand.master.url} --offer-timeout 5 --heartbeat-misses 3 ${extra} ${children}`], { resolve: (service) => services[service] as Service })
  const socket = join(stand.dir, `${name}.sock`)
  const server = createDockerServer({ addresses: [`unix://${socket}`], next: chain.head, closeTimeoutMs: 2000 })
  await server.start()
  return {
    chain,
    server,
    host: `unix://${socket}`,
    close: async () => {
      await server.close().catch(() => {})
      await chain.close().catch(() => {})
    }
  }
}

export interface Run { code: number, stdout: string, stderr: string }

export async function cli (dir: string, host: string, args: string[], options: { cli?: string, timeoutMs?: number } = {}): Promise<Run> {
  return await new Promise((resolve) => {
    execFile(options.cli ?? DOCKER28, args, {
      env: { PATH: process.env.PATH, HOME: dir, DOCKER_HOST: host, DOCKER_CONFIG: join(dir, 'cli') },
      timeout: options.timeoutMs ?? 30_000
    }, (error, stdout, stderr) => {
      resolve({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : 1, stdout: stdout.toString(), stderr: stderr.toString() })
    })
  })
}

export async function ok (dir: string, host: string, args: string[], options?: Parameters<typeof cli>[3]): Promise<string> {
  const result = await cli(dir, host, args, options)
  if (result.code !== 0) throw new Error(`docker ${args.join(' ')} failed (${result.code}): ${result.stderr}`)
  return result.stdout.trim()
}

export async function until (what: string, test: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await test())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

const SWARMD = fileURLToPath(new URL('../../node_modules/@libswarm/swarmd/bin/swarmd.js', import.meta.url))
const PACKAGE_DIR = fileURLToPath(new URL('../..', import.meta.url))

/**
 * The real swarmd command, in a directory where `@libswarm/mesos` is installed (a link to this
 * package), so that swarmd finds the service by its package name as it would for a user:
 * `swarmd 'dockerserver unix://…' '@libswarm/mesos --master … "dockerclient …" …'`.
 */
export async function startSwarmd (stand: Stand, extra = '', name = 'swarmd'): Promise<Front> {
  const cwd = join(stand.dir, `${name}-install`)
  await mkdir(join(cwd, 'node_modules', '@libswarm'), { recursive: true })
  await symlink(PACKAGE_DIR, join(cwd, 'node_modules', '@libswarm', 'mesos'))
  const socket = join(stand.dir, `${name}.sock`)
  const children = stand.engines.map((engine) => `"dockerclient ${engine.host}"`).join(' ')
  const child = spawn(process.execPath, [SWARMD, `dockerserver unix://${socket}`, `@libswarm/mesos --master ${stand.master.url} --offer-timeout 5 ${extra} ${children}`], { cwd, stdio: ['ignore', 'pipe', 'pipe'] })
  let output = ''
  child.stdout.on('data', (chunk: Buffer) => { if (output.length < 100_000) output += chunk.toString() })
  child.stderr.on('data', (chunk: Buffer) => { if (output.length < 100_000) output += chunk.toString() })
  const exited = new Promise<void>((resolve) => { child.once('exit', () => { resolve() }) })
  const host = `unix://${socket}`
  try {
    await until('swarmd to answer', async () => {
      if (child.exitCode !== null) throw new Error(`swarmd exited ${child.exitCode}: ${output}`)
      return (await cli(stand.dir, host, ['version'], { timeoutMs: 5000 })).code === 0
    }, 20_000)
  } catch (error) {
    child.kill('SIGKILL')
    throw error
  }
  return {
    chain: undefined as never,
    server: undefined as never,
    host,
    close: async () => {
      child.kill('SIGTERM')
      await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 10_000))])
      if (child.exitCode === null) child.kill('SIGKILL')
    }
  }
}
