import { spawn, spawnSync } from 'node:child_process'
import { cpSync, existsSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs'
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
  const built = await keystoneTemplate()
  const dir = mkdtempSync(join(tmpdir(), 'libswarm-keystone-'))
  cpSync(built, dir, { recursive: true })
  writeConfig(dir)
  const port = await freePort()
  const url = `http://127.0.0.1:${port}/v3`
  const adminPassword = ADMIN_PASSWORD
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
  try {
    await registerIdentityEndpoint(url)
  } catch (error) {
    await close()
    throw error
  }
  return { url, adminPassword, log: () => log, close, [Symbol.asyncDispose]: close }
}

const ADMIN_PASSWORD = 'libswarm-admin'

function writeConfig (dir: string): void {
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
}

/**
 * A bootstrapped Keystone (database, fernet and credential keys, the admin user and project), made
 * once per installed keystone version under the temp dir and copied for each start: `db_sync` is
 * most of a start's time. The catalog's endpoints are registered by each start, on its own port.
 */
async function keystoneTemplate (): Promise<string> {
  const version = spawnSync('dpkg-query', ['-W', '-f', '${Version}', 'keystone'], { encoding: 'utf8' }).stdout.trim() || 'unknown'
  const path = join(tmpdir(), `libswarm-keystone-template-${version.replace(/[^\w.-]/g, '_')}`)
  if (existsSync(join(path, 'ready'))) return path
  const build = mkdtempSync(join(tmpdir(), 'libswarm-keystone-build-'))
  writeConfig(build)
  const manage = async (...args: string[]): Promise<void> => { await run('keystone-manage', ['--config-file', join(build, 'keystone.conf'), ...args], build) }
  try {
    await manage('db_sync')
    await manage('fernet_setup', '--keystone-user', 'root', '--keystone-group', 'root')
    await manage('credential_setup', '--keystone-user', 'root', '--keystone-group', 'root')
    await manage('bootstrap', '--bootstrap-password', ADMIN_PASSWORD, '--bootstrap-region-id', 'RegionOne')
    // in sqlite's default journal a read Keystone leaves open blocks the next write's commit ("database is locked"); WAL lets both go
    await run('python3', ['-c', 'import sqlite3, sys; sqlite3.connect(sys.argv[1]).execute("PRAGMA journal_mode=WAL")', join(build, 'keystone.db')], build)
    writeFileSync(join(build, 'ready'), version)
    if (existsSync(path)) rmSync(path, { recursive: true, force: true }) // left half-made by a run that died
    renameSync(build, path)
  } catch (error) {
    rmSync(build, { recursive: true, force: true })
    if (existsSync(join(path, 'ready'))) return path // another run made it meanwhile
    throw error
  }
  return path
}

/** Registers Keystone's own public endpoint on this start's port, as `bootstrap --bootstrap-public-url` would. */
async function registerIdentityEndpoint (url: string): Promise<void> {
  const auth = { auth: { identity: { methods: ['password'], password: { user: { name: 'admin', domain: { name: 'Default' }, password: ADMIN_PASSWORD } } }, scope: { project: { name: 'admin', domain: { name: 'Default' } } } } }
  const answer = await fetch(`${url}/auth/tokens`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(auth) })
  const token = answer.headers.get('x-subject-token')
  if (answer.status !== 201 || token === null) throw new Error(`Keystone refused the admin password: ${answer.status} ${await answer.text()}`)
  const call = async (method: string, path: string, body?: unknown): Promise<Record<string, unknown>> => {
    const reply = await fetch(`${url}${path}`, { method, headers: { 'X-Auth-Token': token, 'Content-Type': 'application/json' }, ...(body === undefined ? {} : { body: JSON.stringify(body) }) })
    if (reply.status >= 300) throw new Error(`${method} ${path}: ${reply.status} ${await reply.text()}`)
    return await reply.json() as Record<string, unknown>
  }
  const services = (await call('GET', '/services?type=identity'))['services'] as Array<{ id: string }>
  const service = services[0] ?? (await call('POST', '/services', { service: { type: 'identity', name: 'keystone' } }))['service'] as { id: string }
  await call('POST', '/endpoints', { endpoint: { service_id: service.id, interface: 'public', region_id: 'RegionOne', url } })
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
