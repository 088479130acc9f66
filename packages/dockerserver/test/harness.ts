import { execFile } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import http from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createDockerServer, type DockerServer, type DockerServerOptions } from '../src/index.js'
import { createFakeBackend, type FakeBackend } from './fake-backend.js'

/** dockerserver on a unix socket in a fresh directory, in front of the fake backend. */
export interface Harness extends AsyncDisposable {
  readonly dir: string
  readonly socket: string
  readonly server: DockerServer
  readonly backend: FakeBackend
  close (): Promise<void>
}

export async function startHarness (options: Partial<DockerServerOptions> = {}): Promise<Harness> {
  const dir = await mkdtemp(join(tmpdir(), 'dockerserver-'))
  const socket = join(dir, 'docker.sock')
  const backend = createFakeBackend()
  const server = createDockerServer({ addresses: [`unix://${socket}`], next: backend.sender, closeTimeoutMs: 2000, ...options })
  await server.start()
  const close = async (): Promise<void> => {
    await server.close()
    await rm(dir, { recursive: true, force: true })
  }
  return { dir, socket, server, backend, close, [Symbol.asyncDispose]: close }
}

export interface HttpAnswer {
  readonly status: number
  readonly headers: http.IncomingHttpHeaders
  readonly body: string
}

/** One HTTP request over a unix socket (or TCP with `port`). */
export async function httpRequest (target: { socket?: string, port?: number }, method: string, path: string, options: { body?: string | Buffer, headers?: Record<string, string | string[]> } = {}): Promise<HttpAnswer> {
  return await new Promise((resolve, reject) => {
    // The answer counts once the request is also written out: node:http may deliver a
    // response before its own write of a large body completed.
    let written = false
    let answer: HttpAnswer | undefined
    const settle = (): void => { if (written && answer !== undefined) resolve(answer) }
    const req = http.request({ socketPath: target.socket, port: target.port, host: '127.0.0.1', method, path, headers: options.headers, timeout: 10_000 }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (chunk: Buffer) => chunks.push(chunk))
      res.on('end', () => { answer = { status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }; settle() })
      res.on('error', reject)
    })
    req.on('finish', () => { written = true; settle() })
    req.on('timeout', () => req.destroy(new Error('request timed out')))
    req.on('error', reject)
    req.end(options.body)
  })
}

export interface CliResult {
  readonly code: number
  readonly stdout: string
  readonly stderr: string
}

/** Runs a docker CLI against `host`, with its own empty config directory and a timeout. */
export async function runCli (cli: string, host: string, args: string[], options: { input?: string, env?: Record<string, string>, configDir: string, timeoutMs?: number }): Promise<CliResult> {
  return await new Promise((resolve) => {
    const child = execFile(cli, args, {
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: options.configDir, DOCKER_CONFIG: options.configDir, DOCKER_HOST: host, ...options.env },
      timeout: options.timeoutMs ?? 30_000,
      killSignal: 'SIGKILL'
    }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof (error as { code?: unknown }).code === 'number' ? (error as { code: number }).code : -1
      resolve({ code, stdout, stderr })
    })
    if (options.input !== undefined) child.stdin?.end(options.input)
    else child.stdin?.end()
  })
}

export const CLI_28 = '/usr/local/bin/docker'
export const CLI_20 = '/usr/bin/docker'
