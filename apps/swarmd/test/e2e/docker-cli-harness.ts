/**
 * What the Docker-tool end-to-end tests share: running processes with a deadline,
 * starting real `swarmd` children, running a docker CLI against a host (optionally
 * under a pseudo-terminal), normalising outputs and diffing JSON field by field.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { request } from 'node:http'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { startEngine, type Engine } from '@libswarm/test-engine'

/** apps/swarmd */
export const SWARMD_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..')
/** The real binary under test. */
export const SWARMD_CLI = join(SWARMD_ROOT, 'dist', 'cli.js')
export const FIXTURES = join(SWARMD_ROOT, 'test', 'e2e', 'fixtures-docker')

/** What a finished process left behind. */
export interface ProcessResult {
  stdout: string
  stderr: string
  /** Exit code, or null when killed by a signal (see `signal`). */
  code: number | null
  signal: NodeJS.Signals | null
  timedOut: boolean
  ms: number
}

/** Options of {@link runProcess}. */
export interface RunProcessOptions {
  env?: NodeJS.ProcessEnv
  stdin?: string | Buffer
  /** Write `stdin` but keep the pipe open until the process exits (an interactive user who has not typed ^D). */
  holdStdin?: boolean
  cwd?: string
  timeoutMs?: number
}

/** Runs a process to completion, killing it (SIGKILL) after `timeoutMs`. Never rejects on a non-zero exit. */
export async function runProcess (file: string, args: readonly string[], options: RunProcessOptions = {}): Promise<ProcessResult> {
  const started = performance.now()
  const child = spawn(file, args, {
    env: options.env ?? process.env,
    cwd: options.cwd,
    stdio: [options.stdin === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe']
  })
  const stdout: Buffer[] = []
  const stderr: Buffer[] = []
  child.stdout?.on('data', (chunk: Buffer) => stdout.push(chunk))
  child.stderr?.on('data', (chunk: Buffer) => stderr.push(chunk))
  if (options.stdin !== undefined) {
    child.stdin?.on('error', () => {})
    if (options.holdStdin === true) child.stdin?.write(options.stdin)
    else child.stdin?.end(options.stdin)
  }
  let timedOut = false
  const timer = setTimeout(() => {
    timedOut = true
    child.kill('SIGKILL')
  }, options.timeoutMs ?? 30_000)
  return await new Promise((resolve, reject) => {
    child.on('error', (error) => {
      clearTimeout(timer)
      reject(error)
    })
    child.on('close', (code, signal) => {
      clearTimeout(timer)
      resolve({
        stdout: Buffer.concat(stdout).toString('utf8'),
        stderr: Buffer.concat(stderr).toString('utf8'),
        code,
        signal,
        timedOut,
        ms: Math.round(performance.now() - started)
      })
    })
  })
}

/** Quotes words for `sh -c` (and `script -c`). */
export function shellQuote (words: readonly string[]): string {
  return words.map((word) => /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replaceAll("'", "'\\''")}'`).join(' ')
}

/** Options of {@link runDocker}. */
export interface RunDockerOptions {
  stdin?: string
  holdStdin?: boolean
  /** Runs the CLI under a pseudo-terminal: `script -qec '<cmd>' /dev/null`. */
  tty?: boolean
  env?: Record<string, string>
  timeoutMs?: number
  cwd?: string
}

/** A docker CLI environment that ignores the user's contexts and config. */
export function dockerEnv (host: string, configDir: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {}
  for (const key of ['PATH', 'HOME', 'LANG', 'TMPDIR']) if (process.env[key] !== undefined) env[key] = process.env[key]
  return { ...env, DOCKER_HOST: host, DOCKER_CONFIG: configDir, DOCKER_CLI_HINTS: 'false', TERM: 'dumb', COLUMNS: '200', ...extra }
}

/** Runs `cli args…` against `host`. */
export async function runDocker (cli: string, host: string, configDir: string, args: readonly string[], options: RunDockerOptions = {}): Promise<ProcessResult> {
  const env = dockerEnv(host, configDir, options.env)
  const base = { env, timeoutMs: options.timeoutMs ?? 30_000, cwd: options.cwd, holdStdin: options.holdStdin }
  if (options.tty === true) {
    return await runProcess('script', ['-qec', shellQuote([cli, ...args]), '/dev/null'], options.stdin === undefined ? base : { ...base, stdin: options.stdin })
  }
  return await runProcess(cli, args, options.stdin === undefined ? base : { ...base, stdin: options.stdin })
}

/** One HTTP request on a unix socket; resolves with status and body. */
export async function httpOnSocket (socketPath: string, method: string, path: string, body?: string, timeoutMs = 5_000): Promise<{ status: number, body: string }> {
  return await new Promise((resolve, reject) => {
    const req = request({ socketPath, method, path, headers: body === undefined ? {} : { 'content-type': 'application/json' }, timeout: timeoutMs }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (chunk: Buffer) => chunks.push(chunk))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }))
      res.on('error', reject)
    })
    req.on('timeout', () => req.destroy(new Error(`${method} ${path} on ${socketPath}: no answer in ${timeoutMs} ms`)))
    req.on('error', reject)
    req.end(body)
  })
}

