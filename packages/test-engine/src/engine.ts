import { spawn, type ChildProcess } from 'node:child_process'
import { openSync, closeSync } from 'node:fs'
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { request } from 'node:http'
import { createServer } from 'node:net'
import { join } from 'node:path'
import { claimDirectory, isAbandoned, withFileLock } from './file-lock.js'
import { ensureDockerTools } from './docker-tools.js'
import { TestEngineError } from './errors.js'
import { DOCKER20, DOCKER28, ENGINES_ROOT } from './paths.js'
import { runCommand, runChecked, type CommandResult } from './run-command.js'
import { busyboxImageTar } from './busybox-image.js'

/** Options of {@link startEngine}. */
export interface EngineOptions {
  /** Hostname of the engine (`docker info` Name), set with `unshare --uts`. Default `lsw-<pid>-<n>`. */
  name?: string
  /** Engine labels (`dockerd --label k=v`). */
  labels?: Record<string, string>
  /** Also listen on `tcp://127.0.0.1:<free port>` (no TLS). */
  tcp?: boolean
  /** Run `docker swarm init` (advertising 127.66.<slot>.1, its own data-path port). */
  swarm?: boolean
  /** `--registry-mirror`. */
  registryMirror?: string
  /** `--insecure-registry` entries (127.0.0.0/8 is insecure by default). */
  insecureRegistries?: string[]
  /** Load `busybox:latest` (default true). */
  busybox?: boolean
  /**
   * Listen on TCP with mutual TLS (`--tlsverify --tlscacert --tlscert --tlskey`), given PEM
   * material, as a provisioned cloud host does. Not together with `tcp`.
   */
  tls?: EngineTls
}

/** PEM material and address of an engine's TLS listener. */
export interface EngineTls {
  /** CA that client certificates must be signed by. */
  caCert: string
  /** The engine's server certificate and key. */
  cert: string
  key: string
  /** Listen address; default `127.0.0.1`. Any address of 127.0.0.0/8 works on Linux's loopback. */
  host?: string
  /** Default a free port (2376 for a host other than 127.0.0.1 is fine when that address is yours). */
  port?: number
}

/** Options of {@link Engine.docker}. */
export interface DockerCommandOptions {
  input?: string | Buffer
  env?: Record<string, string>
  /** Which docker CLI: `docker28` (default, {@link DOCKER28}) or `docker20` ({@link DOCKER20}). */
  cli?: 'docker28' | 'docker20'
  /** Default 120 s; on timeout the CLI is killed and `code` is -1. */
  timeoutMs?: number
}

/** A private dockerd 20.10 with its own data-root, exec-root, socket, bridge and hostname. */
export interface Engine extends AsyncDisposable {
  readonly name: string
  /** Path of the engine's unix socket. */
  readonly socketPath: string
  /** `unix://<socketPath>`, for DOCKER_HOST. */
  readonly host: string
  /** `tcp://127.0.0.1:<port>` when started with `tcp: true`; the TLS listener when started with `tls`. */
  readonly tcpHost?: string
  /** The engine's temp dir (data-root, exec-root, log `dockerd.log`). */
  readonly dir: string
  /** Name of the engine's default bridge. */
  readonly bridge: string
  /** Subnet of the default bridge, `10.199.<slot>.0/24`. */
  readonly subnet: string
  /** Runs the docker CLI against this engine; never rejects for a non-zero exit. */
  docker: (args: string[], options?: DockerCommandOptions) => Promise<CommandResult>
  /** Stops dockerd gracefully, keeping the data-root (for restart tests). */
  stop: () => Promise<void>
  /** SIGKILLs dockerd (fault tests); its containerd keeps running until restart or close. */
  kill: () => Promise<void>
  /** Starts dockerd again on the same sockets and data-root (stops it first if running). */
  restart: () => Promise<void>
  /** Removes all containers, prunes networks, stops dockerd, deletes the bridge and the temp dirs. */
  close: () => Promise<void>
  /** The last lines of dockerd's log. */
  logTail: (lines?: number) => Promise<string>
}

