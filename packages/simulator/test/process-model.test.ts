import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { createSimulator, type Simulator } from '../src/index.js'
import { call, createContainer, demux, open, runContainer, writableStream } from './call.js'

let sim: Simulator

beforeEach(() => { sim = createSimulator({ seed: 11 }) })
afterEach(async () => { await sim.close() })

async function state (id: string): Promise<any> {
  return (await call(sim, 'ContainerInspect', id)).json().State
}

async function logs (id: string, query: Record<string, string> = {}): Promise<Buffer> {
  return (await call(sim, 'ContainerLogs', id, { query: { stdout: '1', stderr: '1', ...query } })).bytes
}

describe('process model', () => {
  it('echo writes its arguments and exits 0; true, false and sh -c exit N set the exit code', async () => {
    const echo = await runContainer(sim, { Cmd: ['echo', 'hello', 'world'] })
    expect(await state(echo)).toMatchObject({ Status: 'exited', ExitCode: 0 })
    expect(demux(await logs(echo))).toEqual([[1, 'hello world\n']])
    expect((await state(await runContainer(sim, { Cmd: ['true'] }))).ExitCode).toBe(0)
    expect((await state(await runContainer(sim, { Cmd: ['false'] }))).ExitCode).toBe(1)
    expect((await state(await runContainer(sim, { Cmd: ['sh', '-c', 'exit 42'] }))).ExitCode).toBe(42)
  })

  it('runs sh -c scripts of simple commands with ;, &&, ||, quotes, variables and stderr', async () => {
    const id = await runContainer(sim, { Env: ['WHO=sim'], Cmd: ['sh', '-c', 'echo "hi $WHO"; false && echo skipped || echo \'after failure\'; echo oops >&2; exit 7'] })
    expect(await state(id)).toMatchObject({ ExitCode: 7 })
    expect(demux(await logs(id))).toEqual([[1, 'hi sim\n'], [1, 'after failure\n'], [2, 'oops\n']])
    expect(demux(await logs(id, { stderr: '0' }))).toEqual([[1, 'hi sim\n'], [1, 'after failure\n']])
  })

  it('sleep N exits after N seconds; unknown commands run until stopped (143) or killed (137)', async () => {
    const sleeper = await runContainer(sim, { Cmd: ['sleep', '0.05'] })
    expect((await state(sleeper)).Running).toBe(true)
    const exit = await call(sim, 'ContainerWait', sleeper)
    expect(JSON.parse(exit.text)).toEqual({ Error: null, StatusCode: 0 })
    expect((await state(sleeper)).Status).toBe('exited')

    const server = await runContainer(sim, { Cmd: ['nginx', '-g', 'daemon off;'] })
    await new Promise((resolve) => setTimeout(resolve, 20))
    expect((await state(server)).Running).toBe(true)
    await call(sim, 'ContainerStop', server)
    expect((await state(server)).ExitCode).toBe(143)
    await call(sim, 'ContainerStart', server)
    await call(sim, 'ContainerKill', server, { query: { signal: 'SIGINT' } })
    expect((await state(server)).ExitCode).toBe(130)
    await call(sim, 'ContainerStart', server)
    await call(sim, 'ContainerKill', server, { query: { signal: 'WINCH' } })
    expect((await state(server)).Running).toBe(true)
    await expect(call(sim, 'ContainerKill', server, { query: { signal: 'SIGNOPE' } })).rejects.toMatchObject({ code: 'BAD_REQUEST', message: 'Invalid signal: SIGNOPE' })
  })

  it('cat echoes the attach stdin until EOF, as docker run -i does', async () => {
    const id = await createContainer(sim, { Cmd: ['cat'], OpenStdin: true, StdinOnce: true, AttachStdin: true })
    const input = writableStream()
    const attached = await open(sim, 'ContainerAttach', id, { query: { stream: '1', stdin: '1', stdout: '1', stderr: '1' }, stream: input.stream, headers: { Upgrade: 'tcp' } })
    expect(attached.status).toBe(101)
    const waited = call(sim, 'ContainerWait', id, { query: { condition: 'next-exit' } })
    input.write('early ')
    await call(sim, 'ContainerStart', id)
    input.write('line one\n')
    await new Promise((resolve) => setTimeout(resolve, 10))
    input.write('line two\n')
    input.end()
    const chunks: Buffer[] = []
    for await (const chunk of attached.stream!) chunks.push(Buffer.from(chunk))
    expect(demux(Buffer.concat(chunks)).map(([, text]) => text).join('')).toBe('early line one\nline two\n')
    expect(JSON.parse((await waited).text).StatusCode).toBe(0)
  })

  it('attach streams raw output for a TTY container and ends when it exits', async () => {
    const id = await createContainer(sim, { Cmd: ['echo', 'tty'], Tty: true })
    const attached = await open(sim, 'ContainerAttach', id, { query: { stream: '1', stdout: '1', stderr: '1' } })
    expect(attached.status).toBe(200)
    await call(sim, 'ContainerStart', id)
    const chunks: Buffer[] = []
    for await (const chunk of attached.stream!) chunks.push(Buffer.from(chunk))
    expect(Buffer.concat(chunks).toString()).toBe('tty\n')
    expect((await logs(id)).toString()).toBe('tty\n')
  })
})

