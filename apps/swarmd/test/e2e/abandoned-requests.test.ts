/**
 * A docker CLI that is killed in the middle of a long request (attach, logs -f, events,
 * wait) must leave nothing behind in swarmd: no socket whose client left, no request still
 * open at the engine, and a SIGTERM that exits at once and cleanly (issue #9, item 4).
 * Real CLIs, a real private engine, swarmd as child processes.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { DOCKER20, DOCKER28, freePort, startEngine, type Engine } from '@libswarm/test-engine'
import { dockerEnv, startSwarmd, tempDir, type SwarmdProcess } from './docker-cli-harness.js'
import { abandonedSockets, connectionsTo } from './process-sockets.js'

const canStartEngines = process.getuid?.() === 0

/** How long swarmd may take to let go of a departed client: its hijack probe runs every second. */
const LET_GO_MS = 3_000
const SHUTDOWN_MS = 2_000
/** swarmd's own shutdown timeout: a swarmd still waiting on a departed client exits 1 after it. */
const SHUTDOWN_TIMEOUT_MS = 10_000

let engine: Engine
let work: { path: string, close: () => void }
/** Containers that print once, then nothing for an hour; `interactive` takes stdin (`-i`). */
let silent: string
let interactive: string

/** The long requests a client may walk away from, each with both CLIs. */
const REQUESTS: Array<{ title: string, cli: string, args: () => string[], stdin: 'ignore' | 'pipe' }> = [
  // no stdin to attach: the engine does not end the attach when the client's side closes; only swarmd can tell it left
  { title: 'attach', cli: DOCKER28, args: () => ['attach', silent], stdin: 'ignore' },
  { title: 'attach', cli: DOCKER20, args: () => ['attach', silent], stdin: 'ignore' },
  // stdin attached and held open
  { title: 'attach -i', cli: DOCKER28, args: () => ['attach', interactive], stdin: 'pipe' },
  { title: 'logs -f', cli: DOCKER28, args: () => ['logs', '-f', silent], stdin: 'ignore' },
  { title: 'logs -f', cli: DOCKER20, args: () => ['logs', '-f', silent], stdin: 'ignore' },
  { title: 'events', cli: DOCKER28, args: () => ['events'], stdin: 'ignore' },
  { title: 'events', cli: DOCKER20, args: () => ['events'], stdin: 'ignore' },
  { title: 'wait', cli: DOCKER28, args: () => ['wait', silent], stdin: 'ignore' },
  { title: 'wait', cli: DOCKER20, args: () => ['wait', interactive], stdin: 'ignore' }
]

async function sleep (ms: number): Promise<void> { await new Promise((resolve) => setTimeout(resolve, ms)) }

/** Polls `probe` every 100 ms until it returns true or `ms` ran out; returns its last answer. */
async function eventually (ms: number, probe: () => Promise<boolean>): Promise<boolean> {
  const deadline = Date.now() + ms
  for (;;) {
    if (await probe()) return true
    if (Date.now() > deadline) return false
    await sleep(100)
  }
}

/** SIGTERM, then how it ended and how long it took (SIGKILL after `ms`, reported as such). */
async function terminate (swarmd: SwarmdProcess, ms: number): Promise<{ code: number | null, signal: string | null, ms: number }> {
  const started = Date.now()
  const exited = new Promise<{ code: number | null, signal: string | null }>((resolve) => {
    if (!swarmd.alive()) resolve({ code: swarmd.child.exitCode, signal: swarmd.child.signalCode })
    swarmd.child.once('exit', (code, signal) => { resolve({ code, signal }) })
  })
  swarmd.child.kill('SIGTERM')
  const timer = setTimeout(() => { swarmd.child.kill('SIGKILL') }, ms)
  const result = await exited
  clearTimeout(timer)
  return { ...result, ms: Date.now() - started }
}

beforeAll(async () => {
  if (!canStartEngines) return
  work = tempDir('swarmd-e2e-abandoned-')
  engine = await startEngine()
  for (const interactiveRun of [false, true]) {
    const run = await engine.docker(['run', '-d', ...(interactiveRun ? ['-i'] : []), 'busybox', 'sh', '-c', 'echo ready; sleep 3600'])
    expect(run.code, run.stderr).toBe(0)
    if (interactiveRun) interactive = run.stdout.trim()
    else silent = run.stdout.trim()
  }
}, 120_000)

afterAll(async () => {
  if (!canStartEngines) return
  await engine?.close()
  work?.close()
})

/**
 * Runs every request of {@link REQUESTS} through `host`, one after another, each until the
 * engine holds its connection; SIGKILLs them all, then asserts that `front` and `back` let
 * go within {@link LET_GO_MS} (all but `lingering` of them) and exit 0 on SIGTERM within
 * {@link SHUTDOWN_MS}.
 */
