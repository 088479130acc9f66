import { spawn, type ChildProcess } from 'node:child_process'
import { closeSync, openSync } from 'node:fs'
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { connect } from 'node:net'
import { join } from 'node:path'
import { freePort } from './engine.js'
import { TestEngineError } from './errors.js'
import { ENGINES_ROOT } from './paths.js'
import { runChecked } from './run-command.js'

/** Where Debian's openssh-server installs the daemon. */
export const SSHD = '/usr/sbin/sshd'

/** Options of {@link startSshd}. */
export interface SshdOptions {
  /**
   * The engine that `docker system dial-stdio` run over this sshd reaches: its sessions get
   * `DOCKER_HOST` set to it (sshd's `SetEnv`), so they never see the system's engine.
   */
  dockerHost?: string | undefined
  /** More variables for every session (sshd `SetEnv`), such as `PATH=/var/empty` for a host without docker. */
  env?: Readonly<Record<string, string>> | undefined
  /** Listen address; default `127.0.0.1`. */
  host?: string | undefined
  /** Listen port; default a free one. */
  port?: number | undefined
  /** Host key to use (OpenSSH private key text); default a fresh ed25519 key. */
  hostKey?: string | undefined
  /** Public keys (`ssh-ed25519 AAAA…` lines) allowed to log in as root, besides the client key this makes. */
  authorizedKeys?: readonly string[] | undefined
}

/** A running sshd on loopback that lets root in by key only. */
export interface Sshd extends AsyncDisposable {
  readonly host: string
  readonly port: number
  /** `ssh://root@HOST:PORT`, for `dockerclient` and `docker -H`. */
  readonly address: string
  /** A private key (file, 0600) sshd accepts for root. */
  readonly clientKeyFile: string
  /** A known_hosts file holding this sshd's host key for `[HOST]:PORT`. */
  readonly knownHostsFile: string
  /** The host key's public line (`ssh-ed25519 AAAA…`). */
  readonly hostPublicKey: string
  /** SIGKILLs every session this sshd runs (their TCP connections drop); the listener stays. */
  dropSessions: () => Promise<void>
  /** Stops sshd and its sessions and deletes its files. */
  close: () => Promise<void>
  /** sshd's log (`-E`), for an assertion's message. */
  log: () => Promise<string>
}

/** Writes a fresh ed25519 key pair with `ssh-keygen`; answers the private key file. */
export async function generateSshKey (file: string): Promise<{ privateKeyFile: string, publicKey: string }> {
  await runChecked('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'libswarm-test', '-f', file], { timeoutMs: 20_000 })
  return { privateKeyFile: file, publicKey: (await readFile(`${file}.pub`, 'utf8')).trim() }
}

async function banner (host: string, port: number): Promise<boolean> {
  return await new Promise((resolve) => {
    const socket = connect({ host, port })
    const timer = setTimeout(() => { socket.destroy(); resolve(false) }, 2000)
    socket.once('data', (chunk: Buffer) => { clearTimeout(timer); socket.destroy(); resolve(chunk.toString().startsWith('SSH-2.0-')) })
    socket.once('error', () => { clearTimeout(timer); resolve(false) })
  })
}

/** Pids of every descendant of `root`, children first listed after their parents. */
async function descendants (root: number): Promise<number[]> {
  const parents = new Map<number, number>()
  for (const entry of await readdir('/proc')) {
    const pid = Number(entry)
    if (!Number.isInteger(pid)) continue
    try {
      const stat = await readFile(`/proc/${pid}/stat`, 'utf8')
      parents.set(pid, Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]))
    } catch {}
  }
  const found: number[] = []
  const queue = [root]
  while (queue.length > 0) {
    const parent = queue.shift() as number
    for (const [pid, ppid] of parents) {
      if (ppid === parent && !found.includes(pid)) { found.push(pid); queue.push(pid) }
    }
  }
  return found
}

let staleSwept = false

/**
 * Stops the sshd of every `sshd-*` directory whose test process is gone (a test runner that
 * ended its worker before a close finished) and removes the directory, once per process.
 */
async function sweepStaleSshd (): Promise<void> {
  if (staleSwept) return
  staleSwept = true
  for (const entry of await readdir(ENGINES_ROOT).catch(() => [] as string[])) {
    if (!entry.startsWith('sshd-')) continue
    const dir = join(ENGINES_ROOT, entry)
    const owner = Number(await readFile(join(dir, 'owner'), 'utf8').catch(() => ''))
    if (!Number.isInteger(owner) || owner <= 0 || alive(owner)) continue
    const pid = Number(await readFile(join(dir, 'sshd.pid'), 'utf8').catch(() => ''))
    if (Number.isInteger(pid) && pid > 0) {
      const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')
      if (cmdline.includes(dir)) {
        for (const child of await descendants(pid)) {
          try { process.kill(child, 'SIGKILL') } catch {}
        }
        try { process.kill(pid, 'SIGKILL') } catch {}
      }
    }
    await rm(dir, { recursive: true, force: true })
  }
}