describe('wait', () => {
  it('answers not-running at once for a stopped container and next-exit on the next exit', async () => {
    const id = await runContainer(sim, { Cmd: ['sh', '-c', 'exit 3'] })
    expect(JSON.parse((await call(sim, 'ContainerWait', id)).text)).toEqual({ Error: null, StatusCode: 3 })
    const next = call(sim, 'ContainerWait', id, { query: { condition: 'next-exit' } })
    let settled = false
    void next.then(() => { settled = true })
    await new Promise((resolve) => setTimeout(resolve, 10))
    expect(settled).toBe(false)
    await call(sim, 'ContainerStart', id)
    expect(JSON.parse((await next).text).StatusCode).toBe(3)
  })

  it('answers removed once the container is removed, and refuses unknown conditions', async () => {
    const id = await runContainer(sim, { Cmd: ['top'] })
    const removed = call(sim, 'ContainerWait', id, { query: { condition: 'removed' } })
    await call(sim, 'ContainerStop', id)
    await call(sim, 'ContainerDelete', id)
    expect(JSON.parse((await removed).text).StatusCode).toBe(143)
    const other = await createContainer(sim, {})
    await expect(call(sim, 'ContainerWait', other, { query: { condition: 'soon' } })).rejects.toMatchObject({ code: 'BAD_REQUEST' })
  })
})

describe('logs', () => {
  it('frames stdout and stderr, honours tail, timestamps, since and until', async () => {
    const id = await runContainer(sim, { Cmd: ['sh', '-c', 'echo one; echo two >&2; echo three'] })
    expect(demux(await logs(id))).toEqual([[1, 'one\n'], [2, 'two\n'], [1, 'three\n']])
    expect(demux(await logs(id, { tail: '1' }))).toEqual([[1, 'three\n']])
    expect(demux(await logs(id, { stdout: '0' }))).toEqual([[2, 'two\n']])
    const stamped = demux(await logs(id, { timestamps: '1', tail: '1' }))
    expect(stamped[0]?.[1]).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z three\n$/)
    const future = String(Date.now() / 1000 + 60)
    expect(await logs(id, { since: future })).toHaveLength(0)
    expect(demux(await logs(id, { until: future }))).toHaveLength(3)
    await expect(call(sim, 'ContainerLogs', id)).rejects.toMatchObject({ code: 'BAD_REQUEST', message: 'Bad parameters: you must choose at least one stream' })
  })

  it('follows a running container until it stops', async () => {
    const id = await runContainer(sim, { Cmd: ['sh', '-c', 'echo before; sleep 0.05; echo after; sleep 1000'] })
    const followed = await open(sim, 'ContainerLogs', id, { query: { stdout: '1', follow: '1' } })
    setTimeout(() => { void call(sim, 'ContainerStop', id) }, 150)
    const chunks: Buffer[] = []
    for await (const chunk of followed.stream!) chunks.push(Buffer.from(chunk))
    expect(demux(Buffer.concat(chunks))).toEqual([[1, 'before\n'], [1, 'after\n']])
  })

  it('keeps a bounded buffer per container', async () => {
    const script = Array.from({ length: 400 }, (_, i) => `echo line${i}`).join('; ')
    const id = await runContainer(sim, { Cmd: ['sh', '-c', script] })
    const frames = demux(await logs(id))
    expect(frames.length).toBe(256)
    expect(frames.at(-1)?.[1]).toBe('line399\n')
  })
})

