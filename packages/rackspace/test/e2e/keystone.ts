import { spawn, spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { freePort } from '@libswarm/test-engine'

/** A real Keystone (Debian's `keystone` package) on loopback, with sqlite and `keystone-manage bootstrap`. */
export interface Keystone extends AsyncDisposable {
  /** `http://127.0.0.1:PORT/v3` */
  url: string
  adminPassword: string
  /** The last lines Keystone logged. */
  log: () => string
  close: () => Promise<void>
}

/** Why Keystone cannot run here, or undefined when `keystone-manage` and `keystone-wsgi-public` are installed. */
export function keystoneSkipReason (): string | undefined {
  const found = spawnSync('sh', ['-c', 'command -v keystone-manage && command -v keystone-wsgi-public'], { encoding: 'utf8' })
  return found.status === 0 ? undefined : 'skipping the real-Keystone tests: Debian\'s keystone package is not installed (apt-get install -y keystone)'
}

/**
 * Configures a Keystone in a temp dir (sqlite database, fernet and credential keys), bootstraps
 * the `admin` user and project with `keystone-manage`, and serves `keystone-wsgi-public` (the
 * package's WSGI script, run under Python's wsgiref server) on 127.0.0.1.
 */
export async function startKeystone (): Promise<Keystone> {
  const dir = mkdtempSync(join(tmpdir(), 'libswarm-keystone-'))
  const port = await freePort()
  const url = `http://127.0.0.1:${port}/v3`
  const adminPassword = 'libswarm-admin'
  writeFileSync(join(dir, 'keystone.conf'), [
    '[DEFAULT]', 'use_stderr = true',
    '[database]', `connection = sqlite:///${dir}/keystone.db?timeout=5`,
    '[fernet_tokens]', `key_repository = ${dir}/fernet-keys`,
    '[fernet_receipts]', `key_repository = ${dir}/fernet-receipts`,
    '[credential]', `key_repository = ${dir}/credential-keys`,
    '[token]', 'provider = fernet',
    // bcrypt's fewest rounds: each token costs a hash check, and this machine's cores are shared
    '[identity]', 'password_hash_rounds = 4',
    '[cache]', 'enabled = false', ''
  ].join('\n'))
  const manage = async (...args: string[]): Promise<void> => { await run('keystone-manage', ['--config-file', join(dir, 'keystone.conf'), ...args], dir) }
  try {
    await manage('db_sync')
    await manage('fernet_setup', '--keystone-user', 'root', '--keystone-group', 'root')
    await manage('credential_setup', '--keystone-user', 'root', '--keystone-group', 'root')
    await manage('bootstrap', '--bootstrap-password', adminPassword, '--bootstrap-admin-url', url, '--bootstrap-public-url', url, '--bootstrap-region-id', 'RegionOne')
    // in sqlite's default journal a read Keystone leaves open blocks the next write's commit ("database is locked"); WAL lets both go
    await run('python3', ['-c', 'import sqlite3, sys; sqlite3.connect(sys.argv[1]).execute("PRAGMA journal_mode=WAL")', join(dir, 'keystone.db')], dir)
  } catch (error) {
    rmSync(dir, { recursive: true, force: true })
    throw error
  }
  const server = spawn('keystone-wsgi-public', ['--host', '127.0.0.1', '--port', String(port)], {
    cwd: dir,
    env: { ...process.env, OS_KEYSTONE_CONFIG_DIR: dir, OS_KEYSTONE_CONFIG_FILES: 'keystone.conf' },
    stdio: ['ignore', 'ignore', 'pipe']
  })
  let log = ''
  server.stderr.on('data', (chunk: Buffer) => { log = (log + chunk.toString()).slice(-4000) })
  const close = async (): Promise<void> => {
    if (server.exitCode === null && server.signalCode === null) {
      const exited = new Promise((resolve) => server.once('exit', resolve))
      server.kill('SIGTERM')
      await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 3000))])
      if (server.exitCode === null && server.signalCode === null) server.kill('SIGKILL')
    }
    rmSync(dir, { recursive: true, force: true })
  }
  const deadline = Date.now() + 60_000
  for (;;) {
    try {
      if ((await fetch(url, { signal: AbortSignal.timeout(2000) })).ok) break
    } catch {}
    if (server.exitCode !== null || Date.now() > deadline) {
      await close()
      throw new Error(`keystone-wsgi-public did not answer on ${url}: ${log}`)
    }
    await new Promise((resolve) => setTimeout(resolve, 250))
  }
  return { url, adminPassword, log: () => log, close, [Symbol.asyncDispose]: close }
}

async function run (command: string, args: string[], cwd: string): Promise<void> {
  const child = spawn(command, args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] })
  let log = ''
  child.stderr.on('data', (chunk: Buffer) => { log = (log + chunk.toString()).slice(-4000) })
  const timer = setTimeout(() => { child.kill('SIGKILL') }, 120_000)
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve))
  clearTimeout(timer)
  if (code !== 0) throw new Error(`${command} ${args.join(' ')} exited ${String(code)}: ${log}`)
}
