import { execFileSync } from 'node:child_process'
import { accessSync, constants } from 'node:fs'
import { delimiter, join } from 'node:path'
import { TestEngineError } from './errors.js'
import { DOCKER20, DOCKER28 } from './paths.js'
import { SSHD } from './sshd.js'

/**
 * What a test may need from the machine:
 * - `engine`: root and `dockerd` on PATH, so {@link startEngine} can run private engines;
 * - `docker-cli`: the docker CLI ({@link DOCKER28} or {@link DOCKER20});
 * - `docker-compose`: `docker-compose` on PATH;
 * - `python3-docker`: `/usr/bin/python3` with Debian's python3-docker;
 * - `python3-h2`: `/usr/bin/python3` with Debian's python3-h2 and python3-msgpack;
 * - `sshd`: OpenSSH's `/usr/sbin/sshd`, `ssh` and `ssh-keygen`, for {@link startSshd}.
 */
export type TestNeed = 'engine' | 'docker-cli' | 'docker-compose' | 'python3-docker' | 'python3-h2' | 'sshd'

/** Set to `1` (CI does) to fail instead of skipping tests whose needs are missing. */
export const NO_SKIP_VARIABLE = 'LIBSWARM_TEST_NO_SKIP'

const PYTHON = '/usr/bin/python3'
const known = new Map<TestNeed, string | undefined>()
const printed = new Set<string>()

function onPath (command: string): boolean {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir === '') continue
    try {
      accessSync(join(dir, command), constants.X_OK)
      return true
    } catch {}
  }
  return false
}

function executable (path: string): boolean {
  try {
    accessSync(path, constants.X_OK)
    return true
  } catch {
    return false
  }
}

function pythonImports (modules: string): boolean {
  if (!executable(PYTHON)) return false
  try {
    execFileSync(PYTHON, ['-c', `import ${modules}`], { stdio: 'ignore', timeout: 20_000 })
    return true
  } catch {
    return false
  }
}

function check (need: TestNeed): string | undefined {
  switch (need) {
    case 'engine': {
      const uid = process.getuid?.()
      if (uid !== 0) return `need root to start private Docker engines (this is uid ${uid ?? 'unknown'})`
      if (!onPath('dockerd')) return 'need dockerd on PATH (Debian: apt-get install docker.io)'
      return undefined
    }
    case 'docker-cli':
      return executable(DOCKER28) || executable(DOCKER20) ? undefined : `need the docker CLI at ${DOCKER28} or ${DOCKER20} (Debian: apt-get install docker.io)`
    case 'docker-compose':
      return onPath('docker-compose') ? undefined : 'need docker-compose on PATH (Debian: apt-get install docker-compose)'
    case 'python3-docker':
      return pythonImports('docker') ? undefined : `need ${PYTHON} with the docker module (Debian: apt-get install python3-docker)`
    case 'python3-h2':
      return pythonImports('h2, msgpack') ? undefined : `need ${PYTHON} with h2 and msgpack (Debian: apt-get install python3-h2 python3-msgpack)`
    case 'sshd':
      return executable(SSHD) && onPath('ssh') && onPath('ssh-keygen') ? undefined : `need OpenSSH's ${SSHD}, ssh and ssh-keygen (Debian: apt-get install openssh-server openssh-client)`
  }
}

/**
 * Why tests needing `needs` cannot run here, in one line, or `undefined` when they can.
 * Each check runs once per process. With `LIBSWARM_TEST_NO_SKIP=1` (CI), a missing need
 * throws a `TestEngineError` (`TOOLS_MISSING`) instead, so a machine that lost a tool fails
 * rather than skips.
 *
 * @example
 * describe.skipIf(skipReason(['engine']) !== undefined)('against a real engine', () => { ... })
 */
export function skipReason (needs: readonly TestNeed[]): string | undefined {
  for (const need of needs) {
    if (!known.has(need)) known.set(need, check(need))
    const reason = known.get(need)
    if (reason === undefined) continue
    if (process.env[NO_SKIP_VARIABLE] === '1') throw new TestEngineError('TOOLS_MISSING', `${NO_SKIP_VARIABLE}=1, but tests here ${reason}`)
    return reason
  }
  return undefined
}

/**
 * `true` when the machine has everything in `needs` (default: a Docker engine). Otherwise
 * prints `skipping tests that <reason>` once per process and reason on stderr and returns
 * `false`: for `describe.runIf` and `it.runIf`.
 *
 * @example
 * describe.runIf(canRunTests())('dockerclient against a real engine', () => { ... })
 * it.runIf(canRunTests(['docker-compose']))('runs a compose project', async () => { ... })
 */
export function canRunTests (needs: readonly TestNeed[] = ['engine']): boolean {
  const reason = skipReason(needs)
  if (reason === undefined) return true
  if (!printed.has(reason)) {
    printed.add(reason)
    console.warn(`skipping tests that ${reason}`)
  }
  return false
}