describe('exec', () => {
  it('creates, starts (hijacked, multiplexed) and inspects an exec with its exit code', async () => {
    const id = await runContainer(sim, { Cmd: ['sleep', '1000'] })
    const created = await call(sim, 'ContainerExec', id, { body: { Cmd: ['sh', '-c', 'echo in-exec; exit 4'], AttachStdout: true, AttachStderr: true } })
    expect(created.status).toBe(201)
    const execId = created.json().Id
    const started = await call(sim, 'ExecStart', execId, { body: { Detach: false, Tty: false } })
    expect(demux(started.bytes)).toEqual([[1, 'in-exec\n']])
    const inspected = (await call(sim, 'ExecInspect', execId)).json()
    expect(inspected).toMatchObject({ ID: execId, ContainerID: id, Running: false, ExitCode: 4, ProcessConfig: { entrypoint: 'sh', arguments: ['-c', 'echo in-exec; exit 4'] } })
    expect((await call(sim, 'ContainerInspect', id)).json().ExecIDs).toEqual([execId])
    await expect(call(sim, 'ExecInspect', 'nope')).rejects.toMatchObject({ code: 'NOT_FOUND', message: 'No such exec instance: nope' })
    await call(sim, 'ContainerStop', id)
    await expect(call(sim, 'ContainerExec', id, { body: { Cmd: ['true'] } })).rejects.toMatchObject({ code: 'CONFLICT', message: `Container ${id} is not running` })
  })
})

describe('interactive shell', () => {
  it('runs lines typed into sh -i without a terminal and exits with exit N', async () => {
    const id = await createContainer(sim, { Cmd: ['sh'], OpenStdin: true, StdinOnce: true })
    const input = writableStream()
    const attached = await open(sim, 'ContainerAttach', id, { query: { stream: '1', stdin: '1', stdout: '1', stderr: '1' }, stream: input.stream })
    await call(sim, 'ContainerStart', id)
    input.write('echo first\nnosuchcmd\necho "status $?"\n')
    input.write('exit 3\n')
    const chunks: Buffer[] = []
    for await (const chunk of attached.stream!) chunks.push(Buffer.from(chunk))
    expect(demux(Buffer.concat(chunks))).toEqual([[1, 'first\n'], [2, 'sh: nosuchcmd: not found\n'], [1, 'status 127\n']])
    expect((await state(id)).ExitCode).toBe(3)
  })

  it('prompts and echoes on a terminal, and detaches on ctrl-p ctrl-q leaving it running', async () => {
    const id = await createContainer(sim, { Cmd: ['sh'], OpenStdin: true, Tty: true })
    const input = writableStream()
    const attached = await open(sim, 'ContainerAttach', id, { query: { stream: '1', stdin: '1', stdout: '1' }, stream: input.stream })
    await call(sim, 'ContainerStart', id)
    input.write('echo hi\r')
    await new Promise((resolve) => setTimeout(resolve, 10))
    input.write('\x10\x11')
    const chunks: Buffer[] = []
    for await (const chunk of attached.stream!) chunks.push(Buffer.from(chunk))
    expect(Buffer.concat(chunks).toString()).toBe('/ # echo hi\r\nhi\r\n/ # ')
    expect((await state(id)).Running).toBe(true)
  })

  it('runs until stopped when its stdin is closed (docker run -d busybox)', async () => {
    const id = await runContainer(sim, {})
    expect((await call(sim, 'ContainerInspect', id)).json().Path).toBe('sh')
    expect((await state(id)).Running).toBe(true)
  })
})

describe('command line', () => {
  it('merges Entrypoint and Cmd with the image as dockerd does', async () => {
    const cmdOnly = (await call(sim, 'ContainerInspect', await createContainer(sim, { Cmd: ['echo', 'x'] }))).json()
    expect([cmdOnly.Path, cmdOnly.Args]).toEqual(['echo', ['x']])
    const entrypoint = await runContainer(sim, { Entrypoint: ['echo'], Cmd: ['from', 'cmd'] })
    expect(demux(await logs(entrypoint))).toEqual([[1, 'from cmd\n']])
    const entrypointOnly = (await call(sim, 'ContainerInspect', await createContainer(sim, { Entrypoint: 'true' }))).json()
    expect([entrypointOnly.Path, entrypointOnly.Args, entrypointOnly.Config.Cmd]).toEqual(['true', [], null])
    const reset = await runContainer(sim, { Entrypoint: [''], Cmd: ['echo', 'reset'] })
    expect(demux(await logs(reset))).toEqual([[1, 'reset\n']])
  })
})