/** Path of a unix:// address. */
export function socketPathOf (address: string): string {
  if (!address.startsWith('unix://')) throw new Error(`not a unix:// address: ${address}`)
  return address.slice('unix://'.length)
}

/** A running swarmd child process. */
export interface SwarmdProcess extends AsyncDisposable {
  readonly pid: number
  readonly child: ChildProcess
  /** Everything the child wrote to stderr and stdout so far. */
  output (): string
  /** Whether the child is still running. */
  alive (): boolean
  /** SIGTERM, then SIGKILL after 5 s; resolves with how it ended. */
  close (): Promise<{ code: number | null, signal: NodeJS.Signals | null }>
}

/** Options of {@link startSwarmd}. */
export interface StartSwarmdOptions {
  /**
   * What "ready" means: `docker` waits until `GET /_ping` on the socket answers 200,
   * `socket` until the socket accepts connections.
   */
  ready: { kind: 'docker' | 'socket', socket: string }
  timeoutMs?: number
  nodeArgs?: string[]
  env?: NodeJS.ProcessEnv
}

/** Starts `node dist/cli.js <spec>…` and waits until it is ready. */
export async function startSwarmd (specs: readonly string[], options: StartSwarmdOptions): Promise<SwarmdProcess> {
  if (!existsSync(SWARMD_CLI)) throw new Error(`${SWARMD_CLI} is missing: build @libswarm/swarmd first`)
  const child = spawn(process.execPath, [...(options.nodeArgs ?? []), SWARMD_CLI, ...specs], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: options.env ?? process.env
  })
  let output = ''
  const keep = (chunk: Buffer): void => {
    output += chunk.toString('utf8')
    if (output.length > 200_000) output = output.slice(-100_000)
  }
  child.stdout?.on('data', keep)
  child.stderr?.on('data', keep)
  let exit: { code: number | null, signal: NodeJS.Signals | null } | undefined
  const exited = new Promise<{ code: number | null, signal: NodeJS.Signals | null }>((resolve) => {
    child.on('exit', (code, signal) => {
      exit = { code, signal }
      resolve(exit)
    })
  })
  const close = async (): Promise<{ code: number | null, signal: NodeJS.Signals | null }> => {
    if (exit !== undefined) return exit
    child.kill('SIGTERM')
    const timer = setTimeout(() => child.kill('SIGKILL'), 5_000)
    const result = await exited
    clearTimeout(timer)
    return result
  }
  const handle: SwarmdProcess = {
    pid: child.pid ?? -1,
    child,
    output: () => output,
    alive: () => exit === undefined,
    close,
    [Symbol.asyncDispose]: async () => { await close() }
  }
  const deadline = Date.now() + (options.timeoutMs ?? 20_000)
  const socket = options.ready.socket
  for (;;) {
    if (exit !== undefined) {
      throw new Error(`swarmd ${specs.map((spec) => JSON.stringify(spec)).join(' ')} exited (${exit.code ?? exit.signal}) before it was ready:\n${output}`)
    }
    if (existsSync(socket)) {
      try {
        if (options.ready.kind === 'docker') {
          const ping = await httpOnSocket(socket, 'GET', '/_ping', undefined, 2_000)
          if (ping.status === 200) return handle
        } else {
          await connectOnce(socket)
          return handle
        }
      } catch {}
    }
    if (Date.now() > deadline) {
      await close()
      throw new Error(`swarmd ${specs.join(' | ')} not ready on ${socket} after ${options.timeoutMs ?? 20_000} ms:\n${output}`)
    }
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
}