const MAX_SLOT = 98
const running = new Set<ChildProcess>()
let counter = 0
let staleSwept = false

process.once('exit', () => {
  // dockerd stops its containerd and containers itself on SIGTERM, even after we are gone.
  for (const child of running) child.kill('SIGTERM')
})

function slotDir (slot: number): string { return join(ENGINES_ROOT, `e${slot}`) }
function bridgeName (slot: number): string { return `lswbr${slot}` }
function gwBridgeName (slot: number): string { return `lswgw${slot}` }
function poolOctet (slot: number): number { return 100 + slot }

/** Finds a free TCP port on 127.0.0.1. */
export async function freePort (): Promise<number> {
  return await new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      server.close(() => { resolve(typeof address === 'object' && address !== null ? address.port : 0) })
    })
  })
}

async function sleep (ms: number): Promise<void> { await new Promise((resolve) => setTimeout(resolve, ms)) }

/** Pids whose command line mentions `needle` (containerd and shims of an engine dir). */
async function pidsMentioning (needle: string): Promise<number[]> {
  const pids: number[] = []
  for (const entry of await readdir('/proc')) {
    const pid = Number(entry)
    if (!Number.isInteger(pid) || pid === process.pid) continue
    try {
      const cmdline = (await readFile(`/proc/${pid}/cmdline`, 'utf8')).replaceAll('\0', ' ')
      if (cmdline.includes(needle)) pids.push(pid)
    } catch {}
  }
  return pids
}

/** Alive and not a zombie. */
async function isRunning (pid: number): Promise<boolean> {
  if (!Number.isInteger(pid) || pid <= 0) return false
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8')
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3)
    return state !== 'Z' && state !== 'X'
  } catch {
    return false
  }
}

async function unmountUnder (dir: string): Promise<void> {
  const mountinfo = await readFile('/proc/self/mountinfo', 'utf8')
  const points = mountinfo.split('\n').map((line) => line.split(' ')[4] ?? '')
    .filter((point) => point.startsWith(dir + '/')).sort((a, b) => b.length - a.length)
  for (const point of points) await runCommand('umount', ['-l', point], { timeoutMs: 10_000 })
}

/** Deletes the bridges of a slot: its default bridge, its gateway bridge and br-* in its pool. */
async function deleteBridges (slot: number): Promise<void> {
  const links = await runCommand('ip', ['-o', '-4', 'addr', 'show'], { timeoutMs: 10_000 })
  const pool = `10.${poolOctet(slot)}.`
  const names = new Set([bridgeName(slot), gwBridgeName(slot)])
  for (const line of links.stdout.split('\n')) {
    const fields = line.split(/\s+/)
    const name = fields[1]
    const address = fields[3] ?? ''
    if (name !== undefined && name.startsWith('br-') && address.startsWith(pool)) names.add(name)
  }
  for (const name of names) await runCommand('ip', ['link', 'del', name], { timeoutMs: 10_000 })
}

/** Kills every process of an engine dir, unmounts, deletes it and the slot's bridges. */
async function scrubSlot (slot: number): Promise<void> {
  const dir = slotDir(slot)
  for (const pid of await pidsMentioning(dir + '/')) {
    try { process.kill(pid, 'SIGKILL') } catch {}
  }
  await unmountUnder(dir)
  await deleteBridges(slot)
  await rm(dir, { recursive: true, force: true, maxRetries: 3 })
}

async function allocateSlot (): Promise<number> {
  return await withFileLock(join(ENGINES_ROOT, '.alloc.lock'), async () => {
    if (!staleSwept) {
      staleSwept = true
      for (let slot = 1; slot <= MAX_SLOT; slot++) {
        if (await isAbandoned(slotDir(slot))) await scrubSlot(slot)
      }
    }
    for (let slot = 1; slot <= MAX_SLOT; slot++) {
      if (await claimDirectory(slotDir(slot))) return slot
      if (await isAbandoned(slotDir(slot))) {
        await scrubSlot(slot)
        if (await claimDirectory(slotDir(slot))) return slot
      }
    }
    throw new TestEngineError('NO_FREE_SLOT', `all ${MAX_SLOT} engine slots under ${ENGINES_ROOT} are in use`)
  }, 120_000)
}

