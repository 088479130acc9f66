import { spawnSync } from 'node:child_process'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { canRunTests, startEngine, type Engine } from '@libswarm/test-engine'
import { replyJson } from '@libswarm/docker-api'
import { createDockerClient } from '../../src/index.js'
import { call, collect, FeedStream } from '../fake-engine.js'

let engine: Engine
let client: ReturnType<typeof createDockerClient>

beforeAll(async () => {
  engine = await startEngine({ name: 'dockerclient-e2e', tcp: true })
  client = createDockerClient({ address: engine.host })
}, 120_000)

afterAll(async () => {
  await client?.close()
  await engine?.close()
}, 120_000)

/** Splits Docker's multiplexed stream into stdout and stderr text. */
function demux (bytes: Buffer): { stdout: string, stderr: string } {
  let stdout = ''
  let stderr = ''
  let offset = 0
  while (offset + 8 <= bytes.length) {
    const kind = bytes[offset]
    const length = bytes.readUInt32BE(offset + 4)
    const text = bytes.subarray(offset + 8, offset + 8 + length).toString()
    if (kind === 2) stderr += text
    else stdout += text
    offset += 8 + length
  }
  return { stdout, stderr }
}

async function createContainer (config: Record<string, unknown>, name?: string): Promise<string> {
  const reply = await call(client, { operation: 'ContainerCreate', target: '', query: name === undefined ? undefined : { name }, body: { Image: 'busybox', ...config } })
  expect(reply.status).toBe(201)
  return replyJson<{ Id: string }>(reply).Id
}

