import { existsSync } from 'node:fs'
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { runSwarmd, startSwarmdProcess } from './swarmd-process.js'

const fixture = fileURLToPath(new URL('../fixtures/libswarm-greeter', import.meta.url))
let project: string

beforeAll(async () => {
  project = await mkdtemp(join(tmpdir(), 'swarmd-e2e-'))
  await mkdir(join(project, 'node_modules'))
  await symlink(fixture, join(project, 'node_modules', 'libswarm-greeter'))
})
afterAll(async () => { await rm(project, { recursive: true, force: true }) })

describe('swarmd (the binary)', () => {
  it('lists the built-in and installed services when run without arguments', async () => {
    const { code, stdout, stderr } = await runSwarmd([], { cwd: project })
    expect(stderr).toBe('')
    expect(code).toBe(0)
    expect(stdout).toMatch(/^ {2}debug +debug \[--max-arg-length N\]$/m)
    for (const name of ['dockerserver', 'dockerclient', 'exec', 'serve', 'remote', 'simulator', 'aggregate']) expect(stdout).toMatch(new RegExp(`^ {2}${name} `, 'm'))
    expect(stdout).toMatch(/^ {2}greeter +greeter \[NAME\] +\[libswarm-greeter\]$/m)
  })

  it('fails in one line with exit code 1 for an unknown service', async () => {
    const { code, stdout, stderr } = await runSwarmd(['debug', 'no-such-service'], { cwd: project })
    expect(code).toBe(1)
    expect(stdout).toBe('')
    expect(stderr).toMatch(/^swarmd: unknown service "no-such-service": .*\n$/)
    expect(stderr.trim().split('\n')).toHaveLength(1)
  })

  it('fails in one line for bad arguments to a service and to swarmd', async () => {
    const service = await runSwarmd(['debug --max-arg-length nope'], { cwd: project })
    expect(service.code).toBe(1)
    expect(service.stderr).toBe('swarmd: debug: --max-arg-length needs a positive integer, got "nope"\n')
    const own = await runSwarmd(['--log-level', 'loud', 'debug'], { cwd: project })
    expect(own.code).toBe(1)
    expect(own.stderr).toBe('swarmd: invalid log level "loud": use debug, info, warn, error, silent\n')
    const config = await runSwarmd(['--config', join(project, 'missing.yaml')], { cwd: project })
    expect(config).toMatchObject({ code: 1, stderr: `swarmd: cannot read config ${join(project, 'missing.yaml')}: no such file\n` })
  })

  it('runs a chain with a third-party package until SIGTERM, logging JSON on stderr', async () => {
    await using swarmd = startSwarmdProcess(['--log-level', 'debug', 'debug', 'libswarm-greeter world'], { cwd: project })
    const running = JSON.parse(await swarmd.waitForLog(/swarmd is running/)) as Record<string, unknown>
    expect(running).toMatchObject({ level: 'info', chain: ['debug', 'libswarm-greeter'] })
    swarmd.child.kill('SIGTERM')
    expect(await swarmd.exited).toBe(0)
    const lines = swarmd.stderr().trim().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>)
    expect(lines.map((line) => line.msg)).toEqual(['swarmd is running', 'shutting down', 'stopped'])
  })

  it('reads the chain from --config', async () => {
    const config = join(project, 'swarmd.yaml')
    await writeFile(config, 'chain:\n  - debug\n  - service: libswarm-greeter\n    args: [config]\nlogLevel: warn\n')
    await using swarmd = startSwarmdProcess(['--config', config, '--log-level', 'info'], { cwd: project })
    const running = JSON.parse(await swarmd.waitForLog(/swarmd is running/)) as Record<string, unknown>
    expect(running.chain).toEqual(['debug', 'libswarm-greeter'])
    swarmd.child.kill('SIGINT')
    expect(await swarmd.exited).toBe(0)
  })

  it('prints --help and --version', async () => {
    const help = await runSwarmd(['--help'])
    expect(help.code).toBe(0)
    expect(help.stdout).toMatch(/^usage: swarmd/)
    expect((await runSwarmd(['--version'])).stdout).toMatch(/^swarmd \d+\.\d+\.\d+\n$/)
  })

  it('has no socket left behind by these tests', () => {
    expect(existsSync(join(project, 'swarm.sock'))).toBe(false)
  })
})