async function ping (socketPath: string): Promise<boolean> {
  return await new Promise((resolve) => {
    const req = request({ socketPath, path: '/_ping', timeout: 2000 }, (res) => {
      res.resume()
      resolve(res.statusCode === 200)
    })
    req.on('error', () => resolve(false))
    req.on('timeout', () => { req.destroy(); resolve(false) })
    req.end()
  })
}

async function tail (file: string, lines: number): Promise<string> {
  try {
    return (await readFile(file, 'utf8')).trimEnd().split('\n').slice(-lines).join('\n')
  } catch {
    return '(no log)'
  }
}

class PrivateEngine implements Engine {
  readonly name: string
  readonly dir: string
  readonly socketPath: string
  readonly host: string
  readonly tcpHost?: string
  readonly bridge: string
  readonly subnet: string
  readonly #slot: number
  readonly #options: EngineOptions
  readonly #logFile: string
  #child: ChildProcess | undefined
  #closed = false

  constructor (slot: number, name: string, options: EngineOptions, tcpPort: number | undefined, tcpAddress = '127.0.0.1') {
    this.#slot = slot
    this.#options = options
    this.name = name
    this.dir = slotDir(slot)
    this.socketPath = join(this.dir, 'docker.sock')
    this.host = `unix://${this.socketPath}`
    if (tcpPort !== undefined) this.tcpHost = `tcp://${tcpAddress}:${tcpPort}`
    this.bridge = bridgeName(slot)
    this.subnet = `10.199.${slot}.0/24`
    this.#logFile = join(this.dir, 'dockerd.log')
  }

