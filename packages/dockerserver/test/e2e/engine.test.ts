import { spawn } from 'node:child_process'
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Sender, ServiceInstance } from '@libswarm/core'
import { createDockerClient } from '@libswarm/dockerclient'
import { canRunTests, startEngine, startRegistry, type Engine } from '@libswarm/test-engine'
import { createDockerServer, type DockerServer } from '../../src/index.js'
import { CLI_20, CLI_28, httpRequest, runCli, type CliResult } from '../harness.js'

/*
 * dockerserver -> dockerclient -> a private dockerd 20.10: the real CLIs talk to
 * dockerserver's socket, and every request crosses the chain as libswarm messages.
 */

let engine: Engine
let client: ServiceInstance
let server: DockerServer
let dir: string
let socket: string
const operations: string[] = []
const headersOf = new Map<string, Record<string, string>>()

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'dockerserver-e2e-'))
  socket = join(dir, 'front.sock')
  engine = await startEngine({ name: 'dockerserver-e2e' })
  client = createDockerClient({ address: engine.host, env: {} })
  // records the operation of every message on its way to dockerclient
  const recorder: Sender = {
    send: async (message, options) => {
      operations.push(message.args[0] ?? '')
      headersOf.set(message.args[0] ?? '', (JSON.parse(message.args[2] ?? '{}') as { headers?: Record<string, string> }).headers ?? {})
      await client.send(message, options)
    },
    close: async () => {}
  }
  server = createDockerServer({ addresses: [`unix://${socket}`], next: recorder, closeTimeoutMs: 2000 })
  await server.start()
}, 180_000)

afterAll(async () => {
  await server?.close()
  await client?.close()
  await engine?.close()
  if (dir !== undefined) await rm(dir, { recursive: true, force: true })
}, 180_000)

const docker = async (args: string[], options: { cli?: string, input?: string, env?: Record<string, string>, host?: string } = {}): Promise<CliResult> =>
  await runCli(options.cli ?? CLI_28, options.host ?? `unix://${socket}`, args, { configDir: dir, input: options.input, env: options.env, timeoutMs: 120_000 })