describe.runIf(canRunTests())('dockerclient against dockerd 20.10', () => {
  it('answers ping, version and info with the engine headers', async () => {
    const ping = await call(client, { operation: 'SystemPing', target: '' })
    expect(ping.body).toBe('OK')
    expect(ping.headers?.['Api-Version']).toBe('1.41')
    expect(ping.headers?.Ostype).toBe('linux')
    const version = replyJson<{ Version: string, ApiVersion: string }>(await call(client, { operation: 'SystemVersion', target: '', version: '1.41' }))
    expect(version.Version).toMatch(/^20\.10/)
    const info = replyJson<{ Name: string }>(await call(client, { operation: 'SystemInfo', target: '' }))
    expect(info.Name).toBe('dockerclient-e2e')
  })

  it('reaches the same engine over tcp://', async () => {
    const overTcp = createDockerClient({ address: engine.tcpHost, env: {} })
    try {
      expect(replyJson<{ Name: string }>(await call(overTcp, { operation: 'SystemInfo', target: '' })).Name).toBe('dockerclient-e2e')
    } finally {
      await overTcp.close()
    }
  })

  it('creates, starts, waits for, reads the logs of and removes a busybox container', async () => {
    const id = await createContainer({ Cmd: ['sh', '-c', 'echo out; echo err >&2; exit 3'] })
    const wait = await call(client, { operation: 'ContainerWait', target: id, query: { condition: 'next-exit' } })
    expect((await call(client, { operation: 'ContainerStart', target: id })).status).toBe(204)
    expect(JSON.parse((await collect(wait.stream)).toString())).toMatchObject({ StatusCode: 3 })
    const logs = await call(client, { operation: 'ContainerLogs', target: id, query: { stdout: '1', stderr: '1' } })
    expect(demux(await collect(logs.stream))).toEqual({ stdout: 'out\n', stderr: 'err\n' })
    expect((await call(client, { operation: 'ContainerDelete', target: id, query: { v: '1' } })).status).toBe(204)
    expect((await engine.docker(['ps', '-aq'])).stdout).toBe('')
  })

  it('attaches with stdin: bytes in, multiplexed bytes out, half-close ends the input', async () => {
    const id = await createContainer({ Cmd: ['sh', '-c', 'cat; echo done >&2'], OpenStdin: true, StdinOnce: true, AttachStdin: true, AttachStdout: true, AttachStderr: true })
    const stdin = new FeedStream()
    const attach = await call(client, { operation: 'ContainerAttach', target: id, query: { stream: '1', stdin: '1', stdout: '1', stderr: '1' }, stream: stdin })
    expect(attach.status).toBe(101)
    // API 1.41 labels the multiplexed stream raw-stream (multiplexed-stream came with 1.42)
    expect(attach.headers?.['Content-Type']).toBe('application/vnd.docker.raw-stream')
    await call(client, { operation: 'ContainerStart', target: id })
    stdin.push('hello ')
    stdin.push('through libswarm\n')
    stdin.end()
    const output = await collect(attach.stream)
    expect(output[0]).toBe(1)
    expect(demux(output)).toEqual({ stdout: 'hello through libswarm\n', stderr: 'done\n' })
    await call(client, { operation: 'ContainerDelete', target: id, query: { force: '1' } })
  })

  it('execs in a running container, with a raw stream when it has a TTY', async () => {
    const id = await createContainer({ Cmd: ['sleep', '60'] })
    await call(client, { operation: 'ContainerStart', target: id })
    const exec = replyJson<{ Id: string }>(await call(client, { operation: 'ContainerExec', target: id, body: { AttachStdout: true, AttachStderr: true, Cmd: ['sh', '-c', 'echo in-exec; echo oops >&2'] } }))
    const started = await call(client, { operation: 'ExecStart', target: exec.Id, body: { Detach: false, Tty: false } })
    expect(demux(await collect(started.stream))).toEqual({ stdout: 'in-exec\n', stderr: 'oops\n' })
    expect(replyJson<{ ExitCode: number }>(await call(client, { operation: 'ExecInspect', target: exec.Id })).ExitCode).toBe(0)

    const tty = replyJson<{ Id: string }>(await call(client, { operation: 'ContainerExec', target: id, body: { AttachStdout: true, AttachStdin: true, Tty: true, Cmd: ['cat'] } }))
    const stdin = new FeedStream()
    const raw = await call(client, { operation: 'ExecStart', target: tty.Id, body: { Detach: false, Tty: true }, stream: stdin })
    expect(raw.headers?.['Content-Type']).toBe('application/vnd.docker.raw-stream')
    const iterator = raw.stream![Symbol.asyncIterator]()
    stdin.push('typed\n')
    let echoed = ''
    while (!echoed.includes('typed\r\ntyped\r\n')) {
      const next = await iterator.next()
      if (next.done === true) break
      echoed += Buffer.from(next.value).toString()
    }
    expect(echoed).toContain('typed\r\ntyped\r\n')
    await iterator.return!()
    stdin.end()
    await call(client, { operation: 'ContainerDelete', target: id, query: { force: '1' } })
  })

  it('gets and puts archives', async () => {
    const id = await createContainer({ Cmd: ['true'] })
    const dir = await mkdtemp(join(tmpdir(), 'dockerclient-archive-'))
    try {
      await writeFile(join(dir, 'greeting.txt'), 'hi from the host\n')
      const tar = spawnSync('tar', ['-C', dir, '-c', 'greeting.txt'], { encoding: 'buffer' }).stdout
      async function * body (): AsyncGenerator<Uint8Array> { yield tar.subarray(0, 700); yield tar.subarray(700) }
      const put = await call(client, { operation: 'PutContainerArchive', target: id, query: { path: '/tmp' }, stream: body() })
      expect(put.status).toBe(200)
      const info = await call(client, { operation: 'ContainerArchiveInfo', target: id, query: { path: '/tmp/greeting.txt' } })
      expect(JSON.parse(Buffer.from(info.headers!['X-Docker-Container-Path-Stat']!, 'base64').toString())).toMatchObject({ name: 'greeting.txt', size: 17 })
      const got = await call(client, { operation: 'ContainerArchive', target: id, query: { path: '/tmp/greeting.txt' } })
      expect(got.headers?.['Content-Type']).toBe('application/x-tar')
      const archive = await collect(got.stream)
      await writeFile(join(dir, 'back.tar'), archive)
      expect(spawnSync('tar', ['-xOf', join(dir, 'back.tar')], { encoding: 'utf8' }).stdout).toBe('hi from the host\n')
      await expect(call(client, { operation: 'ContainerArchive', target: id, query: { path: '/nope' } })).rejects.toMatchObject({ code: 'NOT_FOUND' })
    } finally {
      await rm(dir, { recursive: true, force: true })
      await call(client, { operation: 'ContainerDelete', target: id })
    }
  })

  it('streams events as they happen and stops the engine stream when abandoned', async () => {
    const events = await call(client, { operation: 'SystemEvents', target: '', query: { filters: JSON.stringify({ type: ['container'], event: ['create'] }) } })
    const iterator = events.stream![Symbol.asyncIterator]()
    const first = iterator.next()
    const id = await createContainer({ Cmd: ['true'] }, 'evented')
    const event = JSON.parse(Buffer.from((await first).value!).toString()) as { Action: string, id: string }
    expect(event).toMatchObject({ Action: 'create', id })
    await iterator.return!()
    await call(client, { operation: 'ContainerDelete', target: 'evented' })
  })

  it('saves and loads an image', async () => {
    const saved = await collect((await call(client, { operation: 'ImageGet', target: 'busybox:latest' })).stream)
    expect(saved.length).toBeGreaterThan(1_000_000)
    expect((await call(client, { operation: 'ImageDelete', target: 'busybox:latest', query: { force: '1' } })).status).toBe(200)
    await expect(call(client, { operation: 'ImageInspect', target: 'busybox:latest' })).rejects.toMatchObject({ code: 'NOT_FOUND' })
    async function * chunks (): AsyncGenerator<Uint8Array> {
      for (let offset = 0; offset < saved.length; offset += 256 * 1024) yield saved.subarray(offset, offset + 256 * 1024)
    }
    const loaded = await call(client, { operation: 'ImageLoad', target: '', query: { quiet: '1' }, stream: chunks() })
    expect((await collect(loaded.stream)).toString()).toContain('Loaded image: busybox:latest')
    expect(replyJson<{ RepoTags: string[] }>(await call(client, { operation: 'ImageInspect', target: 'busybox:latest' })).RepoTags).toContain('busybox:latest')
  })

  it('maps engine errors: 404 for a missing container, 409 for a name in use', async () => {
    await expect(call(client, { operation: 'ContainerInspect', target: 'no-such-thing' })).rejects.toMatchObject({ code: 'NOT_FOUND', message: 'No such container: no-such-thing' })
    const id = await createContainer({ Cmd: ['true'] }, 'taken')
    await expect(createContainer({ Cmd: ['true'] }, 'taken')).rejects.toMatchObject({ code: 'CONFLICT', message: expect.stringContaining('is already in use') })
    await call(client, { operation: 'ContainerDelete', target: id })
  })

  it('recovers after the engine is killed and restarted, without a new dockerclient', async () => {
    expect((await call(client, { operation: 'SystemPing', target: '' })).body).toBe('OK')
    await engine.kill()
    await expect(call(client, { operation: 'SystemPing', target: '' })).rejects.toMatchObject({
      code: 'UNAVAILABLE', message: expect.stringMatching(new RegExp(`^cannot reach engine at ${engine.host}: (ECONNREFUSED|ENOENT)$`))
    })
    await engine.restart()
    expect((await call(client, { operation: 'SystemPing', target: '' })).body).toBe('OK')
    expect(replyJson<unknown[]>(await call(client, { operation: 'ContainerList', target: '', query: { all: '1' } }))).toBeInstanceOf(Array)
  })
})