async function connectOnce (socketPath: string): Promise<void> {
  const { connect } = await import('node:net')
  await new Promise<void>((resolve, reject) => {
    const socket = connect(socketPath, () => {
      socket.destroy()
      resolve()
    })
    socket.on('error', reject)
  })
}

/** A temporary directory removed by `close()`. */
export function tempDir (prefix: string): { path: string, close: () => void } {
  const path = mkdtempSync(join(tmpdir(), prefix))
  return { path, close: () => rmSync(path, { recursive: true, force: true }) }
}

/** Extra normalisations a step can ask for on top of names, ids and times. */
export type Normalisation = 'sizes' | 'ports' | 'numbers' | 'durations' | 'layers' | 'runtimes' | 'sorted-lines'

/** Options of {@link normaliseOutput}. */
export interface NormaliseOptions {
  /** Literal strings to replace, e.g. a side's name prefix by a common token. */
  replace?: ReadonlyArray<readonly [string, string]>
  /** Replace hex ids and digests (off for commands that read the very same objects on both sides). */
  ids?: boolean
  /** Replace relative and absolute times. */
  times?: boolean
  /** Collapse runs of spaces (table columns widen with their content). */
  spaces?: boolean
  extra?: readonly Normalisation[]
}

/** Makes two outputs of the same command comparable: ids, times, names (and optionally sizes, ports…) become tokens. */
export function normaliseOutput (text: string, options: NormaliseOptions = {}): string {
  let out = text
  for (const [from, to] of options.replace ?? []) out = out.replaceAll(from, to)
  if (options.times !== false) {
    out = out
      .replace(/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)?/g, '<time>')
      .replace(/\d{4}-\d\d-\d\d \d\d:\d\d:\d\d( [+-]\d{4} \w+)?/g, '<time>')
      .replace(/\b(Less than a second|About an? \w+|\d+ (second|minute|hour|day|week|month|year)s?) ago\b/g, '<ago>')
      .replace(/\bUp (Less than a second|About an? \w+|\d+ (second|minute|hour|day)s?)/g, 'Up <t>')
      .replace(/\b(Less than a second|About an? \w+|\d+ (second|minute|hour)s?)(?= \(Paused\))/g, '<t>')
  }
  if (options.ids !== false) {
    out = out
      .replace(/sha256:[0-9a-f]{64}/g, 'sha256:<digest>')
      .replace(/\b[0-9a-f]{64}\b/g, '<id>')
      .replace(/\b[0-9a-f]{12}\b/g, '<id>')
  }
  const extra = new Set(options.extra ?? [])
  if (extra.has('layers')) out = out.replace(/^(<id>|[0-9a-f]{12}): (Layer already exists|Pushed|Mounted from \S+|Already exists|Pull complete)$/gm, '<layer>: <layer-state>')
  // The engine lists its runtimes in map order, which changes from call to call.
  if (extra.has('runtimes')) out = out.replace(/^( Runtimes: )(.*)$/gm, (_, head: string, list: string) => head + list.split(' ').sort().join(' '))
  if (extra.has('ports')) out = out.replace(/((?:127\.0\.0\.1|0\.0\.0\.0|\[::\]|::):)\d+/g, '$1<port>')
  if (extra.has('sizes')) out = out.replace(/\b\d+(\.\d+)?\s?(B|kB|KB|MB|GB|TB|KiB|MiB|GiB)\b/g, '<size>')
  if (extra.has('durations')) out = out.replace(/\b\d+(\.\d+)?(ms|s|m)\b/g, '<dur>')
  if (extra.has('numbers')) out = out.replace(/\d+(\.\d+)?/g, '<n>')
  if (options.spaces !== false) out = out.replace(/ {2,}/g, '  ').replace(/[ \t]+$/gm, '')
  if (extra.has('sorted-lines')) out = out.split('\n').sort().join('\n')
  return out
}

