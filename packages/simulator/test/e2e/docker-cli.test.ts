import { execFile } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createDockerServer, type DockerServer } from '@libswarm/dockerserver'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createSimulator, type Simulator } from '../../src/index.js'

/*
 * The real docker CLIs against dockerserver -> simulator, both in this process: what the
 * project README shows on a machine without a Docker engine.
 */
const CLIS = [['28.x', '/usr/local/bin/docker'], ['20.10', '/usr/bin/docker']] as const

let dir: string
let server: DockerServer
let sim: Simulator

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'simulator-e2e-'))
  sim = createSimulator({ name: 'sim-0', seed: 1 })
  server = createDockerServer({ addresses: [`unix://${join(dir, 'docker.sock')}`], next: sim, closeTimeoutMs: 1000 })
  await server.start()
})

afterAll(async () => {
  await server?.close()
  await sim?.close()
  await rm(dir, { recursive: true, force: true })
})

interface Result { code: number, stdout: string, stderr: string }

async function docker (cli: string, args: string[], input?: string): Promise<Result> {
  return await new Promise((resolve) => {
    const child = execFile(cli, args, {
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: dir, DOCKER_CONFIG: join(dir, 'config'), DOCKER_HOST: `unix://${join(dir, 'docker.sock')}` },
      timeout: 20_000,
      killSignal: 'SIGKILL'
    }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof (error as { code?: unknown }).code === 'number' ? (error as { code: number }).code : -1
      resolve({ code, stdout, stderr })
    })
    child.stdin?.end(input)
  })
}

for (const [version, cli] of CLIS) {
  describe.skipIf(!existsSync(cli))(`docker CLI ${version} through dockerserver -> simulator`, () => {
    it('ps, info, images and network ls', async () => {
      const ps = await docker(cli, ['ps'])
      expect(ps).toMatchObject({ code: 0 })
      expect(ps.stdout).toMatch(/^CONTAINER ID\s+IMAGE\s+COMMAND/)
      const info = await docker(cli, ['info', '--format', '{{.Name}} {{.OperatingSystem}} {{.NCPU}} {{.ServerVersion}}'])
      expect(info.stdout.trim()).toBe('sim-0 libswarm simulator 4 20.10.24')
      const images = await docker(cli, ['images', '--format', '{{.Repository}}:{{.Tag}}'])
      expect(images.stdout.trim().split('\n')).toContain('busybox:latest')
      const networks = await docker(cli, ['network', 'ls', '--format', '{{.Name}} {{.Driver}}'])
      expect(networks.stdout.trim().split('\n').sort()).toEqual(['bridge bridge', 'host host', 'none null'])
    })

    it('run --rm prints the output and returns the exit code', async () => {
      const echo = await docker(cli, ['run', '--rm', 'busybox', 'echo', 'hello'])
      expect(echo).toMatchObject({ code: 0, stdout: 'hello\n' })
      const failing = await docker(cli, ['run', '--rm', 'busybox', 'sh', '-c', 'echo to-stderr >&2; exit 3'])
      expect(failing).toMatchObject({ code: 3, stderr: 'to-stderr\n' })
      const cat = await docker(cli, ['run', '--rm', '-i', 'busybox', 'cat'], 'piped through\n')
      expect(cat).toMatchObject({ code: 0, stdout: 'piped through\n' })
      expect((await docker(cli, ['ps', '-aq'])).stdout).toBe('')
    })

    it('run -d, logs, exec, stop and rm', async () => {
      const name = `daemon-${version.replace('.', '-')}`
      const run = await docker(cli, ['run', '-d', '--name', name, 'busybox', 'sh', '-c', 'echo started; sleep 1000'])
      expect(run.code).toBe(0)
      const id = run.stdout.trim()
      expect(id).toMatch(/^[0-9a-f]{64}$/)
      const listed = await docker(cli, ['ps', '--format', '{{.ID}} {{.Names}} {{.Status}}'])
      expect(listed.stdout).toMatch(new RegExp(`^${id.slice(0, 12)} ${name} Up `, 'm'))
      expect((await docker(cli, ['logs', name])).stdout).toBe('started\n')
      expect(await docker(cli, ['exec', name, 'echo', 'inside'])).toMatchObject({ code: 0, stdout: 'inside\n' })
      expect((await docker(cli, ['stop', name])).stdout.trim()).toBe(name)
      expect((await docker(cli, ['inspect', '--format', '{{.State.Status}} {{.State.ExitCode}}', name])).stdout.trim()).toBe('exited 143')
      expect((await docker(cli, ['rm', name])).stdout.trim()).toBe(name)
      const missing = await docker(cli, ['inspect', name])
      expect(missing.code).not.toBe(0)
      expect(missing.stderr).toContain(`No such object: ${name}`)
    })
  })
}

const PYTHON = '/usr/bin/python3'
const PYTHON_SCRIPT = `
import docker
client = docker.from_env()
print(client.version()['ApiVersion'], client.info()['Name'])
print(client.containers.run('busybox', 'echo from-python', remove=True).decode().strip())
container = client.containers.run('busybox', ['sh', '-c', 'sleep 100'], detach=True, name='py-sdk', labels={'k': 'v'})
print([c.name for c in client.containers.list(filters={'label': 'k=v'})])
print(container.exec_run('echo execd').output.decode().strip(), container.exec_run(['sh', '-c', 'exit 2']).exit_code)
container.stop()
print(container.wait()['StatusCode'])
container.remove()
`

describe.skipIf(!existsSync(PYTHON))('Python docker SDK through dockerserver -> simulator', () => {
  it('runs, lists, execs, stops and waits', async (context) => {
    const result = await new Promise<Result>((resolve) => {
      execFile(PYTHON, ['-c', PYTHON_SCRIPT], { env: { PATH: process.env.PATH ?? '/usr/bin:/bin', DOCKER_HOST: `unix://${join(dir, 'docker.sock')}` }, timeout: 30_000, killSignal: 'SIGKILL' },
        (error, stdout, stderr) => { resolve({ code: error === null ? 0 : 1, stdout, stderr }) })
    })
    if (result.stderr.includes("No module named 'docker'")) context.skip('python3-docker is not installed')
    expect(result.stderr).toBe('')
    expect(result.stdout.trim().split('\n')).toEqual(['1.41 sim-0', 'from-python', "['py-sdk']", 'execd 2', '143'])
  })
})
