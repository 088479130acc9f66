import { mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { TestEngineError } from './errors.js'

/** True while a process with this pid exists. */
export function isProcessAlive (pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/**
 * Whether a directory claimed with an `owner` file (holding a pid) is abandoned: its owner
 * died, or it has no owner file and is older than a claim takes to write.
 */
export async function isAbandoned (dir: string): Promise<boolean> {
  try {
    const pid = Number((await readFile(join(dir, 'owner'), 'utf8')).trim())
    return !isProcessAlive(pid)
  } catch {
    try {
      const info = await stat(dir)
      return Date.now() - info.mtimeMs > 30_000
    } catch {
      return false
    }
  }
}

/**
 * Claims a directory atomically (`mkdir` fails when it exists) and writes this process's pid
 * into it. Returns false when someone else holds it.
 */
export async function claimDirectory (dir: string): Promise<boolean> {
  await mkdir(dirname(dir), { recursive: true })
  try {
    await mkdir(dir)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false
    throw error
  }
  await writeFile(join(dir, 'owner'), String(process.pid))
  return true
}

/**
 * Runs `fn` holding a machine-wide lock (a directory). A lock whose owner process died is
 * broken, so a crashed test run never blocks the next one.
 */
export async function withFileLock<T> (lockDir: string, fn: () => Promise<T>, timeoutMs = 600_000): Promise<T> {
  const deadline = Date.now() + timeoutMs
  while (!(await claimDirectory(lockDir))) {
    if (await isAbandoned(lockDir)) {
      await rm(lockDir, { recursive: true, force: true })
      continue
    }
    if (Date.now() > deadline) throw new TestEngineError('LOCK_TIMEOUT', `timed out waiting for lock ${lockDir}`)
    await new Promise((resolve) => setTimeout(resolve, 150))
  }
  try {
    return await fn()
  } finally {
    await rm(lockDir, { recursive: true, force: true })
  }
}