describe.runIf(canRunTests())('docker CLIs through dockerserver and dockerclient to dockerd 20.10', () => {
  it.each([['28', CLI_28], ['20.10', CLI_20]])('CLI %s: docker run --rm busybox echo hello', async (_name, cli) => {
    const result = await docker(['run', '--rm', 'busybox', 'echo', 'hello'], { cli })
    expect(result.stderr).toBe('')
    expect(result.stdout).toBe('hello\n')
    expect(result.code).toBe(0)
  })

  it.each([['28', CLI_28], ['20.10', CLI_20]])('CLI %s: echo hi | docker run -i --rm busybox cat', async (_name, cli) => {
    const result = await docker(['run', '-i', '--rm', 'busybox', 'cat'], { cli, input: 'hi\n' })
    expect(result.stdout).toBe('hi\n')
    expect(result.code).toBe(0)
  })

  it('docker run -t under script gets the TTY stream', async () => {
    const result = await runCli('/usr/bin/script', `unix://${socket}`, ['-qec', `${CLI_28} run -t --rm busybox sh -c 'echo tty-ok; tty'`, '/dev/null'], { configDir: dir, timeoutMs: 60_000 })
    expect(result.stdout.replace(/\r/g, '')).toContain('tty-ok\n/dev/pts/0\n')
    expect(result.code).toBe(0)
  })

  it('docker exec -i with piped stdin, and exit codes of exec', async () => {
    expect((await docker(['run', '-d', '--name', 'e2e-exec', 'busybox', 'sleep', '120'])).code).toBe(0)
    const echoed = await docker(['exec', '-i', 'e2e-exec', 'sh', '-c', 'cat; echo done'], { input: 'from stdin\n' })
    expect(echoed.stdout).toBe('from stdin\ndone\n')
    expect((await docker(['exec', 'e2e-exec', 'sh', '-c', 'exit 3'])).code).toBe(3)
    expect((await docker(['exec', '-i', 'e2e-exec', 'cat'], { cli: CLI_20, input: 'cli20\n' })).stdout).toBe('cli20\n')
  })

  it('start of a running and stop of a stopped container pass the engine\'s 304 through', async () => {
    expect((await docker(['run', '-d', '--name', 'e2e-304', 'busybox', 'sleep', '120'])).code).toBe(0)
    const started = await httpRequest({ socket }, 'POST', '/v1.41/containers/e2e-304/start')
    expect(started.status).toBe(304)
    expect(await docker(['start', 'e2e-304'])).toMatchObject({ code: 0, stdout: 'e2e-304\n' })
    expect((await docker(['stop', '-t', '0', 'e2e-304'])).code).toBe(0)
    expect(await docker(['stop', 'e2e-304'], { cli: CLI_20 })).toMatchObject({ code: 0, stdout: 'e2e-304\n' })
  })

  it('docker logs -f shows each line as it is written', async () => {
    expect((await docker(['run', '-d', '--name', 'e2e-logs', 'busybox', 'sh', '-c', 'echo one; sleep 2; echo two'])).code).toBe(0)
    const seen: Array<{ text: string, at: number }> = []
    const code = await new Promise<number | null>((resolve) => {
      const child = spawn(CLI_28, ['logs', '-f', 'e2e-logs'], { env: { PATH: process.env.PATH, HOME: dir, DOCKER_CONFIG: dir, DOCKER_HOST: `unix://${socket}` }, timeout: 60_000 })
      child.stdout.on('data', (chunk: Buffer) => { seen.push({ text: chunk.toString(), at: Date.now() }) })
      child.on('close', resolve)
    })
    expect(code).toBe(0)
    expect(seen.map((entry) => entry.text).join('')).toBe('one\ntwo\n')
    const one = seen.find((entry) => entry.text.includes('one'))
    const two = seen.find((entry) => entry.text.includes('two'))
    expect((two?.at ?? 0) - (one?.at ?? 0)).toBeGreaterThan(1000)
  })

  it('docker cp both ways', async () => {
    expect((await docker(['run', '-d', '--name', 'e2e-cp', 'busybox', 'sleep', '120'])).code).toBe(0)
    const local = join(dir, 'to-container.txt')
    await writeFile(local, 'copied in\n')
    expect((await docker(['cp', local, 'e2e-cp:/tmp/in.txt'])).code).toBe(0)
    expect((await docker(['exec', 'e2e-cp', 'cat', '/tmp/in.txt'])).stdout).toBe('copied in\n')
    expect((await docker(['exec', 'e2e-cp', 'sh', '-c', 'echo copied out > /tmp/out.txt'])).code).toBe(0)
    const out = join(dir, 'from-container')
    await mkdir(out)
    const copied = await docker(['cp', 'e2e-cp:/tmp/out.txt', out], { cli: CLI_20 })
    expect(copied.stderr).toBe('')
    expect(await readFile(join(out, 'out.txt'), 'utf8')).toBe('copied out\n')
  })

  it('docker build with the classic builder (CLI 28)', async () => {
    const context = join(dir, 'classic')
    await mkdir(context)
    await writeFile(join(context, 'Dockerfile'), 'FROM busybox\nCOPY greeting.txt /greeting.txt\nRUN cat /greeting.txt > /built.txt\n')
    await writeFile(join(context, 'greeting.txt'), 'built classic\n')
    const build = await docker(['build', '-t', 'e2e-classic', context], { env: { DOCKER_BUILDKIT: '0' } })
    expect(build.code).toBe(0)
    expect(build.stdout).toMatch(/Successfully tagged e2e-classic:latest/)
    expect((await docker(['run', '--rm', 'e2e-classic', 'cat', '/built.txt'])).stdout).toBe('built classic\n')
  })

  it('docker build with BuildKit (CLI 20.10, its /session hijacked as h2c)', async () => {
    const context = join(dir, 'buildkit')
    await mkdir(context)
    await writeFile(join(context, 'Dockerfile'), 'FROM busybox\nCOPY greeting.txt /greeting.txt\nRUN cat /greeting.txt > /built.txt\n')
    await writeFile(join(context, 'greeting.txt'), 'built with buildkit\n')
    operations.length = 0
    const build = await docker(['build', '--network', 'none', '--progress', 'plain', '-t', 'e2e-buildkit', context], { cli: CLI_20, env: { DOCKER_BUILDKIT: '1' } })
    expect(operations).toEqual(expect.arrayContaining(['Session', 'ImageBuild']))
    expect(build.stderr).toMatch(/naming to docker\.io\/library\/e2e-buildkit/)
    expect(build.code).toBe(0)
    expect((await docker(['run', '--rm', 'e2e-buildkit', 'cat', '/built.txt'])).stdout).toBe('built with buildkit\n')
  })

  it('an engine 404 passes through with the same status and text', async () => {
    const viaChain = await docker(['container', 'inspect', 'e2e-nosuch'])
    const direct = await docker(['container', 'inspect', 'e2e-nosuch'], { host: engine.host })
    expect(viaChain.code).toBe(1)
    expect(viaChain.stderr).toBe(direct.stderr)
    expect(viaChain.stderr).toContain('No such container: e2e-nosuch')
    const chainAnswer = await httpRequest({ socket }, 'GET', '/v1.41/containers/e2e-nosuch/json')
    const engineAnswer = await httpRequest({ socket: engine.socketPath }, 'GET', '/v1.41/containers/e2e-nosuch/json')
    expect(chainAnswer.status).toBe(404)
    expect(chainAnswer.status).toBe(engineAnswer.status)
    expect(chainAnswer.body).toBe(engineAnswer.body)
    expect(chainAnswer.headers['content-type']).toBe(engineAnswer.headers['content-type'])
  })

  it.each([
    ['create with text/plain', '/v1.41/containers/create', { 'Content-Type': 'text/plain' }, '{"Image":"busybox"}'],
    ['create with no Content-Type and a body', '/v1.41/containers/create', {}, '{"Image":"busybox"}'],
    ['create with a malformed Content-Type', '/v1.41/containers/create', { 'Content-Type': 'application/json;;;' }, '{}'],
    ['network create with text/plain', '/v1.41/networks/create', { 'Content-Type': 'text/plain' }, '{"Name":"e2e-x"}'],
    ['exec start with text/plain', '/v1.41/exec/e2e-nosuch/start', { 'Content-Type': 'text/plain' }, '{}']
  ])("refuses %s as the engine's CheckForJSON does, byte for byte", async (_name, path, headers, body) => {
    const chainAnswer = await httpRequest({ socket }, 'POST', path, { headers, body })
    const engineAnswer = await httpRequest({ socket: engine.socketPath }, 'POST', path, { headers, body })
    expect(chainAnswer.status).toBe(400)
    expect(chainAnswer.status).toBe(engineAnswer.status)
    expect(chainAnswer.body).toBe(engineAnswer.body)
    expect(chainAnswer.headers['content-type']).toBe(engineAnswer.headers['content-type'])
  })

  it('push and pull through a registry at host:port (image names with a port, X-Registry-Auth)', async () => {
    await using registry = await startRegistry()
    const name = `${registry.address}/team/bb:1.0`
    expect((await docker(['tag', 'busybox', name])).code).toBe(0)
    operations.length = 0
    const push = await docker(['push', name])
    expect(push.stderr).toBe('')
    expect(push.code).toBe(0)
    expect(operations).toContain('ImagePush')
    expect(headersOf.get('ImagePush')?.['X-Registry-Auth']).toBeDefined()
    expect((await docker(['rmi', name], { cli: CLI_20 })).stdout).toContain(`Untagged: ${name}`)
    const pull = await docker(['pull', name], { cli: CLI_20 })
    expect(pull.code).toBe(0)
    expect((await docker(['image', 'inspect', '--format', '{{index .RepoTags 0}}', name])).stdout.trim()).toBe(name)
  })

  it.runIf(canRunTests(['python3-docker']))('docker-py (python3-docker over requests) runs, execs, attaches and gets a 404', async () => {
    const script = [
      'import docker',
      `c = docker.DockerClient(base_url='unix://${socket}')`,
      "print(c.containers.run('busybox', 'echo py-run', remove=True).decode(), end='')",
      "ct = c.containers.run('busybox', 'sleep 60', detach=True)",
      "print(ct.exec_run('echo py-exec').output.decode(), end='')",
      'ct.remove(force=True)',
      'try:',
      "  c.containers.get('e2e-nosuch')",
      'except docker.errors.NotFound as error:',
      '  print(error.explanation)'
    ].join('\n')
    const result = await runCli('/usr/bin/python3', `unix://${socket}`, ['-c', script], { configDir: dir, timeoutMs: 60_000 })
    expect(result.stderr).toBe('')
    expect(result.stdout).toBe('py-run\npy-exec\nNo such container: e2e-nosuch\n')
  })

  it('version negotiation: the engine\'s API version caps what clients may ask', async () => {
    await httpRequest({ socket }, 'GET', '/_ping')
    const tooNew = await httpRequest({ socket }, 'GET', '/v1.43/info')
    const direct = await httpRequest({ socket: engine.socketPath }, 'GET', '/v1.43/info')
    expect(tooNew.status).toBe(400)
    expect(tooNew.body).toBe(direct.body)
  })
})
