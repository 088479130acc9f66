import { spawn } from 'node:child_process'
import { execFile } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { cpus, loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { request, type ServiceInstance } from '@libswarm/core'
import { encodeDockerRequest } from '@libswarm/docker-api'
import { createDockerClient } from '@libswarm/dockerclient'
import { HOST_TAGS } from '@libswarm/provision'
import { DOCKER28 } from '@libswarm/test-engine'
import { it } from 'vitest'
import { chain, rackspaceSpec, standIn, stateDir } from '../test/harness.js'
import { bootEngineFromUserData } from '../test/stand-in/engine-host.js'

const ROUNDS = Number(process.env['BENCH_ROUNDS'] ?? 2)
const BOOT_DELAY_MS = Number(process.env['BENCH_BOOT_DELAY_MS'] ?? 1000)
const REQUESTS = Number(process.env['BENCH_REQUESTS'] ?? 400)
const swarmd = fileURLToPath(new URL('../node_modules/@libswarm/swarmd/bin/swarmd.js', import.meta.url))
const rackspaceModule = fileURLToPath(new URL('../dist/index.js', import.meta.url))

async function dockerPs (host: string): Promise<boolean> {
  return await new Promise((resolve) => {
    execFile(DOCKER28, ['ps'], { env: { PATH: process.env['PATH'], DOCKER_HOST: host, HOME: tmpdir() }, timeout: 10_000 }, (error) => { resolve(error === null) })
  })
}

it('start to a working docker ps with 3 hosts; ps/inspect through a host vs dockerclient direct', async () => {
  console.log(`node ${process.version}, ${cpus().length} cores, load ${loadavg().map((value) => value.toFixed(1)).join(' ')}; stand-in boot delay ${BOOT_DELAY_MS} ms + a real dockerd start per server`)
  const cloud = await standIn(bootEngineFromUserData, { bootDelayMs: BOOT_DELAY_MS })
  const state = stateDir()
  const dir = mkdtempSync(join(tmpdir(), 'rax-bench-'))
  try {
    // 1. swarmd started as a process, aggregate over rackspace --count 3, until `docker ps` answers
    for (let round = 1; round <= ROUNDS; round++) {
      const socket = join(dir, `swarm-${round}.sock`)
      const spec = rackspaceSpec(cloud, state.dir, `--swarm bench-${round} --count 3 --terminate-on-stop --poll-interval 100ms`).replace(/^rackspace/, rackspaceModule)
      const started = performance.now()
      const daemon = spawn(process.execPath, [swarmd, `dockerserver unix://${socket}`, `aggregate "${spec.replaceAll('"', '\\"')}"`], { stdio: ['ignore', 'ignore', 'pipe'] })
      let log = ''
      const startedAt = Date.now()
      const timeline: string[] = []
      daemon.stderr.on('data', (chunk: Buffer) => {
        log = (log + chunk.toString()).slice(-3000)
        for (const line of chunk.toString().split('\n')) {
          try {
            const entry = JSON.parse(line) as { time?: string, msg?: string }
            if (entry.time !== undefined && entry.msg !== undefined) timeline.push(`${((Date.parse(entry.time) - startedAt) / 1000).toFixed(2)} s ${entry.msg}`)
          } catch {}
        }
      })
      let working = NaN
      for (const deadline = started + 120_000; performance.now() < deadline;) {
        if (daemon.exitCode !== null) throw new Error(`swarmd exited ${daemon.exitCode}: ${log}`)
        if (await dockerPs(`unix://${socket}`)) { working = performance.now() - started; break }
        await new Promise((resolve) => setTimeout(resolve, 50))
      }
      const servers = cloud.servers().filter((server) => server.metadata[HOST_TAGS.swarm] === `bench-${round}`)
      const boot = Math.max(...servers.map((server) => (server.activeAt ?? NaN) - server.createdAt))
      const firstCreate = Math.min(...servers.map((server) => server.createdAt)) - started
      const lastActive = Math.max(...servers.map((server) => server.activeAt ?? NaN)) - started
      console.log(`round ${round}: docker ps works ${(working / 1000).toFixed(2)} s after swarmd started; the cloud's part: slowest BUILD->ACTIVE ${(boot / 1000).toFixed(2)} s (delay + dockerd start); ` +
        `before the first create ${(firstCreate / 1000).toFixed(2)} s (node, swarmd, Identity, image/flavor lookup, CA and RSA keys); after the last ACTIVE ${((working - lastActive) / 1000).toFixed(2)} s; ` +
        `backend overhead (ps time - slowest boot) ${((working - boot) / 1000).toFixed(2)} s`)
      console.log(`  swarmd's log: ${timeline.join('; ')}`)
      const exited = new Promise((resolve) => daemon.once('exit', resolve))
      daemon.kill('SIGTERM')
      await exited
    }
    // 2. ps and inspect through a provisioned host (rackspace alone forwards) vs dockerclient on the same engine, same TLS
    const through = await chain(rackspaceSpec(cloud, state.dir, '--swarm bench-ratio --count 1 --terminate-on-stop'))
    const server = cloud.liveServers().find((item) => item.metadata[HOST_TAGS.swarm] === 'bench-ratio')
    const direct: ServiceInstance = createDockerClient({
      address: `tcp://${server?.address ?? ''}:2376`, tlsVerify: true, tlsCaCert: join(state.dir, 'ca.pem'), tlsCert: join(state.dir, 'cert.pem'), tlsKey: join(state.dir, 'key.pem'), tlsServerName: server?.metadata[HOST_TAGS.tlsName], env: {}
    })
    try {
      const create = encodeDockerRequest({ operation: 'ContainerCreate', target: '', query: { name: 'bench' }, body: { Image: 'busybox', Cmd: ['sleep', '600'] } })
      await request(direct, create.verb, [...create.args])
      for (let index = 0; index < 20; index++) {
        const more = encodeDockerRequest({ operation: 'ContainerCreate', target: '', query: { name: `bench-${index}` }, body: { Image: 'busybox', Cmd: ['true'] } })
        await request(direct, more.verb, [...more.args])
      }
      const ps = encodeDockerRequest({ operation: 'ContainerList', target: '', query: { all: '1' } })
      const inspect = encodeDockerRequest({ operation: 'ContainerInspect', target: 'bench' })
      for (const [label, message] of [['ps -a (21 containers)', ps], ['inspect', inspect]] as const) {
        const time = async (target: ServiceInstance): Promise<number> => {
          const begin = performance.now()
          for (let index = 0; index < REQUESTS; index++) await request(target, message.verb, [...message.args])
          return (performance.now() - begin) / REQUESTS
        }
        await time(direct); await time(through.head) // warm-up
        const ratios: string[] = []
        for (let round = 0; round < 3; round++) {
          const a = await time(direct)
          const b = await time(through.head)
          ratios.push(`${(b / a).toFixed(3)}x (${b.toFixed(3)} vs ${a.toFixed(3)} ms)`)
        }
        console.log(`${label}: through rackspace vs dockerclient direct, ${REQUESTS} sequential requests, 3 rounds: ${ratios.join(', ')}`)
      }
    } finally {
      await direct.close()
      await through.close()
    }
  } finally {
    await cloud.close()
    state.remove()
    rmSync(dir, { recursive: true, force: true })
  }
})
