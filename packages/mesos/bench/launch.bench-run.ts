// pnpm bench: `docker run -d` through mesos over the stand-in master vs `docker run -d` on an
// engine directly (the docker CLI, sequential), the offer wait reported on its own; then 200
// concurrent create+start through mesos vs 200 straight to the two engines.
import { execFile } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { request, spawnChain, type LogFields, type Logger, type Sender, type Service } from '@libswarm/core'
import { decodeDockerReply, encodeDockerRequest } from '@libswarm/docker-api'
import { createDockerClient, dockerclient } from '@libswarm/dockerclient'
import { createDockerServer } from '@libswarm/dockerserver'
import { DOCKER28, canRunTests, startEngine } from '@libswarm/test-engine'
import { expect, it } from 'vitest'
import { mesos } from '../src/index.js'
import { StandInMaster } from '../test/support/stand-in-master.js'

const SEQUENTIAL = Number(process.env.BENCH_RUNS ?? 15)
const CONCURRENT = Number(process.env.BENCH_CONCURRENT ?? 200)

function capture (waits: number[]): Logger {
  const at = (text: string, fields?: LogFields): void => { if (text === 'placed' && typeof fields?.offerWaitMs === 'number') waits.push(fields.offerWaitMs) }
  const logger: Logger = { debug: at, info: at, warn: () => {}, error: () => {}, child: () => logger }
  return logger
}

async function docker (host: string, dir: string, args: string[]): Promise<number> {
  const started = performance.now()
  await new Promise<void>((resolve, reject) => {
    execFile(DOCKER28, args, { env: { PATH: process.env.PATH, HOME: dir, DOCKER_HOST: host, DOCKER_CONFIG: join(dir, 'cli') }, timeout: 120_000 }, (error, _stdout, stderr) => {
      if (error === null) resolve()
      else reject(new Error(`docker ${args.join(' ')}: ${stderr.toString()}`))
    })
  })
  return performance.now() - started
}

async function call (target: Sender, operation: string, targetId: string, extra: Record<string, unknown> = {}): Promise<string> {
  const message = encodeDockerRequest({ operation, target: targetId, ...extra })
  const reply = decodeDockerReply(await request(target, message.verb, message.args))
  if (reply.status >= 400) throw new Error(`${operation}: ${reply.status} ${reply.body ?? ''}`)
  return reply.body ?? ''
}

async function runOne (target: Sender): Promise<void> {
  const { Id } = JSON.parse(await call(target, 'ContainerCreate', '', { body: { Image: 'busybox', Cmd: ['sleep', '600'] } })) as { Id: string }
  await call(target, 'ContainerStart', Id)
}

const stats = (values: number[]): string => {
  const sorted = [...values].sort((a, b) => a - b)
  const at = (q: number): number => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0
  return `median ${at(0.5).toFixed(0)} ms, p90 ${at(0.9).toFixed(0)} ms`
}
const median = (values: number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? 0

it.runIf(canRunTests())('mesos launch latency and throughput over the stand-in master', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'mesos-bench-'))
  await using one = await startEngine({ name: 'agent-1' })
  await using two = await startEngine({ name: 'agent-2' })
  const engines = [one, two]
  const agentClients = engines.map((engine) => createDockerClient({ address: engine.host }))
  const master = new StandInMaster(engines.map((engine, index) => ({ hostname: engine.name, cpus: 64, mem: 65_536, ports: [[31000 + index * 1000, 31999 + index * 1000]], engine: agentClients[index] as Sender })), { heartbeatSeconds: 5 })
  await master.start()
  const waits: number[] = []
  const services: Record<string, Service> = { mesos, dockerclient }
  const chain = await spawnChain([`mesos --master ${master.url} --offer-timeout 120 --default-cpus 0.05 --default-mem 16 ${engines.map((engine) => `"dockerclient ${engine.host}"`).join(' ')}`], { resolve: (name) => services[name] as Service, log: capture(waits) })
  const socket = join(dir, 'swarm.sock')
  const server = createDockerServer({ addresses: [`unix://${socket}`], next: chain.head, closeTimeoutMs: 2000 })
  await server.start()
  const front = `unix://${socket}`
  try {
    for (let index = 0; index < 3; index++) {
      await docker(front, dir, ['run', '-d', 'busybox', 'sleep', '600'])
      await docker(one.host, dir, ['run', '-d', 'busybox', 'sleep', '600'])
    }
    const direct: number[] = []
    const viaMesos: number[] = []
    waits.length = 0
    for (let index = 0; index < SEQUENTIAL; index++) {
      direct.push(await docker(one.host, dir, ['run', '-d', 'busybox', 'sleep', '600']))
      viaMesos.push(await docker(front, dir, ['run', '-d', 'busybox', 'sleep', '600']))
    }
    const offerWaits = waits.slice(0, SEQUENTIAL)
    const withoutWait = viaMesos.map((ms, index) => ms - (offerWaits[index] ?? 0))
    console.log(`docker run -d, ${SEQUENTIAL} sequential runs (docker CLI 28, 2 shared cores)`)
    console.log(`  direct on an engine:              ${stats(direct)}`)
    console.log(`  through mesos, total:             ${stats(viaMesos)}  (${(median(viaMesos) / median(direct)).toFixed(2)}x direct)`)
    console.log(`  of which waiting for an offer:    ${stats(offerWaits)}`)
    console.log(`  through mesos, offer wait left out: ${stats(withoutWait)}  (${(median(withoutWait) / median(direct)).toFixed(2)}x direct)`)

    // each engine's bridge has a /24: make room before the 200
    const clean = async (): Promise<void> => {
      for (const engine of engines) {
        const ids = (await engine.docker(['ps', '-aq'])).stdout.split('\n').filter((id) => id !== '')
        for (let index = 0; index < ids.length; index += 50) await engine.docker(['rm', '-f', ...ids.slice(index, index + 50)], { timeoutMs: 300_000 })
      }
    }
    await clean()
    waits.length = 0
    let started = performance.now()
    await Promise.all(Array.from({ length: CONCURRENT }, async () => { await runOne(chain.head) }))
    const mesosMs = performance.now() - started
    const mesosWaits = stats(waits)
    console.log(`${CONCURRENT} concurrent create+start through mesos: ${(mesosMs / 1000).toFixed(1)} s (offer wait ${mesosWaits})`)
    expect(waits.length).toBe(CONCURRENT)
    await clean()
    started = performance.now()
    await Promise.all(Array.from({ length: CONCURRENT }, async (_value, index) => { await runOne(agentClients[index % 2] as Sender) }))
    const directMs = performance.now() - started
    console.log(`${CONCURRENT} concurrent create+start (in process, split over the 2 engines)`)
    console.log(`  through mesos: ${(mesosMs / 1000).toFixed(1)} s, ${(CONCURRENT / (mesosMs / 1000)).toFixed(1)} runs/s (offer wait ${mesosWaits}; ${master.callsOf('ACCEPT').length} ACCEPTs in all)`)
    console.log(`  direct:        ${(directMs / 1000).toFixed(1)} s, ${(CONCURRENT / (directMs / 1000)).toFixed(1)} runs/s  -> mesos at ${(directMs / mesosMs).toFixed(2)}x the direct throughput`)
  } finally {
    await server.close().catch(() => {})
    await chain.close().catch(() => {})
    await master.close()
    await Promise.all(agentClients.map(async (client) => { await client.close() }))
    await rm(dir, { recursive: true, force: true })
  }
})
