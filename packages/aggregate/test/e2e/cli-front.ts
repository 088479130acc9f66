import { execFile } from 'node:child_process'
import { join } from 'node:path'
import { spawnChain, type Chain, type Service } from '@libswarm/core'
import { dockerclient } from '@libswarm/dockerclient'
import { createDockerServer, type DockerServer } from '@libswarm/dockerserver'
import { DOCKER28, type Engine } from '@libswarm/test-engine'
import { aggregate } from '../../src/index.js'

const services: Record<string, Service> = { aggregate, dockerclient }

/** An in-process dockerserver on a unix socket in front of aggregate over private engines. */
export interface Front { chain: Chain, server: DockerServer, host: string, close: () => Promise<void> }

/** Starts `dockerserver unix://DIR/NAME.sock` → `aggregate ARGS --name node-N="dockerclient tcp://..."`. */
export async function startFront (dir: string, name: string, engines: readonly Engine[], args = ''): Promise<Front> {
  const chain = await spawnChain([`aggregate ${args} --health-interval 500ms --health-timeout 2s ${engines.map((engine, index) => `--name node-${index}="dockerclient ${engine.tcpHost ?? ''}"`).join(' ')}`], {
    resolve: (service) => services[service] as Service
  })
  const socket = join(dir, `${name}.sock`)
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

/** What a docker CLI run gave. */
export interface Run { code: number, stdout: string, stderr: string }

/** Runs the docker CLI (28 unless told) against `host`; never rejects. */
export async function cli (dir: string, host: string, args: string[], options: { cli?: string, input?: string, cwd?: string, timeoutMs?: number } = {}): Promise<Run> {
  return await new Promise((resolve) => {
    const child = execFile(options.cli ?? DOCKER28, args, {
      env: { PATH: process.env.PATH, HOME: dir, DOCKER_HOST: host, DOCKER_CONFIG: join(dir, 'cli'), DOCKER_BUILDKIT: '0' },
      cwd: options.cwd ?? dir,
      timeout: options.timeoutMs ?? 30_000,
      maxBuffer: 64 * 1024 * 1024,
      encoding: 'buffer'
    }, (error, stdout, stderr) => {
      resolve({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : 1, stdout: stdout.toString(), stderr: stderr.toString() })
    })
    child.stdin?.end(options.input)
  })
}

/** Runs the docker CLI and returns its trimmed stdout; throws with its stderr when it fails. */
export async function ok (dir: string, host: string, args: string[], options?: Parameters<typeof cli>[3]): Promise<string> {
  const result = await cli(dir, host, args, options)
  if (result.code !== 0) throw new Error(`docker ${args.join(' ')} failed (${result.code}): ${result.stderr}`)
  return result.stdout.trim()
}

/** Polls `check` every 200 ms until it is true, at most `ms`. */
export async function until (what: string, check: () => Promise<boolean>, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 200))
  }
}
