import { runCommand } from './run-command.js'
import { withFileLock } from './file-lock.js'
import { TestEngineError } from './errors.js'
import { ENGINES_ROOT } from './paths.js'
import { join } from 'node:path'

/** Debian packages the project's e2e tests rely on. */
export const DOCKER_TOOL_PACKAGES = ['docker.io', 'busybox-static', 'docker-registry', 'docker-compose', 'python3-docker', 'python3-h2', 'python3-msgpack'] as const

/** Commands that must be on PATH for an engine to start (and the package providing each). */
const ENGINE_COMMANDS: Record<string, string> = {
  dockerd: 'docker.io',
  containerd: 'docker.io',
  runc: 'docker.io',
  busybox: 'busybox-static',
  'docker-registry': 'docker-registry',
  'docker-compose': 'docker-compose',
  unshare: 'util-linux',
  ip: 'iproute2'
}

/** Options of {@link ensureDockerTools}. */
export interface EnsureDockerToolsOptions {
  /**
   * `'all'` (default) checks every package of {@link DOCKER_TOOL_PACKAGES};
   * `'engine'` only what {@link startEngine} needs (dockerd, busybox, docker-registry…).
   */
  scope?: 'all' | 'engine'
}

const checked = new Map<string, Promise<void>>()

async function missingTools (scope: 'all' | 'engine'): Promise<string[]> {
  const missing: string[] = []
  for (const [command, pkg] of Object.entries(ENGINE_COMMANDS)) {
    const found = await runCommand('sh', ['-c', `command -v ${command}`], { timeoutMs: 10_000 })
    if (found.code !== 0) missing.push(pkg)
  }
  if (scope === 'all') {
    for (const pkg of DOCKER_TOOL_PACKAGES) {
      const status = await runCommand('dpkg-query', ['-W', '-f=${Status}', pkg], { timeoutMs: 10_000 })
      if (!status.stdout.includes('install ok installed')) missing.push(pkg)
    }
  }
  return [...new Set(missing)]
}

/**
 * Makes sure docker.io, busybox-static, docker-registry, docker-compose and the python
 * packages are installed, running `apt-get update && apt-get install -y …` only when
 * something is missing. Machine-wide lock: the first test that needs it installs, the
 * others wait. Checked once per process and scope.
 */
export async function ensureDockerTools (options: EnsureDockerToolsOptions = {}): Promise<void> {
  const scope = options.scope ?? 'all'
  let pending = checked.get(scope)
  if (pending === undefined) {
    pending = installMissing(scope)
    checked.set(scope, pending)
    pending.catch(() => checked.delete(scope))
  }
  await pending
}

async function installMissing (scope: 'all' | 'engine'): Promise<void> {
  if ((await missingTools(scope)).length === 0) return
  await withFileLock(join(ENGINES_ROOT, '.apt.lock'), async () => {
    const missing = await missingTools(scope)
    if (missing.length === 0) return
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }
    const script = `apt-get update && apt-get install -y ${DOCKER_TOOL_PACKAGES.join(' ')}`
    const result = await runCommand('sh', ['-c', script], { env, timeoutMs: 900_000 })
    if (result.code !== 0) {
      throw new TestEngineError('TOOLS_MISSING', `missing ${missing.join(', ')}; "${script}" failed (${result.code}): ${result.stderr.trim().split('\n').slice(-5).join('\n')}`)
    }
    const still = await missingTools(scope)
    if (still.length > 0) throw new TestEngineError('TOOLS_MISSING', `still missing after apt-get install: ${still.join(', ')}`)
  })
}