/** Deletes `path` (dotted, `*` matches any key) from a parsed JSON value. */
export function deletePath (value: unknown, path: string): void {
  const [head, ...rest] = path.split('.')
  if (head === undefined || value === null || typeof value !== 'object') return
  const record = value as Record<string, unknown>
  const keys = head === '*' ? Object.keys(record) : [head]
  for (const key of keys) {
    if (!(key in record)) continue
    if (rest.length === 0) delete record[key]
    else deletePath(record[key], rest.join('.'))
  }
}

/** Field-by-field differences between two JSON values, as `path: a != b` lines (empty when equal). */
export function jsonDiff (a: unknown, b: unknown, path = '$', out: string[] = []): string[] {
  if (out.length > 40) return out
  if (a === b) return out
  if (typeof a !== typeof b || a === null || b === null || typeof a !== 'object' || Array.isArray(a) !== Array.isArray(b)) {
    out.push(`${path}: ${JSON.stringify(a)?.slice(0, 200)} != ${JSON.stringify(b)?.slice(0, 200)}`)
    return out
  }
  if (Array.isArray(a) && Array.isArray(b)) {
    if (a.length !== b.length) out.push(`${path}: length ${a.length} != ${b.length}`)
    for (let index = 0; index < Math.min(a.length, b.length); index++) jsonDiff(a[index], b[index], `${path}[${index}]`, out)
    return out
  }
  const ra = a as Record<string, unknown>
  const rb = b as Record<string, unknown>
  for (const key of new Set([...Object.keys(ra), ...Object.keys(rb)])) {
    if (!(key in ra)) out.push(`${path}.${key}: missing on the left`)
    else if (!(key in rb)) out.push(`${path}.${key}: missing on the right`)
    else jsonDiff(ra[key], rb[key], `${path}.${key}`, out)
  }
  return out
}

/**
 * A private engine and two swarmd routes to it: A is `dockerserver | dockerclient`, C is
 * `dockerserver | remote`, joined over the wire to a second swarmd's `serve | dockerclient`.
 */
export interface EngineRoutes {
  readonly engine: Engine
  readonly work: { path: string, close: () => void }
  readonly socketA: string
  readonly socketC: string
  /** Stops the swarmds (back to front) and the engine; returns each swarmd that did not exit 0 on SIGTERM, with its output. */
  close (): Promise<string[]>
}

/** Starts the engine and the routes of {@link EngineRoutes}, each swarmd a real child process. */
export async function startEngineRoutes (prefix: string): Promise<EngineRoutes> {
  const work = tempDir(prefix)
  const engine = await startEngine()
  const swarmds: SwarmdProcess[] = []
  const socketA = join(work.path, 'a.sock')
  const wire = join(work.path, 'wire.sock')
  const socketC = join(work.path, 'c.sock')
  swarmds.push(await startSwarmd([`dockerserver unix://${socketA}`, `dockerclient ${engine.host}`], { ready: { kind: 'docker', socket: socketA } }))
  swarmds.push(await startSwarmd([`serve unix://${wire}`, `dockerclient ${engine.host}`], { ready: { kind: 'socket', socket: wire } }))
  swarmds.push(await startSwarmd([`dockerserver unix://${socketC}`, `remote unix://${wire}`], { ready: { kind: 'docker', socket: socketC } }))
  return {
    engine,
    work,
    socketA,
    socketC,
    close: async () => {
      const unclean: string[] = []
      for (const swarmd of swarmds.reverse()) {
        const exit = await swarmd.close()
        if (exit.code !== 0) unclean.push(`pid ${swarmd.pid}: ${exit.code ?? exit.signal}\n${swarmd.output().slice(-2000)}`)
      }
      await engine.close()
      work.close()
      return unclean
    }
  }
}
