import { spawn, spawnSync, type ChildProcessByStdio } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Agent, type ClientRequest } from 'node:http'
import type { Socket } from 'node:net'
import { Duplex } from 'node:stream'
import type { Readable, Writable } from 'node:stream'

/** An engine reached through `ssh [-l USER] [-p PORT] HOST docker system dial-stdio`. */
export interface SshTarget {
  readonly host: string
  readonly user?: string | undefined
  readonly port?: number | undefined
  /** `-i FILE` (with `IdentitiesOnly=yes`): this key only, not the agent's or `~/.ssh/id_*`. */
  readonly keyFile?: string | undefined
  /** `UserKnownHostsFile=FILE`: the host key is checked against this file instead of `~/.ssh/known_hosts`. */
  readonly knownHostsFile?: string | undefined
  /** `-F FILE`: this ssh config instead of `~/.ssh/config`. */
  readonly configFile?: string | undefined
  /** More `-o KEY=VALUE` options; they come first, so they win over the defaults here. */
  readonly options?: readonly string[] | undefined
  /** The ssh program; default `ssh` on PATH. */
  readonly command?: string | undefined
}

/** What runs on the remote: the docker CLI's own bridge from stdio to its engine. */
const REMOTE_COMMAND = ['docker', 'system', 'dial-stdio']
/** Most of ssh's stderr kept for an error message. */
const MAX_STDERR = 4096

/** The `ssh` command line for one connection to the engine of `target`. */
export function sshArguments (target: SshTarget): string[] {
  const args: string[] = []
  for (const option of target.options ?? []) args.push('-o', option)
  if (target.configFile !== undefined) args.push('-F', target.configFile)
  if (target.keyFile !== undefined) args.push('-i', target.keyFile, '-o', 'IdentitiesOnly=yes')
  if (target.knownHostsFile !== undefined) args.push('-o', `UserKnownHostsFile=${target.knownHostsFile}`)
  // never a prompt (password, passphrase, unknown host key): there is no terminal, it would hang
  args.push('-o', 'BatchMode=yes', '-o', 'ConnectTimeout=20', '-o', 'ServerAliveInterval=10', '-o', 'ServerAliveCountMax=3', '-T')
  if (target.user !== undefined) args.push('-l', target.user)
  if (target.port !== undefined) args.push('-p', String(target.port))
  args.push('--', target.host, ...REMOTE_COMMAND)
  return args
}

/**
 * One connection to the engine: the stdin and stdout of an `ssh … docker system dial-stdio`
 * process, as the socket node:http speaks HTTP on. Ending it half-closes (ssh's stdin ends,
 * dial-stdio closes the engine connection's write side); destroying it ends the process.
 * When ssh fails before the engine said anything (authentication, host key, no docker on the
 * remote), the socket errors with ssh's own last words.
 */
export class SshStdioSocket extends Duplex {
  readonly #child: ChildProcessByStdio<Writable, Readable, Readable>
  #stderr = ''
  #received = 0
  #idleMs = 0
  #idleTimer: NodeJS.Timeout | undefined
  // the fields node:http reads from a net.Socket
  readonly remoteAddress: string | undefined