async function walkAway (host: string, front: SwarmdProcess, back: SwarmdProcess, lingering = 0): Promise<void> {
  const config = join(work.path, `cli-config-${front.pid}`)
  mkdirSync(config, { recursive: true })
  const engineConnections = async (): Promise<number> => (await connectionsTo(back.pid, engine.socketPath)).length
  const before = await engineConnections()
  const clients: ChildProcess[] = []
  let during = 0
  try {
    for (const request of REQUESTS) {
      const held = await engineConnections()
      const client = spawn(request.cli, request.args(), { env: dockerEnv(host, config), stdio: [request.stdin, 'pipe', 'pipe'] })
      clients.push(client)
      let output = ''
      for (const stream of [client.stdout, client.stderr]) stream?.setEncoding('utf8').on('data', (chunk: string) => { output += chunk })
      // Started once its request holds one more connection at the engine, or its output says so;
      // a pooled request may reuse an idle connection and add none, so a second is enough then.
      await eventually(1_000, async () => output.includes('ready') || await engineConnections() > held)
      expect(client.exitCode, `${request.title} (${request.cli}) ended by itself: ${output}`).toBe(null)
    }
    // each request holds a connection of its own at the engine
    during = await engineConnections()
    expect(during).toBeGreaterThanOrEqual(REQUESTS.length)
  } finally {
    for (const client of clients) client.kill('SIGKILL')
  }
  const processes = front === back ? [front] : [front, back]
  const killed = Date.now()
  const abandoned = async (): Promise<string[]> => (await Promise.all(processes.map(async (swarmd) => await abandonedSockets(swarmd.pid)))).flat()
  const letGo = await eventually(LET_GO_MS, async () => (await abandoned()).length <= lingering && await engineConnections() <= before + lingering)
  console.log(`engine connections: ${before} before, ${during} during, ${await engineConnections()} ${Date.now() - killed} ms after the clients left`)
  if (!letGo) {
    // soft: the shutdown below is checked too
    expect.soft((await abandoned()).length, `sockets of swarmd whose client left:\n${(await abandoned()).join('\n')}`).toBeLessThanOrEqual(lingering)
    expect.soft(await engineConnections(), 'connections to the engine still open for the departed clients').toBeLessThanOrEqual(before + lingering)
  }
  for (const swarmd of processes) {
    const exit = await terminate(swarmd, SHUTDOWN_TIMEOUT_MS + 2_000)
    console.log(`swarmd ${swarmd.pid} exited ${exit.code ?? exit.signal} ${exit.ms} ms after SIGTERM`)
    expect.soft(exit, `swarmd ${swarmd.pid} on SIGTERM:\n${swarmd.output().slice(-2000)}`).toMatchObject({ code: 0, signal: null })
    expect.soft(exit.ms, `ms swarmd ${swarmd.pid} took to exit on SIGTERM`).toBeLessThan(SHUTDOWN_MS)
  }
}

describe.skipIf(!canStartEngines)('clients that leave in the middle of a long request (needs root for a private dockerd)', () => {
  it('dockerserver | dockerclient lets go of them at once, and stops cleanly', async () => {
    const socket = join(work.path, 'a.sock')
    const swarmd = await startSwarmd([`dockerserver unix://${socket}`, `dockerclient ${engine.host}`], { ready: { kind: 'docker', socket } })
    try {
      await walkAway(`unix://${socket}`, swarmd, swarmd)
    } finally {
      await swarmd.close()
    }
  }, 60_000)

  it('over TCP, dockerserver | dockerclient lets go of all but the silent attaches, and stops cleanly at once', async () => {
    const socket = join(work.path, 'tcp-ready.sock')
    const port = await freePort()
    const swarmd = await startSwarmd([`dockerserver unix://${socket} tcp://127.0.0.1:${port}`, `dockerclient ${engine.host}`], { ready: { kind: 'docker', socket } })
    try {
      // A client that left over TCP after closing its side cannot be told from one still reading
      // until its FIN_WAIT2 expires (a minute; dockerserver README, known limits): the attaches
      // to the silent container stay until then, but must not hold up the shutdown.
      await walkAway(`tcp://127.0.0.1:${port}`, swarmd, swarmd, 2)
    } finally {
      await swarmd.close()
    }
  }, 60_000)

  it('dockerserver | remote ~ serve | dockerclient lets go of them at once, and stops cleanly', async () => {
    const wire = join(work.path, 'wire.sock')
    const socket = join(work.path, 'c.sock')
    const back = await startSwarmd([`serve unix://${wire}`, `dockerclient ${engine.host}`], { ready: { kind: 'socket', socket: wire } })
    try {
      const front = await startSwarmd([`dockerserver unix://${socket}`, `remote unix://${wire}`], { ready: { kind: 'docker', socket } })
      try {
        await walkAway(`unix://${socket}`, front, back)
      } finally {
        await front.close()
      }
    } finally {
      await back.close()
    }
  }, 60_000)
})
