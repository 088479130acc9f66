import { execFile } from 'node:child_process'
import { request as httpRequest } from 'node:http'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { silentLogger, type ServiceInstance } from '@libswarm/core'
import { createDockerClient } from '@libswarm/dockerclient'
import { createDockerServer, type DockerServerTlsOptions } from '@libswarm/dockerserver'
import type { Engine } from '@libswarm/test-engine'
import { createPolicy, type PolicyInstance } from '../../src/index.js'

export const CLI_28 = '/usr/local/bin/docker'
export const CLI_20 = '/usr/bin/docker'

export interface CliResult { readonly code: number, readonly stdout: string, readonly stderr: string }
export interface HttpAnswer { readonly status: number, readonly body: string }

/**
 * One `dockerserver` with a named unix listener per client (`ci=unix://DIR/ci.sock`, ...), and TCP
 * listeners if asked, -> policy -> dockerclient -> a private engine. The caller is dockerserver's own.
 */
export interface PolicedChain extends AsyncDisposable {
  readonly dir: string
  readonly policy: PolicyInstance
  /** Every address dockerserver listens on, `NAME=` dropped, TCP ports as bound. */
  readonly addresses: readonly string[]
  socket (client: string): string
  docker (client: string, args: string[], options?: { env?: Record<string, string>, input?: string, timeoutMs?: number, cli?: string }): Promise<CliResult>
  http (client: string, method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<HttpAnswer>
}

export interface PolicedChainOptions {
  readonly audit?: string
  /** More listeners, as dockerserver takes them (`mtls=tcp://127.0.0.1:0`). */
  readonly tcp?: readonly string[]
  /** TLS for the tcp:// listeners. */
  readonly tls?: DockerServerTlsOptions
}

export async function startPolicedChain (engine: Engine, policyFile: string, clients: readonly string[], options: PolicedChainOptions = {}): Promise<PolicedChain> {
  const dir = await mkdtemp(join(tmpdir(), 'policy-e2e-'))
  const client: ServiceInstance = createDockerClient({ address: engine.host, env: {} })
  const policy = await createPolicy({ file: policyFile, audit: options.audit ?? join(dir, 'audit.jsonl'), watch: false }, { next: client, log: silentLogger })
  const socket = (name: string): string => join(dir, `${name}.sock`)
  const server = createDockerServer({
    addresses: [...clients.map((name) => `${name}=unix://${socket(name)}`), ...options.tcp ?? []],
    tls: options.tls,
    next: policy,
    closeTimeoutMs: 2000
  })
  await server.start()
  const close = async (): Promise<void> => {
    await server.close()
    await policy.close()
    await client.close()
    await rm(dir, { recursive: true, force: true })
  }
  return {
    dir,
    policy,
    addresses: server.addresses,
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
    http: async (name, method, path, body, headers = {}) => await new Promise((resolve, reject) => {
      const payload = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body)
      const req = httpRequest({ socketPath: socket(name), method, path, headers: payload === undefined ? headers : { ...headers, 'Content-Type': 'application/json' }, timeout: 30_000 }, (res) => {
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
