import { spawn } from 'node:child_process'
import { TestEngineError } from './errors.js'

/** What a finished command printed and how it ended (`code` is -1 when it was killed). */
export interface CommandResult { stdout: string, stderr: string, code: number }

/** Options of {@link runCommand}. */
export interface RunOptions {
  input?: string | Buffer
  env?: NodeJS.ProcessEnv
  timeoutMs?: number
  cwd?: string
}

/**
 * Runs a program to completion without a shell, collecting its output. Never rejects for
 * a non-zero exit; a timeout kills the process group and yields code -1.
 */
export async function runCommand (file: string, args: readonly string[], options: RunOptions = {}): Promise<CommandResult> {
  const timeoutMs = options.timeoutMs ?? 120_000
  return await new Promise((resolve, reject) => {
    const child = spawn(file, args, { env: options.env ?? process.env, cwd: options.cwd, stdio: ['pipe', 'pipe', 'pipe'] })
    const out: Buffer[] = []
    const err: Buffer[] = []
    let timedOut = false
    const timer = setTimeout(() => { timedOut = true; child.kill('SIGKILL') }, timeoutMs)
    child.stdout.on('data', (chunk: Buffer) => out.push(chunk))
    child.stderr.on('data', (chunk: Buffer) => err.push(chunk))
    child.stdin.on('error', () => {})
    child.on('error', (error) => { clearTimeout(timer); reject(new TestEngineError('COMMAND_FAILED', `cannot run ${file}: ${error.message}`, { cause: error })) })
    child.on('close', (code) => {
      clearTimeout(timer)
      const stderr = Buffer.concat(err).toString() + (timedOut ? `\n[killed after ${timeoutMs} ms]` : '')
      resolve({ stdout: Buffer.concat(out).toString(), stderr, code: timedOut ? -1 : (code ?? -1) })
    })
    child.stdin.end(options.input)
  })
}

/** Like {@link runCommand} but rejects with the command's stderr when it does not exit 0. */
export async function runChecked (file: string, args: readonly string[], options: RunOptions = {}): Promise<string> {
  const result = await runCommand(file, args, options)
  if (result.code !== 0) {
    throw new TestEngineError('COMMAND_FAILED', `${file} ${args.join(' ')} exited ${result.code}: ${result.stderr.trim() || result.stdout.trim()}`)
  }
  return result.stdout
}