  constructor (target: SshTarget) {
    super({ allowHalfOpen: true })
    this.remoteAddress = target.host
    this.#child = spawn(target.command ?? 'ssh', sshArguments(target), { stdio: ['pipe', 'pipe', 'pipe'] })
    const child = this.#child
    child.stdout.on('data', (chunk: Buffer) => {
      this.#received += chunk.length
      this.#touch()
      if (!this.push(chunk)) child.stdout.pause()
    })
    child.stderr.setEncoding('utf8').on('data', (text: string) => {
      if (this.#stderr.length < MAX_STDERR) this.#stderr += text
    })
    child.stdin.on('error', () => {})
    child.on('error', (error: NodeJS.ErrnoException) => {
      this.destroy(new Error(`cannot run ${target.command ?? 'ssh'}: ${error.code ?? error.message}`, { cause: error }))
    })
    // 'close' waits for every pipe: a ControlPersist master that ssh leaves behind may hold its
    // stderr, so after 'exit' the end is decided at most a moment later, by whatever ssh said by then
    let ended = false
    const end = (code: number | null, signal: NodeJS.Signals | null): void => {
      if (ended) return
      ended = true
      this.#ended(code, signal)
    }
    child.on('close', end)
    child.on('exit', (code, signal) => { setTimeout(() => { end(code, signal) }, 300).unref() })
  }

  #ended (code: number | null, signal: NodeJS.Signals | null): void {
    if (this.destroyed) return
    if (code === 0) {
      const stdout = this.#child.stdout
      if (stdout.readableEnded) this.push(null)
      else stdout.once('end', () => { this.push(null) })
      return
    }
    // ssh ends its lines with \r\n: one line of its last words, without the carriage returns
    const said = this.#stderr.split(/[\r\n]+/).map((line) => line.trim()).filter((line) => line !== '').slice(-3).join(' ')
    const how = signal !== null ? `was killed by ${signal}` : `exited with status ${code ?? '?'}`
    const error = new Error(`ssh ${how}${said !== '' ? `: ${said}` : ''}`) as NodeJS.ErrnoException
    // a connection that carried an answer and then broke is a reset to node:http
    if (this.#received > 0) error.code = 'ECONNRESET'
    this.destroy(error)
  }

  override _read (): void {
    this.#child.stdout.resume()
  }

  override _write (chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.#touch()
    if (this.#child.stdin.write(chunk)) callback()
    else this.#child.stdin.once('drain', () => { callback() })
  }

  override _final (callback: (error?: Error | null) => void): void {
    this.#child.stdin.end()
    callback()
  }

  override _destroy (error: Error | null, callback: (error?: Error | null) => void): void {
    clearTimeout(this.#idleTimer)
    if (this.#child.exitCode === null && this.#child.signalCode === null) this.#child.kill('SIGTERM')
    this.#child.stdout.destroy()
    this.#child.stdin.destroy()
    callback(error)
  }

  /** Closes the connection once it has been unused for `ms` (a kept-alive one); 0 keeps it. */
  closeWhenIdle (ms: number): void {
    this.#idleMs = ms
    this.#touch()
  }

  #touch (): void {
    clearTimeout(this.#idleTimer)
    if (this.#idleMs <= 0 || this.destroyed) return
    this.#idleTimer = setTimeout(() => { this.destroy() }, this.#idleMs).unref()
  }

  /** node:http sets a timeout only when a request asks for one; none of ours does. */
  setTimeout (): this { return this }
  setNoDelay (): this { return this }
  setKeepAlive (): this { return this }

  /** An idle kept-alive connection does not keep the process alive, as with a net.Socket. */
  unref (): this {
    this.#child.unref()
    for (const pipe of [this.#child.stdin, this.#child.stdout, this.#child.stderr]) (pipe as unknown as { unref?: () => void }).unref?.()
    return this
  }

  ref (): this {
    this.#child.ref()
    for (const pipe of [this.#child.stdin, this.#child.stdout, this.#child.stderr]) (pipe as unknown as { ref?: () => void }).ref?.()
    return this
  }
}

/** How long an unused kept-alive ssh connection (an ssh process here, dial-stdio there) is kept. */
const IDLE_MS = 30_000

/**
 * The node:http agent for an ssh engine: every connection it makes is a {@link SshStdioSocket};
 * plain requests reuse kept-alive ones, each closed after {@link IDLE_MS} unused. All of them
 * share one ssh connection (OpenSSH's ControlMaster, its control socket in a private 0700
 * directory): the first one logs in, the others open channels on it, a few hundred ms
 * sooner each. `--ssh-option ControlMaster=no` turns that off.
 */
export class SshAgent extends Agent {
  readonly #target: SshTarget
  readonly #controlDir: string | undefined

  constructor (target: SshTarget) {
    super({ keepAlive: true })
    const own = (target.options ?? []).some((option) => /^Control(Master|Path)\b/i.test(option))
    this.#controlDir = own ? undefined : mkdtempSync(join(tmpdir(), 'libswarm-ssh-'))
    const shared = this.#controlDir === undefined ? [] : ['ControlMaster=auto', `ControlPath=${join(this.#controlDir, '%C')}`, 'ControlPersist=60']
    this.#target = { ...target, options: [...(target.options ?? []), ...shared] }
  }

  /** A connection of its own (hijack, streamed upload), on the same shared ssh connection. */
  connect (): SshStdioSocket {
    return new SshStdioSocket(this.#target)
  }

  override createConnection (): SshStdioSocket {
    return this.connect()
  }

  override keepSocketAlive (socket: Socket): boolean {
    const ssh = socket as unknown as SshStdioSocket
    ssh.unref()
    ssh.closeWhenIdle(IDLE_MS)
    return true
  }

  override reuseSocket (socket: Socket, request: ClientRequest): void {
    (socket as unknown as SshStdioSocket).closeWhenIdle(0)
    super.reuseSocket(socket, request)
  }

  /** Closes every connection, tells the shared ssh connection to exit, removes its directory. */
  override destroy (): void {
    super.destroy()
    const dir = this.#controlDir
    if (dir === undefined) return
    // synchronously (the master answers at once): a process that exits right after closing still removes the directory
    spawnSync(this.#target.command ?? 'ssh', ['-O', 'exit', ...sshArguments(this.#target).filter((arg) => arg !== '-T').slice(0, -3)], { stdio: 'ignore', timeout: 5000 })
    rmSync(dir, { recursive: true, force: true })
  }
}
