import { execFile } from 'node:child_process'
import { existsSync } from 'node:fs'
import { cp, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { dial, request } from '@libswarm/core'
import { canRunTests } from '@libswarm/test-engine'
import { runSwarmd, startSwarmdProcess } from './swarmd-process.js'

/** Docker CLI 28 when installed, else Debian's 20.10 (scripts/setup.sh --test-tools installs it). */
const DOCKER = existsSync('/usr/local/bin/docker') ? '/usr/local/bin/docker' : '/usr/bin/docker'

/** Runs the real docker CLI against `host`, with a config directory of its own. */
async function docker (host: string, args: string[]): Promise<{ code: number, stdout: string, stderr: string }> {
  return await new Promise((resolve) => {
    execFile(DOCKER, ['-H', host, ...args], { timeout: 30_000, env: { ...process.env, DOCKER_CONFIG: join(project, 'docker-config') } }, (error, stdout, stderr) => {
      resolve({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : 1, stdout, stderr })
    })
  })
}

/** Waits until `path` exists (a socket a service listens on). */
async function waitForFile (path: string, timeout = 15_000): Promise<void> {
  const deadline = Date.now() + timeout
  while (!existsSync(path)) {
    if (Date.now() > deadline) throw new Error(`${path} did not appear within ${timeout} ms`)
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

// The third-party package of @libswarm/core's README, kept (and tested) there.
const fixture = fileURLToPath(new URL('../../../../packages/core/test/fixtures/libswarm-greeter', import.meta.url))
let project: string

beforeAll(async () => {
  project = await mkdtemp(join(tmpdir(), 'swarmd-e2e-'))
  await mkdir(join(project, 'node_modules', '@libswarm'), { recursive: true })
  await symlink(fileURLToPath(new URL('../../node_modules/@libswarm/core', import.meta.url)), join(project, 'node_modules', '@libswarm', 'core'))
  await cp(fixture, join(project, 'node_modules', 'libswarm-greeter'), { recursive: true })
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

  it('fails in one line when a service cannot reach what it fronts (a SwarmError thrown at spawn)', async () => {
    // What a service that checks its engine at spawn throws; swarmd prints any SwarmError the same way.
    await writeFile(join(project, 'unreachable.js'), [
      "import { ErrorCode, SwarmError, defineService } from '@libswarm/core'",
      "export const service = defineService({ name: 'unreachable', usage: 'unreachable', spawn: () => { throw new SwarmError(ErrorCode.Unavailable, 'cannot reach the engine at unix:///nonexistent.sock: connect ENOENT') } })",
      ''
    ].join('\n'))
    const { code, stdout, stderr } = await runSwarmd(['debug', './unreachable.js'], { cwd: project })
    expect({ code, stdout, stderr }).toEqual({ code: 1, stdout: '', stderr: 'swarmd: cannot reach the engine at unix:///nonexistent.sock: connect ENOENT\n' })
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

  it('stops cleanly after starting when SIGTERM comes while the chain starts', async () => {
    await writeFile(join(project, 'slow-start.js'), [
      "import { createServer, defineService } from '@libswarm/core'",
      "export const service = defineService({ name: 'slow-start', usage: 'slow-start', spawn: async (_args, context) => {",
      "  context.log.info('starting slowly')",
      '  await new Promise((resolve) => setTimeout(resolve, 1000))',
      "  return createServer({}, { onClose: () => { context.log.info('slow-start closed') } })",
      '} })',
      ''
    ].join('\n'))
    await using swarmd = startSwarmdProcess(['./slow-start.js'], { cwd: project })
    await swarmd.waitForLog(/starting slowly/)
    swarmd.child.kill('SIGTERM')
    expect(await swarmd.exited).toBe(0)
    const messages = swarmd.stderr().trim().split('\n').map((line) => (JSON.parse(line) as { msg: string }).msg)
    expect(messages).toEqual(['starting slowly', 'swarmd is running', 'shutting down', 'slow-start closed', 'stopped'])
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

  it.runIf(canRunTests(['docker-cli']))('serves the Docker API with dockerserver in front of a simulator, for the real docker CLI, and removes its socket on SIGTERM', async () => {
    const socket = join(project, 'docker.sock')
    await using swarmd = startSwarmdProcess([`dockerserver unix://${socket}`, 'debug --max-arg-length 60', 'libswarm-greeter', 'simulator --name sim-e2e'], { cwd: project })
    await swarmd.waitForLog(/swarmd is running/)
    await waitForFile(socket)
    const run = await docker(`unix://${socket}`, ['run', '-d', '--name', 'web', 'busybox', 'sleep', '60'])
    expect(run.stderr).toBe('')
    expect(run.code).toBe(0)
    const ps = await docker(`unix://${socket}`, ['ps', '--format', '{{.Names}} {{.Image}}'])
    expect(ps).toMatchObject({ code: 0, stdout: 'web busybox\n' })
    const info = await docker(`unix://${socket}`, ['info', '--format', '{{.Name}}'])
    expect(info.stdout.trim()).toBe('sim-e2e')
    // debug logged the requests passing through, and the third-party package forwarded them.
    const logged = swarmd.stderr().split('\n').filter((line) => line.includes('"dir":"in"')).map((line) => JSON.parse(line) as { verb: string, args: string[] })
    expect(logged.some((line) => line.args[0] === 'ContainerList')).toBe(true)
    swarmd.child.kill('SIGTERM')
    expect(await swarmd.exited).toBe(0)
    expect(existsSync(socket)).toBe(false)
  })

  it.runIf(canRunTests(['docker-cli']))('lets a request in flight finish on SIGTERM before it stops', async () => {
    const socket = join(project, 'slow.sock')
    await using swarmd = startSwarmdProcess([`dockerserver unix://${socket}`, 'debug', 'simulator --latency 1500'], { cwd: project })
    await swarmd.waitForLog(/swarmd is running/)
    await waitForFile(socket)
    const ps = docker(`unix://${socket}`, ['ps', '-a', '--format', '{{.Names}}'])
    // debug logs the request as it passes: the simulator then holds it for 1.5 s.
    await swarmd.waitForLog(/"dir":"in".*"ContainerList"/)
    swarmd.child.kill('SIGTERM')
    expect(await ps).toMatchObject({ code: 0 })
    expect(await swarmd.exited).toBe(0)
    expect((await ps).stdout).toBe('')
    const messages = swarmd.stderr().trim().split('\n').map((line) => JSON.parse(line) as { msg: string, inFlight?: number })
    expect(messages.find((line) => line.msg === 'shutting down')?.inFlight).toBe(1)
    expect(messages.at(-1)).toMatchObject({ msg: 'stopped', inFlight: 0 })
  })

  it('fails in one line when the address is in use', async () => {
    const socket = join(project, 'busy.sock')
    await using first = startSwarmdProcess([`dockerserver unix://${socket}`, 'simulator'], { cwd: project })
    await first.waitForLog(/swarmd is running/)
    const second = await runSwarmd([`dockerserver unix://${socket}`, 'simulator'], { cwd: project })
    expect(second.code).toBe(1)
    expect(second.stderr).toMatch(/^swarmd: unix:\/\/.*busy\.sock: address already in use.*\n$/)
    expect(second.stderr.trim().split('\n')).toHaveLength(1)
    first.child.kill('SIGTERM')
    expect(await first.exited).toBe(0)
  })

  it('answers over the wire: serve, debug and a third-party package', async () => {
    const socket = join(project, 'wire.sock')
    await using swarmd = startSwarmdProcess([`serve unix://${socket}`, 'debug', 'libswarm-greeter wire'], { cwd: project })
    await swarmd.waitForLog(/swarmd is running/)
    await waitForFile(socket)
    {
      await using connection = await dial(`unix://${socket}`)
      expect((await request(connection.remote, 'Get', ['greeting'])).args).toEqual(['hello, wire'])
      await expect(request(connection.remote, 'Ls')).rejects.toMatchObject({ code: 'NOT_IMPLEMENTED' })
    }
    expect(swarmd.stderr()).toMatch(/"msg":"in Get".*"args":\["greeting"\]/)
    swarmd.child.kill('SIGTERM')
    expect(await swarmd.exited).toBe(0)
    expect(existsSync(socket)).toBe(false)
  })

  it.runIf(canRunTests(['python3-h2']))('runs a service written in Python inside the chain: serve, exec wire_service.py, a third-party package', async () => {
    // The Python service of @libswarm/exec's tests: answers Ls itself, sends the rest back into the chain.
    const python = fileURLToPath(new URL('../../../../packages/exec/test/fixtures/wire_service.py', import.meta.url))
    const socket = join(project, 'python.sock')
    await using swarmd = startSwarmdProcess([`serve unix://${socket}`, `exec /usr/bin/python3 ${python} snake`, 'libswarm-greeter py'], { cwd: project })
    await swarmd.waitForLog(/swarmd is running/)
    await waitForFile(socket)
    {
      await using connection = await dial(`unix://${socket}`)
      expect((await request(connection.remote, 'Ls')).args).toEqual(['snake', 'python'])
      expect((await request(connection.remote, 'Get', ['greeting'])).args).toEqual(['hello, py'])
      await expect(request(connection.remote, 'Stop')).rejects.toMatchObject({ code: 'NOT_IMPLEMENTED' })
    }
    await swarmd.waitForLog(/"msg":"wire_service: forwarded Get to the chain".*"service":"exec"/)
    swarmd.child.kill('SIGTERM')
    expect(await swarmd.exited).toBe(0)
  })

  it('has no socket left behind by these tests', () => {
    expect(existsSync(join(project, 'swarm.sock'))).toBe(false)
  })
})
