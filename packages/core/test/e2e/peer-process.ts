import { spawn, type ChildProcess } from 'node:child_process'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'

export const FIXTURE = fileURLToPath(new URL('../fixtures/wire-peer.mjs', import.meta.url))

/** A wire peer in a child process. */
export interface PeerProcess {
  child: ChildProcess
  address: string
  kill (): Promise<void>
}

/** Starts the fixture listening on `address`; resolves with the address it reports. */
export async function startListeningPeer (address: string, env: Record<string, string> = {}): Promise<PeerProcess> {
  const child = spawn(process.execPath, [FIXTURE, 'listen', address], { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, ...env } })
  const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream })
  const real = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => { reject(new Error('peer did not start in 20 s')) }, 20_000)
    lines.once('line', (line) => { clearTimeout(timer); resolve(line.replace(/^ready /, '')) })
    child.once('exit', (code) => { clearTimeout(timer); reject(new Error(`peer exited with ${String(code)}`)) })
  })
  return { child, address: real, kill: async () => { await killPeer(child) } }
}

/** Starts the fixture speaking the wire on its stdin/stdout. */
export function startStdioPeer (env: Record<string, string> = {}): ChildProcess {
  return spawn(process.execPath, [FIXTURE, 'stdio'], { stdio: ['pipe', 'pipe', 'inherit'], env: { ...process.env, ...env } })
}

export async function killPeer (child: ChildProcess, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return
  const exited = new Promise<void>((resolve) => child.once('exit', () => { resolve() }))
  child.kill(signal)
  await exited
}
