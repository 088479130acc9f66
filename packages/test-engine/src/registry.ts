import { spawn, type ChildProcess } from 'node:child_process'
import { openSync, closeSync } from 'node:fs'
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { request } from 'node:http'
import { join } from 'node:path'
import { ensureDockerTools } from './docker-tools.js'
import { freePort } from './engine.js'
import { TestEngineError } from './errors.js'
import { ENGINES_ROOT } from './paths.js'

/** A running Debian docker-registry (distribution v2) on 127.0.0.1, without auth. */
export interface Registry extends AsyncDisposable {
  /** `127.0.0.1:PORT`, usable as an image name prefix (insecure by default for 127.0.0.0/8). */
  readonly address: string
  /** Stops the registry and deletes its storage. */
  close: () => Promise<void>
}

async function answers (address: string): Promise<boolean> {
  return await new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port: Number(address.split(':')[1]), path: '/v2/', timeout: 2000 }, (res) => {
      res.resume()
      resolve(res.statusCode === 200)
    })
    req.on('error', () => resolve(false))
    req.on('timeout', () => { req.destroy(); resolve(false) })
    req.end()
  })
}

/**
 * Starts Debian's `docker-registry` with a temp config and storage on a free port.
 *
 * @example
 * ```ts
 * await using registry = await startRegistry()
 * await engine.docker(['tag', 'busybox', `${registry.address}/busybox`])
 * ```
 */
export async function startRegistry (): Promise<Registry> {
  await ensureDockerTools({ scope: 'engine' })
  await mkdir(ENGINES_ROOT, { recursive: true })
  const dir = await mkdtemp(join(ENGINES_ROOT, 'registry-'))
  const port = await freePort()
  const address = `127.0.0.1:${port}`
  const config = join(dir, 'config.yml')
  await writeFile(config, [
    'version: 0.1',
    'log:',
    '  level: warn',
    'storage:',
    '  filesystem:',
    `    rootdirectory: ${join(dir, 'storage')}`,
    '  delete:',
    '    enabled: true',
    'http:',
    `  addr: ${address}`,
    ''
  ].join('\n'))
  const logFile = join(dir, 'registry.log')
  const log = openSync(logFile, 'a')
  let child: ChildProcess
  try {
    child = spawn('docker-registry', ['serve', config], { stdio: ['ignore', log, log], cwd: dir })
  } finally {
    closeSync(log)
  }
  const onExit = (): void => { child.kill('SIGKILL') }
  process.once('exit', onExit)
  let exited = false
  child.once('exit', () => { exited = true })
  const close = async (): Promise<void> => {
    process.removeListener('exit', onExit)
    if (!exited) {
      child.kill('SIGTERM')
      await new Promise((resolve) => { child.once('exit', resolve); setTimeout(resolve, 5000) })
      if (!exited) child.kill('SIGKILL')
    }
    await rm(dir, { recursive: true, force: true })
  }
  const deadline = Date.now() + 30_000
  while (!(await answers(address))) {
    if (exited || Date.now() > deadline) {
      const logText = await readFile(logFile, 'utf8').catch(() => '')
      await close()
      throw new TestEngineError('REGISTRY_START_FAILED', `docker-registry on ${address} did not start: ${logText.trim().split('\n').slice(-10).join('\n')}`)
    }
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  return { address, close, [Symbol.asyncDispose]: close }
}