function alive (pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/**
 * Starts Debian's OpenSSH sshd on a free loopback port with a config of its own (its own host
 * key, an AuthorizedKeysFile in a temp dir, root by key only, no PAM), whose sessions reach
 * `dockerHost` when they run `docker`. The system's sshd and its keys are never touched.
 *
 * @example
 * ```ts
 * await using engine = await startEngine()
 * await using sshd = await startSshd({ dockerHost: engine.host })
 * // ssh -i sshd.clientKeyFile -o UserKnownHostsFile=sshd.knownHostsFile -p sshd.port root@127.0.0.1 docker ps
 * ```
 */
export async function startSshd (options: SshdOptions = {}): Promise<Sshd> {
  const host = options.host ?? '127.0.0.1'
  await mkdir(ENGINES_ROOT, { recursive: true })
  await sweepStaleSshd()
  const dir = await mkdtemp(join(ENGINES_ROOT, 'sshd-'))
  await chmod(dir, 0o700)
  await writeFile(join(dir, 'owner'), String(process.pid))
  // sshd refuses to start without its privilege separation directory (the Debian service makes it)
  await mkdir('/run/sshd', { recursive: true, mode: 0o755 })
  const hostKeyFile = join(dir, 'host_key')
  if (options.hostKey !== undefined) {
    await writeFile(hostKeyFile, options.hostKey, { mode: 0o600 })
  } else {
    await runChecked('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'libswarm-test-host', '-f', hostKeyFile], { timeoutMs: 20_000 })
  }
  const hostPublicKey = (await runChecked('ssh-keygen', ['-y', '-f', hostKeyFile], { timeoutMs: 20_000 })).trim()
  const client = await generateSshKey(join(dir, 'client_key'))
  await writeFile(join(dir, 'authorized_keys'), [client.publicKey, ...(options.authorizedKeys ?? [])].join('\n') + '\n', { mode: 0o600 })
  const port = options.port ?? await freePort()
  const env = { ...(options.dockerHost !== undefined ? { DOCKER_HOST: options.dockerHost } : {}), ...options.env }
  const config = join(dir, 'sshd_config')
  await writeFile(config, [
    `ListenAddress ${host}:${port}`,
    `HostKey ${hostKeyFile}`,
    `PidFile ${join(dir, 'sshd.pid')}`,
    `AuthorizedKeysFile ${join(dir, 'authorized_keys')}`,
    'PermitRootLogin prohibit-password',
    'PubkeyAuthentication yes',
    'PasswordAuthentication no',
    'KbdInteractiveAuthentication no',
    'UsePAM no',
    // the temp dir is not under root's home: skip the ownership checks meant for ~/.ssh
    'StrictModes no',
    'AllowTcpForwarding no',
    'X11Forwarding no',
    'LogLevel VERBOSE',
    ...(Object.keys(env).length > 0 ? [`SetEnv ${Object.entries(env).map(([key, value]) => `${key}=${value}`).join(' ')}`] : []),
    ''
  ].join('\n'))
  const logFile = join(dir, 'sshd.log')
  const knownHostsFile = join(dir, 'known_hosts')
  await writeFile(knownHostsFile, `[${host}]:${port} ${hostPublicKey}\n`)
  const out = openSync(logFile, 'a')
  let child: ChildProcess
  try {
    child = spawn(SSHD, ['-D', '-f', config, '-E', logFile], { stdio: ['ignore', out, out] })
  } finally {
    closeSync(out)
  }
  let exited = false
  child.once('exit', () => { exited = true })
  const onExit = (): void => { child.kill('SIGKILL') }
  process.once('exit', onExit)
  const log = async (): Promise<string> => await readFile(logFile, 'utf8').catch(() => '')
  const dropSessions = async (): Promise<void> => {
    if (child.pid === undefined) return
    for (const pid of await descendants(child.pid)) {
      try { process.kill(pid, 'SIGKILL') } catch {}
    }
  }
  const close = async (): Promise<void> => {
    process.removeListener('exit', onExit)
    await dropSessions()
    if (!exited) {
      child.kill('SIGTERM')
      await new Promise((resolve) => { child.once('exit', resolve); setTimeout(resolve, 5000) })
      if (!exited) child.kill('SIGKILL')
    }
    await rm(dir, { recursive: true, force: true })
  }
  const deadline = Date.now() + 20_000
  while (!(await banner(host, port))) {
    if (exited || Date.now() > deadline) {
      const text = await log()
      await close()
      throw new TestEngineError('SSHD_START_FAILED', `sshd on ${host}:${port} did not start: ${text.trim().split('\n').slice(-10).join('\n')}`)
    }
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  return {
    host,
    port,
    address: `ssh://root@${host}:${port}`,
    clientKeyFile: client.privateKeyFile,
    knownHostsFile,
    hostPublicKey,
    dropSessions,
    close,
    log,
    [Symbol.asyncDispose]: close
  }
}
