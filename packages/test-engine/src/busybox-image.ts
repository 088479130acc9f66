import { chmod, copyFile, mkdir, mkdtemp, rename, rm, stat, symlink, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { spawn } from 'node:child_process'
import { withFileLock } from './file-lock.js'
import { ENGINES_ROOT } from './paths.js'
import { runChecked } from './run-command.js'
import { TestEngineError } from './errors.js'
import { startEngine } from './engine.js'

const BUSYBOX = '/bin/busybox'
const CACHE_DIR = join(ENGINES_ROOT, 'cache')

let cached: Promise<string> | undefined

async function busyboxBinary (): Promise<string> {
  for (const candidate of ['/usr/bin/busybox', BUSYBOX]) {
    try {
      await stat(candidate)
      return candidate
    } catch {}
  }
  throw new TestEngineError('TOOLS_MISSING', 'busybox not found (apt-get install busybox-static)')
}

async function buildRootfs (rootfs: string, busybox: string): Promise<void> {
  for (const dir of ['bin', 'etc', 'tmp', 'root', 'proc', 'sys', 'dev']) await mkdir(join(rootfs, dir), { recursive: true })
  await chmod(join(rootfs, 'tmp'), 0o1777)
  await copyFile(busybox, join(rootfs, 'bin', 'busybox'))
  await chmod(join(rootfs, 'bin', 'busybox'), 0o755)
  const applets = (await runChecked(busybox, ['--list'])).split('\n').map((name) => name.trim()).filter((name) => name !== '' && name !== 'busybox')
  for (const applet of applets) await symlink('busybox', join(rootfs, 'bin', applet))
  await writeFile(join(rootfs, 'etc', 'passwd'), 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n')
  await writeFile(join(rootfs, 'etc', 'group'), 'root:x:0:\nnobody:x:65534:\n')
}

async function importRootfs (rootfs: string, dockerHost: string): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const tar = spawn('tar', ['-C', rootfs, '--owner=0', '--group=0', '-c', '.'], { stdio: ['ignore', 'pipe', 'inherit'] })
    const docker = spawn('/usr/local/bin/docker', ['import', '--change', 'CMD ["sh"]', '-', 'busybox:latest'], {
      env: { ...process.env, DOCKER_HOST: dockerHost }, stdio: ['pipe', 'ignore', 'pipe']
    })
    let stderr = ''
    docker.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString() })
    tar.stdout.pipe(docker.stdin)
    const timer = setTimeout(() => { tar.kill('SIGKILL'); docker.kill('SIGKILL') }, 120_000)
    docker.on('error', reject)
    docker.on('close', (code) => {
      clearTimeout(timer)
      if (code === 0) resolve()
      else reject(new TestEngineError('COMMAND_FAILED', `docker import of busybox failed (${String(code)}): ${stderr.trim()}`))
    })
  })
}

/**
 * Path of a `docker save` tarball of image `busybox:latest` (busybox-static with its applets,
 * /etc/passwd and /etc/group with root and nobody, /tmp). Built once per machine under a lock,
 * with a temporary engine for `docker import`, and cached under /tmp/libswarm-engines/cache.
 * Loading the same tarball everywhere gives every engine the same image ID.
 */
export async function busyboxImageTar (): Promise<string> {
  cached ??= build()
  cached.catch(() => { cached = undefined })
  return await cached
}

async function build (): Promise<string> {
  const busybox = await busyboxBinary()
  const info = await stat(busybox)
  const tarball = join(CACHE_DIR, `busybox-v1-${info.size}-${Math.floor(info.mtimeMs)}.tar`)
  if (await exists(tarball)) return tarball
  await mkdir(CACHE_DIR, { recursive: true })
  return await withFileLock(join(CACHE_DIR, 'busybox.lock'), async () => {
    if (await exists(tarball)) return tarball
    const work = await mkdtemp(join(CACHE_DIR, 'build-'))
    try {
      const rootfs = join(work, 'rootfs')
      await buildRootfs(rootfs, busybox)
      await using engine = await startEngine({ busybox: false, name: 'busybox-builder' })
      await importRootfs(rootfs, engine.host)
      const partial = join(work, 'busybox.tar')
      const saved = await engine.docker(['save', '-o', partial, 'busybox:latest'])
      if (saved.code !== 0) throw new TestEngineError('COMMAND_FAILED', `docker save busybox failed: ${saved.stderr.trim()}`)
      await rename(partial, tarball)
      return tarball
    } finally {
      await rm(work, { recursive: true, force: true })
    }
  })
}

async function exists (path: string): Promise<boolean> {
  try {
    await stat(path)
    return true
  } catch {
    return false
  }
}