  #dockerdArgs (): string[] {
    const d = this.dir
    const args = [
      '--data-root', join(d, 'data'), '--exec-root', join(d, 'exec'), '--pidfile', join(d, 'docker.pid'),
      '-H', this.host, '--bridge', this.bridge, '--iptables=false',
      '--default-address-pool', `base=10.${poolOctet(this.#slot)}.0.0/17,size=24`
    ]
    if (this.tcpHost !== undefined) args.push('-H', this.tcpHost)
    if (this.#options.tls !== undefined) {
      const tls = join(d, 'tls')
      args.push('--tlsverify', '--tlscacert', join(tls, 'ca.pem'), '--tlscert', join(tls, 'cert.pem'), '--tlskey', join(tls, 'key.pem'))
    }
    for (const [key, value] of Object.entries(this.#options.labels ?? {})) args.push('--label', `${key}=${value}`)
    if (this.#options.registryMirror !== undefined) args.push('--registry-mirror', this.#options.registryMirror)
    for (const registry of this.#options.insecureRegistries ?? []) args.push('--insecure-registry', registry)
    return args
  }

  async createBridge (): Promise<void> {
    await runCommand('ip', ['link', 'del', this.bridge], { timeoutMs: 10_000 })
    await runChecked('ip', ['link', 'add', 'name', this.bridge, 'type', 'bridge'], { timeoutMs: 10_000 })
    await runChecked('ip', ['addr', 'add', `10.199.${this.#slot}.1/24`, 'dev', this.bridge], { timeoutMs: 10_000 })
    await runChecked('ip', ['link', 'set', this.bridge, 'up'], { timeoutMs: 10_000 })
  }

  async launch (): Promise<void> {
    if (this.#child !== undefined) return
    await this.#forgetDeadContainerd()
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      PATH: `/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin${process.env.PATH === undefined ? '' : ':' + process.env.PATH}`,
      HTTP_PROXY: 'http://127.0.0.1:9',
      HTTPS_PROXY: 'http://127.0.0.1:9',
      http_proxy: 'http://127.0.0.1:9',
      https_proxy: 'http://127.0.0.1:9',
      NO_PROXY: '127.0.0.1,localhost,127.0.0.0/8,::1',
      no_proxy: '127.0.0.1,localhost,127.0.0.0/8,::1'
    }
    delete env.DOCKER_HOST
    const quoted = ['dockerd', ...this.#dockerdArgs()].map((arg) => `'${arg.replaceAll("'", "'\\''")}'`).join(' ')
    const log = openSync(this.#logFile, 'a')
    let child: ChildProcess
    try {
      child = spawn('unshare', ['--uts', 'sh', '-c', `hostname '${this.name}' && exec ${quoted}`], {
        env, cwd: this.dir, stdio: ['ignore', log, log]
      })
    } finally {
      closeSync(log)
    }
    this.#child = child
    running.add(child)
    let exited = false
    child.once('exit', () => { exited = true; running.delete(child); if (this.#child === child) this.#child = undefined })
    const deadline = Date.now() + 60_000
    while (!(await ping(this.socketPath))) {
      if (exited) {
        throw new TestEngineError('ENGINE_START_FAILED', `dockerd for engine ${this.name} exited during start (exit ${String(child.exitCode ?? child.signalCode)}); log ${this.#logFile}:\n${await this.logTail()}`)
      }
      if (Date.now() > deadline) {
        await this.kill()
        throw new TestEngineError('ENGINE_TIMEOUT', `dockerd for engine ${this.name} did not answer /_ping on ${this.socketPath} within 60 s; log ${this.#logFile}:\n${await this.logTail()}`)
      }
      await sleep(100)
    }
  }

  /**
   * A managed containerd dies with a SIGKILLed dockerd and may stay a zombie (when pid 1 does
   * not reap); dockerd would take the zombie for a live containerd and wait for its socket.
   */
  async #forgetDeadContainerd (): Promise<void> {
    const pidFile = join(this.dir, 'exec', 'containerd', 'containerd.pid')
    let pid: number
    try {
      pid = Number((await readFile(pidFile, 'utf8')).trim())
    } catch {
      return
    }
    if (!(await isRunning(pid))) await rm(pidFile, { force: true })
  }

  async initSwarm (): Promise<void> {
    const advertise = `127.66.${this.#slot}.1`
    // docker_gwbridge is one name per host; pre-creating it renames the bridge per engine.
    await this.#dockerChecked(['network', 'create', '--driver', 'bridge',
      '--opt', `com.docker.network.bridge.name=${gwBridgeName(this.#slot)}`,
      '--opt', 'com.docker.network.bridge.enable_icc=false',
      '--opt', 'com.docker.network.bridge.enable_ip_masquerade=false', 'docker_gwbridge'])
    await this.#dockerChecked(['swarm', 'init', '--listen-addr', `${advertise}:2377`, '--advertise-addr', advertise,
      '--data-path-port', String(4800 + this.#slot),
      '--default-addr-pool', `10.${poolOctet(this.#slot)}.128.0/17`, '--default-addr-pool-mask-length', '24'])
  }

  async loadBusybox (): Promise<void> {
    const tarball = await busyboxImageTar()
    await this.#dockerChecked(['load', '-i', tarball])
  }

  async #dockerChecked (args: string[]): Promise<string> {
    const result = await this.docker(args)
    if (result.code !== 0) {
      throw new TestEngineError('COMMAND_FAILED', `docker ${args.join(' ')} on engine ${this.name} exited ${result.code}: ${result.stderr.trim()}`)
    }
    return result.stdout
  }

  async docker (args: string[], options: DockerCommandOptions = {}): Promise<CommandResult> {
    const env: NodeJS.ProcessEnv = { ...process.env, DOCKER_HOST: this.host, DOCKER_CONFIG: join(this.dir, 'cli-config'), DOCKER_CLI_HINTS: 'false', ...options.env }
    for (const key of ['DOCKER_CONTEXT', 'DOCKER_TLS_VERIFY', 'DOCKER_CERT_PATH']) {
      if (options.env?.[key] === undefined) delete env[key]
    }
    const cli = options.cli === 'docker20' ? DOCKER20 : DOCKER28
    return await runCommand(cli, args, { env, input: options.input, timeoutMs: options.timeoutMs ?? 120_000 })
  }

  async #waitExit (child: ChildProcess, ms: number): Promise<boolean> {
    if (child.exitCode !== null || child.signalCode !== null) return true
    return await new Promise((resolve) => {
      const timer = setTimeout(() => resolve(false), ms)
      child.once('exit', () => { clearTimeout(timer); resolve(true) })
    })
  }

  async stop (): Promise<void> {
    const child = this.#child
    if (child === undefined) return
    child.kill('SIGTERM')
    if (!(await this.#waitExit(child, 30_000))) {
      child.kill('SIGKILL')
      await this.#waitExit(child, 10_000)
    }
  }

  async kill (): Promise<void> {
    const child = this.#child
    if (child === undefined) return
    child.kill('SIGKILL')
    await this.#waitExit(child, 10_000)
  }

  async restart (): Promise<void> {
    if (this.#closed) throw new TestEngineError('ENGINE_START_FAILED', `engine ${this.name} is closed`)
    await this.stop()
    await this.launch()
  }

  async logTail (lines = 30): Promise<string> {
    return await tail(this.#logFile, lines)
  }

  async close (): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    try {
      if (this.#child !== undefined && await ping(this.socketPath)) {
        const ids = (await this.docker(['ps', '-aq'], { timeoutMs: 30_000 })).stdout.split('\n').filter((id) => id !== '')
        if (ids.length > 0) await this.docker(['rm', '-f', '-v', ...ids], { timeoutMs: 60_000 })
        if (this.#options.swarm === true) await this.docker(['swarm', 'leave', '--force'], { timeoutMs: 30_000 })
        await this.docker(['network', 'prune', '-f'], { timeoutMs: 30_000 })
      }
    } finally {
      await this.stop()
      await scrubSlot(this.#slot)
    }
  }

  async [Symbol.asyncDispose] (): Promise<void> {
    await this.close()
  }
}

/**
 * Starts a private dockerd 20.10 with its own temp dir, unix socket, bridge
 * (`10.199.<slot>.0/24`), address pool (`10.<100+slot>.0.0/17` for user networks),
 * hostname and managed containerd, with `busybox:latest` loaded.
 *
 * @example
 * ```ts
 * await using engine = await startEngine({ name: 'node-a' })
 * const { stdout } = await engine.docker(['run', '--rm', 'busybox', 'echo', 'hello'])
 * ```
 */
export async function startEngine (options: EngineOptions = {}): Promise<Engine> {
  await ensureDockerTools({ scope: 'engine' })
  const slot = await allocateSlot()
  counter += 1
  const name = options.name ?? `lsw-${process.pid}-${counter}`
  let engine: PrivateEngine | undefined
  try {
    if (options.tcp === true && options.tls !== undefined) throw new TestEngineError('ENGINE_START_FAILED', 'startEngine: tcp and tls are exclusive (tls listens on TCP itself)')
    const tcpPort = options.tls !== undefined ? options.tls.port ?? await freePort() : options.tcp === true ? await freePort() : undefined
    engine = new PrivateEngine(slot, name, options, tcpPort, options.tls?.host)
    await mkdir(join(engine.dir, 'cli-config'), { recursive: true })
    if (options.tls !== undefined) {
      const tls = join(engine.dir, 'tls')
      await mkdir(tls, { recursive: true, mode: 0o700 })
      await writeFile(join(tls, 'ca.pem'), options.tls.caCert)
      await writeFile(join(tls, 'cert.pem'), options.tls.cert)
      await writeFile(join(tls, 'key.pem'), options.tls.key, { mode: 0o600 })
    }
    await engine.createBridge()
    const image = options.busybox === false ? undefined : busyboxImageTar()
    image?.catch(() => {})
    await engine.launch()
    if (image !== undefined) await engine.loadBusybox()
    if (options.swarm === true) await engine.initSwarm()
    return engine
  } catch (error) {
    if (engine !== undefined) await engine.close().catch(() => {})
    else await scrubSlot(slot)
    throw error
  }
}

