import { execFileSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'

/** Debian's python, which has python3-h2 and python3-msgpack (a pyenv python on PATH may not). */
export const PYTHON = '/usr/bin/python3'

/** The Python service speaking the wire, in test/fixtures. */
export const WIRE_SERVICE = fileURLToPath(new URL('./fixtures/wire_service.py', import.meta.url))

function hasModules (): boolean {
  try {
    execFileSync(PYTHON, ['-c', 'import h2, msgpack'], { stdio: 'ignore', timeout: 20_000 })
    return true
  } catch {
    return false
  }
}

/** Installs python3-h2 and python3-msgpack with apt-get when they are missing (CI machines start fresh). */
export function ensurePythonModules (): void {
  if (hasModules()) return
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }
  execFileSync('apt-get', ['update', '-qq'], { stdio: 'inherit', env, timeout: 300_000 })
  execFileSync('apt-get', ['install', '-y', '-qq', '-o', 'DPkg::Lock::Timeout=300', '--no-install-recommends', 'python3', 'python3-h2', 'python3-msgpack'], { stdio: 'inherit', env, timeout: 300_000 })
  if (!hasModules()) throw new Error(`${PYTHON} still cannot import h2 and msgpack after apt-get install python3-h2 python3-msgpack`)
}
