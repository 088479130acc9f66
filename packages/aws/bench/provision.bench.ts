// pnpm bench (needs root and dockerd, as the e2e tests): run by vitest so that it uses the
// TypeScript EC2 stand-in of test/ unchanged. Prints its figures; asserts nothing about speed.
//
// 1. From swarmd's start to the first `docker ps` that answers with 3 hosts, through
//    `aggregate "@libswarm/aws --count 3"` against the stand-in, less the stand-in's own boot
//    time (the longest, over the 3 instances, from RunInstances to its dockerd answering):
//    what the backend adds (SDK calls, certificates, waiter polls, TLS, aggregate's sync).
// 2. `GET /containers/json` (docker ps) and `GET /containers/ID/json` (docker inspect) over HTTP
//    on a unix socket: `dockerserver | aws` (one provisioned host) against `dockerserver |
//    dockerclient tcp://HOST:2376 --tls...` (the same engine, same certificates), interleaved.
import { execFile, spawn } from 'node:child_process'
import { mkdir, mkdtemp, rm, symlink } from 'node:fs/promises'
import { Agent, request as httpRequest } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { spawnChain, type Service } from '@libswarm/core'
import { createDockerServer } from '@libswarm/dockerserver'
import { dockerclient } from '@libswarm/dockerclient'
import { openStateDirectory } from '@libswarm/provision'
import { DOCKER28, canRunTests } from '@libswarm/test-engine'
import { describe, it } from 'vitest'
import { aws } from '../src/index.js'
import { useStandInCredentials } from '../test/aws-env.js'
import { startEc2StandIn } from '../test/ec2-stand-in.js'

const SWARMD = fileURLToPath(new URL('../node_modules/@libswarm/swarmd/bin/swarmd.js', import.meta.url))
const PACKAGE = fileURLToPath(new URL('..', import.meta.url))
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? '3')
const SAMPLES = Number(process.env.BENCH_SAMPLES ?? '300')

async function docker (socket: string, args: string[], home: string): Promise<{ code: number, stdout: string }> {
  return await new Promise((resolve) => {
    execFile(DOCKER28, args, { env: { PATH: process.env.PATH, HOME: home, DOCKER_HOST: `unix://${socket}`, DOCKER_CONFIG: join(home, 'cli') }, timeout: 10_000 }, (error, stdout) => {
      resolve({ code: error === null ? 0 : 1, stdout: stdout.toString() })
    })
  })
}

function median (values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.floor(sorted.length / 2)] as number
}

