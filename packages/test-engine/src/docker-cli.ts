import { spawn, type ChildProcessByStdio } from 'node:child_process'
import { mkdir, symlink } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import type { Readable } from 'node:stream'
import { DOCKER28 } from './paths.js'
import { runCommand, type CommandResult } from './run-command.js'

/** Options of {@link runDockerCli}. */
export interface DockerCliOptions {
  /** The CLI's HOME; its config is `HOME/cli`, so logins never touch `~/.docker`. */
  home: string
  /** Which docker CLI: {@link DOCKER28} (default), {@link DOCKER20}, or another program such as docker-compose. */
  cli?: string | undefined
  input?: string | undefined
  cwd?: string | undefined
  /** Default 30 s; the command is killed past it (code -1). */
  timeoutMs?: number | undefined
}

/**
 * Runs the docker CLI against `host` (any `DOCKER_HOST`: a dockerserver's socket, swarmd's)
 * with nothing of the user's environment but `PATH`; never rejects for a non-zero exit.
 */
export async function runDockerCli (host: string, args: readonly string[], options: DockerCliOptions): Promise<CommandResult> {
  return await runCommand(options.cli ?? DOCKER28, args, {
    env: { PATH: process.env.PATH, HOME: options.home, DOCKER_HOST: host, DOCKER_CONFIG: join(options.home, 'cli') },
    input: options.input,
    cwd: options.cwd ?? options.home,
    timeoutMs: options.timeoutMs ?? 30_000
  })
}

/** Like {@link runDockerCli}, answering the trimmed stdout; throws with the CLI's stderr when it fails. */
export async function dockerCliOutput (host: string, args: readonly string[], options: DockerCliOptions): Promise<string> {
  const result = await runDockerCli(host, args, options)
  if (result.code !== 0) throw new Error(`docker ${args.join(' ')} failed (${result.code}): ${result.stderr}`)
  return result.stdout.trim()
}

/** Options of {@link startSwarmd}. */
export interface SwarmdOptions {
  /** swarmd's `bin/swarmd.js`, as the package under test has it installed. */
  bin: string
  /** swarmd's chain arguments, such as `dockerserver unix://…` and the service's spec. */
  args: readonly string[]
  /** Its working directory (made if missing): where it looks for installed service packages. */
  cwd: string
  /** Packages to install there first, by a link to their folder: `{ '@libswarm/orchard': dir }`. */
  packages?: Readonly<Record<string, string>> | undefined
  /** Its environment beyond PATH (a cloud's credentials, say). */
  env?: Readonly<Record<string, string | undefined>> | undefined
}

/** A running swarmd process. */
export interface Swarmd extends AsyncDisposable {
  readonly process: ChildProcessByStdio<null, Readable, Readable>
  /** What it has written to stderr so far (for an assertion's message). */
  log: () => string
  /** SIGTERM, then SIGKILL after 20 s; resolves once it has exited. */
  close: () => Promise<void>
}

/**
 * Runs the real swarmd with `args` in `cwd`, with `packages` installed there as links, so that
 * swarmd finds a third-party service by its package name as it would for a user.
 *
 * @example
 * await using swarmd = await startSwarmd({ bin: SWARMD, cwd, args: [`dockerserver unix://${socket}`, '@libswarm/orchard ...'], packages: { '@libswarm/orchard': PACKAGE_DIR } })
 */
export async function startSwarmd (options: SwarmdOptions): Promise<Swarmd> {
  await mkdir(options.cwd, { recursive: true })
  for (const [name, dir] of Object.entries(options.packages ?? {})) {
    const link = join(options.cwd, 'node_modules', name)
    await mkdir(dirname(link), { recursive: true })
    await symlink(dir, link)
  }
  const child = spawn(process.execPath, [options.bin, ...options.args], { cwd: options.cwd, env: { PATH: process.env.PATH, ...options.env }, stdio: ['ignore', 'pipe', 'pipe'] })
  let log = ''
  child.stdout.resume()
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => { if (log.length < 100_000) log += chunk })
  const exited = new Promise<void>((resolve) => { child.once('exit', () => { resolve() }) })
  const close = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM')
      const timer = setTimeout(() => child.kill('SIGKILL'), 20_000)
      await exited
      clearTimeout(timer)
    }
  }
  return { process: child, log: () => log, close, [Symbol.asyncDispose]: close }
}
