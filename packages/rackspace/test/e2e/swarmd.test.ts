import { execFile, spawn } from 'node:child_process'
import { mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { canRunTests, DOCKER20 } from '@libswarm/test-engine'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { rackspaceSpec, standIn, stateDir } from '../harness.js'
import { bootEngineFromUserData } from '../stand-in/engine-host.js'
import type { OpenStackStandIn } from '../stand-in/openstack-stand-in.js'

const SWARMD_JS = fileURLToPath(new URL('../../node_modules/@libswarm/swarmd/bin/swarmd.js', import.meta.url))
const PACKAGE = fileURLToPath(new URL('../..', import.meta.url))

let dir = ''
let cloud: OpenStackStandIn
const state = stateDir()

async function docker (host: string, args: string[]): Promise<{ code: number, stdout: string, stderr: string }> {
  return await new Promise((resolve) => {
    execFile(DOCKER20, args, { env: { PATH: process.env['PATH'], HOME: dir, DOCKER_HOST: host }, timeout: 30_000 }, (error, stdout, stderr) => {
      resolve({ code: error === null ? 0 : 1, stdout: stdout.toString().trim(), stderr: stderr.toString() })
    })
  })
}

// The real swarmd process, loading the service by its package name from a project where it is installed
describe.runIf(canRunTests(['engine', 'docker-cli']))('swarmd loads @libswarm/rackspace by name', () => {
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'rax-swarmd-'))
    mkdirSync(join(dir, 'node_modules', '@libswarm'), { recursive: true })
    symlinkSync(PACKAGE, join(dir, 'node_modules', '@libswarm', 'rackspace'))
    cloud = await standIn(bootEngineFromUserData)
  })
  afterAll(async () => {
    await cloud?.close()
    rmSync(dir, { recursive: true, force: true })
    state.remove()
  })

  it('serves one server\'s engine to docker CLI 20.10, and deletes the server on SIGTERM with --terminate-on-stop', async () => {
    const socket = join(dir, 'swarm.sock')
    const spec = rackspaceSpec(cloud, state.dir, '--swarm by-name --terminate-on-stop').replace(/^rackspace/, '@libswarm/rackspace')
    const daemon = spawn(process.execPath, [SWARMD_JS, `dockerserver unix://${socket}`, spec], { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] })
    let log = ''
    daemon.stderr.on('data', (chunk: Buffer) => { log = (log + chunk.toString()).slice(-4000) })
    const exited = new Promise<number | null>((resolve) => daemon.once('exit', resolve))
    try {
      let info = { code: 1, stdout: '', stderr: '' }
      for (const deadline = Date.now() + 60_000; Date.now() < deadline && daemon.exitCode === null;) {
        info = await docker(`unix://${socket}`, ['info', '--format', '{{.Name}}'])
        if (info.code === 0) break
        await new Promise((resolve) => setTimeout(resolve, 200))
      }
      expect(info, log).toMatchObject({ code: 0, stdout: cloud.liveServers()[0]?.name })
      expect((await docker(`unix://${socket}`, ['run', '--rm', 'busybox', 'echo', 'by name'])).stdout).toBe('by name')
    } finally {
      daemon.kill('SIGTERM')
      await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 30_000))])
    }
    expect(daemon.exitCode, log).toBe(0)
    expect(cloud.liveServers()).toHaveLength(0)
  })
})