describe.runIf(canRunTests(['engine', 'docker-cli']))('aws benchmark', () => {
  it('start to a working docker ps with 3 hosts, less the stand-in\'s boot', async () => {
    const rows: string[] = []
    for (let round = 0; round < ROUNDS; round++) {
      const dir = await mkdtemp(join(tmpdir(), 'lsw-aws-bench-'))
      await useStandInCredentials(join(dir, 'aws'))
      await mkdir(join(dir, 'node_modules', '@libswarm'), { recursive: true })
      await symlink(PACKAGE, join(dir, 'node_modules', '@libswarm', 'aws'))
      // the CA is kept between runs, as a user's state directory is
      await openStateDirectory(join(dir, 'state'))
      await using standIn = await startEc2StandIn({ busybox: false, bootDelayMs: 300 })
      const socket = join(dir, 'swarm.sock')
      const spec = `@libswarm/aws --endpoint ${standIn.endpoint} --region us-east-1 --count 3 --ami-name 'ubuntu/images/*24.04*' --state-dir ${join(dir, 'state')} --poll-interval 100ms --terminate-on-stop`
      const started = Date.now()
      const swarmd = spawn(process.execPath, [SWARMD, `dockerserver unix://${socket}`, `aggregate --health-interval 1s "${spec}"`], { cwd: dir, env: process.env, stdio: ['ignore', 'ignore', process.env.BENCH_LOG === undefined ? 'ignore' : 'inherit'] })
      let ready = 0
      const deadline = started + 120_000
      while (Date.now() < deadline) {
        const ps = await docker(socket, ['info', '--format', '{{range .SystemStatus}}{{index . 0}}{{"\\n"}}{{end}}'], dir)
        if (ps.code === 0 && (ps.stdout.match(/i-[0-9a-f]+/g) ?? []).length >= 3 && (await docker(socket, ['ps'], dir)).code === 0) {
          ready = Date.now() - started
          break
        }
        await new Promise((resolve) => setTimeout(resolve, 25))
      }
      const boots = [...standIn.instances.values()].map((instance) => instance.bootMs ?? NaN)
      const exited = new Promise((resolve) => swarmd.once('exit', resolve))
      swarmd.kill('SIGTERM')
      await exited
      await standIn.settled()
      const boot = Math.max(...boots)
      const firstCall = (standIn.calls[0]?.at ?? NaN) - started
      rows.push(`| ${round + 1} | ${ready} ms | ${firstCall} ms | ${boots.map((ms) => `${ms}`).join(', ')} ms | ${ready - boot} ms |`)
      await rm(dir, { recursive: true, force: true })
    }
    console.log(['', '| round | swarmd start to docker ps (3 hosts) | to its first EC2 call | stand-in boot per instance | backend overhead |', '|---|---|---|---|---|', ...rows].join('\n'))
  }, 600_000)

  it('docker ps and inspect through a provisioned host vs dockerclient direct', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'lsw-aws-bench-'))
    await useStandInCredentials(join(dir, 'aws'))
    await using standIn = await startEc2StandIn({ busybox: true })
    const services: Record<string, Service> = { aws, dockerclient }
    const resolve = (name: string): Service => services[name] as Service
    const state = join(dir, 'state')
    const through = await spawnChain([`aws --endpoint ${standIn.endpoint} --region us-east-1 --ami-name 'ubuntu/images/*24.04*' --state-dir ${state} --poll-interval 100ms --check-interval 0 --terminate-on-stop`], { resolve })
    const instance = [...standIn.instances.values()][0]
    // the backend may reach the engine before the stand-in finished loading busybox into it
    await instance?.booting
    if (instance?.engine === undefined) throw new Error('no engine')
    for (let index = 0; index < 20; index++) await instance.engine.docker(['run', '-d', '--name', `c${index}`, 'busybox', 'sleep', '600'])
    const direct = await spawnChain([`dockerclient tcp://${instance.ip}:2376 --tlsverify --tlscacert ${join(state, 'ca.pem')} --tlscert ${join(state, 'cert.pem')} --tlskey ${join(state, 'key.pem')} --tlsservername ${instance.tags.get('libswarm:tls-name') ?? ''}`], { resolve })
    const fronts = await Promise.all([through, direct].map(async (chain, index) => {
      const socketPath = join(dir, `front-${index}.sock`)
      const server = createDockerServer({ addresses: [`unix://${socketPath}`], next: chain.head, closeTimeoutMs: 2000 })
      await server.start()
      return { server, socketPath, agent: new Agent({ keepAlive: true, maxSockets: 1 }) }
    }))
    const get = async (front: typeof fronts[number], path: string): Promise<number> => {
      const started = process.hrtime.bigint()
      await new Promise<void>((resolve, reject) => {
        const request = httpRequest({ socketPath: front.socketPath, path, agent: front.agent }, (response) => {
          response.resume()
          response.on('end', () => { response.statusCode === 200 ? resolve() : reject(new Error(`${path}: ${response.statusCode ?? 0}`)) })
        })
        request.on('error', reject)
        request.end()
      })
      return Number(process.hrtime.bigint() - started) / 1e6
    }
    const rows: string[] = []
    try {
      for (const [label, path] of [['docker ps (20 containers)', '/v1.41/containers/json'], ['docker inspect', '/v1.41/containers/c0/json']] as const) {
        const times: number[][] = [[], []]
        for (let sample = 0; sample < 20; sample++) for (const front of fronts) await get(front, path)
        for (let sample = 0; sample < SAMPLES; sample++) {
          const order = sample % 2 === 0 ? [0, 1] : [1, 0]
          for (const index of order) times[index]?.push(await get(fronts[index] as typeof fronts[number], path))
        }
        const [a, b] = times.map(median) as [number, number]
        rows.push(`| ${label} | ${a.toFixed(2)} ms | ${b.toFixed(2)} ms | ${(a / b).toFixed(3)}x |`)
      }
    } finally {
      for (const front of fronts) {
        front.agent.destroy()
        await front.server.close()
      }
      await direct.close()
      await through.close()
      await rm(dir, { recursive: true, force: true })
    }
    console.log(['', `| request (median of ${SAMPLES}, interleaved) | through aws | dockerclient direct | ratio |`, '|---|---|---|---|', ...rows].join('\n'))
  }, 600_000)
})
