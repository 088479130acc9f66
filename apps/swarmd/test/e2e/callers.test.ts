// Issue #11, "Who is calling": one swarmd serving two named unix sockets; the real docker CLI on
// each; debug's log shows that every request carries the name of the socket it came in on.
import { execFile } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startSwarmdProcess } from './swarmd-process.js'

const CLIS = ['/usr/local/bin/docker', '/usr/bin/docker'].filter((cli) => existsSync(cli))
let dir: string
beforeAll(async () => { dir = await mkdtemp(join(tmpdir(), 'swarmd-callers-')) })
afterAll(async () => { await rm(dir, { recursive: true, force: true }) })

async function docker (cli: string, socket: string, args: string[]): Promise<{ code: number, stdout: string, stderr: string }> {
  return await new Promise((resolve) => {
    execFile(cli, ['-H', `unix://${socket}`, ...args], { timeout: 30_000, env: { ...process.env, DOCKER_CONFIG: join(dir, 'docker-config') } }, (error, stdout, stderr) => {
      resolve({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : 1, stdout, stderr })
    })
  })
}

describe.runIf(CLIS.length > 0 || process.env.LIBSWARM_TEST_NO_SKIP === '1')('callers through swarmd', () => {
  it('names, in each request, the listener the docker CLI reached', async () => {
    const ci = join(dir, 'ci.sock')
    const ops = join(dir, 'ops.sock')
    await using swarmd = startSwarmdProcess(['--log-level', 'info', `dockerserver ci=unix://${ci} ops=unix://${ops}`, 'debug', 'simulator'])
    await swarmd.waitForLog(/swarmd is running/)
    for (const cli of CLIS) {
      const created = await docker(cli, ci, ['create', '--name', `from-ci-${CLIS.indexOf(cli)}`, 'busybox'])
      expect(created.stderr).toBe('')
      expect(created.code).toBe(0)
      expect((await docker(cli, ops, ['ps', '-a', '--format', '{{.Names}}'])).stdout).toContain(`from-ci-${CLIS.indexOf(cli)}`)
      expect((await docker(cli, ops, ['version', '--format', '{{.Server.Version}}'])).code).toBe(0)
    }
    const lines = swarmd.stderr().trim().split('\n').map((line) => JSON.parse(line) as { msg: string, dir?: string, args?: string[], caller?: string })
    const requests = lines.filter((line) => line.dir === 'in')
    const callers = (operation: string): Set<string | undefined> => new Set(requests.filter((line) => line.args?.[0] === operation).map((line) => line.caller))
    expect(callers('ContainerCreate')).toEqual(new Set(['ci']))
    expect(callers('ContainerList')).toEqual(new Set(['ops']))
    expect(callers('SystemVersion')).toEqual(new Set(['ops']))
    // Every request the CLIs made (their pings too) names one of the two listeners.
    expect(requests.length).toBeGreaterThanOrEqual(4 * CLIS.length)
    expect(new Set(requests.map((line) => line.caller))).toEqual(new Set(['ci', 'ops']))
  })
})
