import { execFile } from 'node:child_process'
import { request as httpRequest } from 'node:http'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { silentLogger, type Sender, type ServiceInstance } from '@libswarm/core'
import { createDockerClient } from '@libswarm/dockerclient'
import { createDockerServer, type DockerServer } from '@libswarm/dockerserver'
import type { Engine } from '@libswarm/test-engine'
import { createPolicy, type PolicyInstance } from '../../src/index.js'

export const CLI_28 = '/usr/local/bin/docker'
export const CLI_20 = '/usr/bin/docker'

export interface CliResult { readonly code: number, readonly stdout: string, readonly stderr: string }
export interface HttpAnswer { readonly status: number, readonly body: string }

/** `dockerserver` per client socket -> a caller stamp -> policy -> dockerclient -> a private engine. */
export interface PolicedChain extends AsyncDisposable {
  readonly dir: string
  readonly policy: PolicyInstance
  socket (client: string): string
  docker (client: string, args: string[], options?: { env?: Record<string, string>, input?: string, timeoutMs?: number, cli?: string }): Promise<CliResult>
  http (client: string, method: string, path: string, body?: unknown): Promise<HttpAnswer>
}

/**
 * Until dockerserver names its listeners (issue 11, "Who is calling"), each client's socket is its
 * own dockerserver, and a one-line stamp in front of policy sets the caller's listener name, as
 * dockerserver will.
 */
function stampCaller (next: Sender, listener: string): Sender {
  return { send: async (message, options) => { await next.send({ ...message, caller: { listener } }, options) }, close: async () => {} }
}

export async function startPolicedChain (engine: Engine, policyFile: string, clients: readonly string[], options: { audit?: string } = {}): Promise<PolicedChain> {
  const dir = await mkdtemp(join(tmpdir(), 'policy-e2e-'))
  const client: ServiceInstance = createDockerClient({ address: engine.host, env: {} })
  const policy = await createPolicy({ file: policyFile, audit: options.audit ?? join(dir, 'audit.jsonl'), watch: false }, { next: client, log: silentLogger })
  const servers: DockerServer[] = []
  for (const name of clients) {
    const server = createDockerServer({ addresses: [`unix://${join(dir, `${name}.sock`)}`], next: stampCaller(policy, name), closeTimeoutMs: 2000 })
    await server.start()
    servers.push(server)
  }
  const socket = (name: string): string => join(dir, `${name}.sock`)
  const close = async (): Promise<void> => {
    for (const server of servers) await server.close()
    await policy.close()
    await client.close()
    await rm(dir, { recursive: true, force: true })
  }
  return {
    dir,
    policy,
    socket,
    docker: async (name, args, runOptions = {}) => await new Promise((resolve) => {
      const child = execFile(runOptions.cli ?? CLI_28, args, {
        env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: dir, DOCKER_CONFIG: dir, DOCKER_HOST: `unix://${socket(name)}`, ...runOptions.env },
        timeout: runOptions.timeoutMs ?? 60_000,
        killSignal: 'SIGKILL'
      }, (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof (error as { code?: unknown }).code === 'number' ? (error as { code: number }).code : -1
        resolve({ code, stdout, stderr })
      })
      child.stdin?.end(runOptions.input)
    }),
    http: async (name, method, path, body) => await new Promise((resolve, reject) => {
      const payload = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body)
      const req = httpRequest({ socketPath: socket(name), method, path, headers: payload === undefined ? {} : { 'Content-Type': 'application/json' }, timeout: 30_000 }, (res) => {
        let text = ''
        res.setEncoding('utf8').on('data', (chunk: string) => { text += chunk }).on('end', () => { resolve({ status: res.statusCode ?? 0, body: text }) })
      })
      req.on('error', reject)
      req.on('timeout', () => { req.destroy(new Error(`${method} ${path}: timeout`)) })
      req.end(payload)
    }),
    [Symbol.asyncDispose]: close
  }
}
