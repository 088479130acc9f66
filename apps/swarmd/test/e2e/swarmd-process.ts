import { spawn, type ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'

/** The real swarmd command, as installed (bin/swarmd.js loads dist/cli.js). */
export const SWARMD = fileURLToPath(new URL('../../bin/swarmd.js', import.meta.url))

/** A swarmd process under test: its output so far, and its exit. */
export interface SwarmdProcess extends AsyncDisposable {
  readonly child: ChildProcess
  readonly stdout: () => string
  readonly stderr: () => string
  /** Resolves with the exit code (or the signal's name). */
  readonly exited: Promise<number | string>
  /** Resolves when stderr has a line matching `pattern`; rejects at exit or after `timeout` ms. */
  waitForLog (pattern: RegExp, timeout?: number): Promise<string>
}

/** Starts swarmd with `args`; every test disposes of it, killing it if still running. */
export function startSwarmdProcess (args: string[], options: { cwd?: string, env?: NodeJS.ProcessEnv } = {}): SwarmdProcess {
  const child = spawn(process.execPath, [SWARMD, ...args], { cwd: options.cwd, env: { ...process.env, ...options.env }, stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  let err = ''
  const listeners = new Set<() => void>()
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => { out += chunk })
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => { err += chunk; for (const listener of listeners) listener() })
  const exited = new Promise<number | string>((resolve) => {
    child.on('exit', (code, signal) => { resolve(code ?? signal ?? 'unknown'); for (const listener of listeners) listener() })
  })
  let exitedYet = false
  void exited.then(() => { exitedYet = true })
  return {
    child,
    stdout: () => out,
    stderr: () => err,
    exited,
    waitForLog: async (pattern, timeout = 15_000) => await new Promise<string>((resolve, reject) => {
      const check = (): void => {
        const line = err.split('\n').find((candidate) => pattern.test(candidate))
        if (line !== undefined) { done(); resolve(line); return }
        if (exitedYet || child.exitCode !== null) { done(); reject(new Error(`swarmd exited before logging ${pattern}; stderr:\n${err}`)) }
      }
      const timer = setTimeout(() => { done(); reject(new Error(`no log line matching ${pattern} within ${timeout} ms; stderr:\n${err}`)) }, timeout)
      const done = (): void => { clearTimeout(timer); listeners.delete(check) }
      listeners.add(check)
      check()
    }),
    [Symbol.asyncDispose]: async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGKILL')
        await exited
      }
    }
  }
}

/** Runs swarmd to completion (with a timeout) and returns its exit code and output. */
export async function runSwarmd (args: string[], options: { cwd?: string, env?: NodeJS.ProcessEnv, timeout?: number } = {}): Promise<{ code: number | string, stdout: string, stderr: string }> {
  await using swarmd = startSwarmdProcess(args, options)
  const timer = setTimeout(() => { swarmd.child.kill('SIGKILL') }, options.timeout ?? 20_000)
  const code = await swarmd.exited
  clearTimeout(timer)
  return { code, stdout: swarmd.stdout(), stderr: swarmd.stderr() }
}
