import { spawn, execFile, type ChildProcess } from 'node:child_process'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { canRunTests, startEngine, type Engine } from '@libswarm/test-engine'
import { CLI_28 } from './policed-chain.js'

/*
 * policy as users run it: `swarmd 'dockerserver ci=unix://…' 'policy FILE' 'dockerclient unix://…'`,
 * swarmd loading this package's build by path; the client is named by dockerserver's listener.
 * Reload on file change and on SIGHUP, an invalid file refused while running, and an invalid file
 * at start stopping swarmd.
 */

const SWARMD = new URL('../../../../apps/swarmd/bin/swarmd.js', import.meta.url).pathname
const POLICY_MODULE = new URL('../../dist/index.js', import.meta.url).pathname

const PS_ONLY = 'version: 1\nclients:\n  ci: { listener: ci }\nrules:\n  - name: read-only\n    clients: [ci]\n    allow: [containers:read, system:read]\n'
const RUN_TOO = 'version: 1\nclients:\n  ci: { listener: ci }\nrules:\n  - name: runner\n    clients: [ci]\n    allow: [containers, system:read]\n    limits: { privileged: false }\n'

interface Swarmd { child: ChildProcess, stderr: () => string, exited: Promise<number | string> }

function startSwarmd (args: string[]): Swarmd {
  const child = spawn(process.execPath, [SWARMD, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
  let err = ''
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => { err += chunk })
  child.stdout?.resume()
  const exited = new Promise<number | string>((resolve) => { child.on('exit', (code, signal) => { resolve(code ?? signal ?? 'unknown') }) })
  return { child, stderr: () => err, exited }
}

async function stop (swarmd: Swarmd | undefined): Promise<void> {
  if (swarmd === undefined || swarmd.child.exitCode !== null || swarmd.child.signalCode !== null) return
  swarmd.child.kill('SIGKILL')
  await swarmd.exited
}

async function until (check: () => Promise<boolean> | boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    if (await check()) return
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  throw new Error(`timed out waiting for ${what}`)
}

let engine: Engine
let dir: string

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'policy-swarmd-'))
  if (canRunTests()) engine = await startEngine({ name: 'policy-swarmd' })
}, 180_000)

afterAll(async () => {
  await engine?.close()
  await rm(dir, { recursive: true, force: true })
}, 120_000)

const docker = async (socket: string, args: string[]): Promise<{ code: number, stdout: string, stderr: string }> => await new Promise((resolve) => {
  execFile(CLI_28, args, { env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: dir, DOCKER_CONFIG: dir, DOCKER_HOST: `unix://${socket}` }, timeout: 30_000, killSignal: 'SIGKILL' }, (error, stdout, stderr) => {
    resolve({ code: error === null ? 0 : typeof (error as { code?: unknown }).code === 'number' ? (error as { code: number }).code : -1, stdout, stderr })
  })
})

describe('swarmd with policy', () => {
  describe.runIf(canRunTests())('against a private dockerd', () => {
    it('an invalid policy at start stops swarmd with the message naming the line', async () => {
      const file = join(dir, 'broken.yaml')
      await writeFile(file, 'version: 1\nrules:\n  - name: x\n    allow: [containerz]\n')
      const swarmd = startSwarmd([`dockerserver unix://${join(dir, 'broken.sock')}`, `${POLICY_MODULE} ${file}`, `dockerclient ${engine.host}`])
      const timer = setTimeout(() => { swarmd.child.kill('SIGKILL') }, 20_000)
      const code = await swarmd.exited
      clearTimeout(timer)
      expect(code).not.toBe(0)
      expect(swarmd.stderr()).toContain(`${file}:4: rules[0].allow[0]: unknown operation or group "containerz"`)
    }, 30_000)

    it('reloads when the file changes, refuses an invalid one and keeps the running policy', async () => {
      const file = join(dir, 'policy.yaml')
      const socket = join(dir, 'ci.sock')
      await writeFile(file, PS_ONLY)
      const swarmd = startSwarmd([`dockerserver ci=unix://${socket}`, `${POLICY_MODULE} ${file} --audit stderr`, `dockerclient ${engine.host}`])
      try {
        await until(async () => (await docker(socket, ['ps'])).code === 0, 'swarmd to serve')
        expect((await docker(socket, ['run', '--rm', 'busybox', 'true'])).stderr).toContain('policy: "default" denies ContainerCreate (no rule allows it for client "ci")')

        await writeFile(file, RUN_TOO)
        await until(() => swarmd.stderr().includes('policy: reloaded'), 'the reload on file change')
        const run = await docker(socket, ['run', '--rm', 'busybox', 'echo', 'reloaded'])
        expect(run.stdout).toBe('reloaded\n')

        await writeFile(file, RUN_TOO.replace('privileged: false', 'privileged: maybe'))
        await until(() => swarmd.stderr().includes('reload refused'), 'the refusal of an invalid file')
        expect(swarmd.stderr()).toMatch(/policy\.yaml:\d+: rules\[0\]\.limits\.privileged: must be boolean/)
        expect((await docker(socket, ['run', '--rm', 'busybox', 'echo', 'still'])).stdout).toBe('still\n')
        expect((await docker(socket, ['run', '--rm', '--privileged', 'busybox', 'true'])).stderr).toContain('policy: "runner" denies privileged containers')
        // the audit went to stderr as JSON lines
        expect(swarmd.stderr()).toMatch(/"operation":"ContainerCreate","target":"","decision":"deny","rule":"runner","reason":"privileged containers"/)
      } finally {
        await stop(swarmd)
      }
    }, 60_000)

    it('reloads on SIGHUP with --no-watch', async () => {
      const file = join(dir, 'hup.yaml')
      const socket = join(dir, 'hup.sock')
      await writeFile(file, PS_ONLY)
      const swarmd = startSwarmd([`dockerserver ci=unix://${socket}`, `${POLICY_MODULE} ${file} --no-watch`, `dockerclient ${engine.host}`])
      try {
        await until(async () => (await docker(socket, ['ps'])).code === 0, 'swarmd to serve')
        await writeFile(file, RUN_TOO)
        await new Promise((resolve) => setTimeout(resolve, 500))
        expect((await docker(socket, ['run', '--rm', 'busybox', 'true'])).code).not.toBe(0)
        swarmd.child.kill('SIGHUP')
        await until(() => swarmd.stderr().includes('policy: reloaded'), 'the reload on SIGHUP')
        expect((await docker(socket, ['run', '--rm', 'busybox', 'echo', 'hup'])).stdout).toBe('hup\n')
        expect(swarmd.child.exitCode).toBe(null)
      } finally {
        await stop(swarmd)
      }
    }, 60_000)
  })
})
