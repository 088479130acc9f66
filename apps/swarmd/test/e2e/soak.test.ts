import { existsSync } from 'node:fs'
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises'
import { request as httpRequest } from 'node:http'
import { connect } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startEngine, type Engine } from '@libswarm/test-engine'
import { abandonedSockets } from './process-sockets.js'
import { startSwarmdProcess, type SwarmdProcess } from './swarmd-process.js'

const canStartEngines = process.getuid?.() === 0

// A bounded soak of two swarmd processes joined by the wire:
//   front:   dockerserver (unix) | remote (unix)
//   back:    serve (unix) | aggregate of two simulators
// Many clients run mixed Docker operations for a fixed time; some are cut off at random
// mid-request or mid-stream. Afterwards every fd the load opened must be closed again
// and RSS must be back near its level after a warm-up of the same load.

const SOAK_MS = Number(process.env.LIBSWARM_SOAK_MS ?? 20_000)
const WARMUP_MS = 4_000

let dir: string
let dockerSocket: string

interface Reply { status: number, body: string }

/** One HTTP request on its own connection; `cutAfterMs` destroys it mid-way. Never rejects. */
async function call (method: string, path: string, options: { body?: unknown, cutAfterMs?: number, rawBody?: string, headers?: Record<string, string> } = {}): Promise<Reply | undefined> {
  return await new Promise((resolve) => {
    const payload = options.rawBody ?? (options.body === undefined ? undefined : JSON.stringify(options.body))
    const req = httpRequest({
      socketPath: dockerSocket,
      method,
      path,
      agent: false,
      headers: { ...(payload === undefined ? {} : { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(payload) }), ...options.headers }
    }, (res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (chunk: string) => { if (body.length < 1 << 20) body += chunk })
      res.on('end', () => { clearTimeout(timer); resolve({ status: res.statusCode ?? 0, body }) })
      res.on('error', () => { clearTimeout(timer); resolve(undefined) })
    })
    const timer = setTimeout(() => { req.destroy(); resolve(undefined) }, options.cutAfterMs ?? 15_000)
    req.on('error', () => { clearTimeout(timer); resolve(undefined) })
    req.end(payload)
  })
}

/** A hijacked attach, written to and then dropped without a goodbye. */
async function attachAndLeave (id: string, leaveAfterMs: number): Promise<void> {
  await new Promise<void>((resolve) => {
    const socket = connect(dockerSocket)
    const done = (): void => { clearTimeout(timer); socket.destroy(); resolve() }
    const timer = setTimeout(done, leaveAfterMs)
    socket.on('error', done)
    socket.on('close', done)
    socket.write(`POST /v1.41/containers/${id}/attach?stream=1&stdin=1&stdout=1&stderr=1 HTTP/1.1\r\nHost: docker\r\nUpgrade: tcp\r\nConnection: Upgrade\r\nContent-Length: 0\r\n\r\n`)
    socket.write('echo soak\n')
  })
}

/** A request whose body is promised and never finished. */
async function abandonedBody (path: string, leaveAfterMs: number): Promise<void> {
  await new Promise<void>((resolve) => {
    const socket = connect(dockerSocket)
    const done = (): void => { clearTimeout(timer); socket.destroy(); resolve() }
    const timer = setTimeout(done, leaveAfterMs)
    socket.on('error', done)
    socket.write(`POST ${path} HTTP/1.1\r\nHost: docker\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{"Image":`)
  })
}

function pick<T> (items: readonly T[]): T | undefined { return items[Math.floor(Math.random() * items.length)] }

/** Runs mixed operations from `clients` loops for `ms`; the containers it made stay until `removeContainers`. */
async function load (ms: number, clients: number): Promise<{ counts: Map<string, number>, removeContainers: () => Promise<void> }> {
  const counts = new Map<string, number>()
  const owned: string[] = []
  const deadline = Date.now() + ms
  const count = (kind: string): void => { counts.set(kind, (counts.get(kind) ?? 0) + 1) }
  const operations: Array<[string, () => Promise<unknown>]> = [
    ['run', async () => {
      const created = await call('POST', '/v1.41/containers/create', { body: { Image: 'busybox', Cmd: ['sh', '-c', 'echo hello; sleep 3600'], OpenStdin: true, Labels: { soak: '1' } } })
      if (created?.status !== 201) return
      const id = (JSON.parse(created.body) as { Id: string }).Id
      owned.push(id)
      await call('POST', `/v1.41/containers/${id}/start`)
    }],
    ['ps', async () => await call('GET', '/v1.41/containers/json?all=1')],
    ['ps-filtered', async () => await call('GET', `/v1.41/containers/json?all=1&filters=${encodeURIComponent('{"label":["soak=1"],"name":["^/[a-z]+_[a-z]+$"]}')}`)],
    ['inspect', async () => { const id = pick(owned); if (id !== undefined) await call('GET', `/v1.41/containers/${id}/json`) }],
    ['logs-follow-cut', async () => { const id = pick(owned); if (id !== undefined) await call('GET', `/v1.41/containers/${id}/logs?follow=1&stdout=1&stderr=1`, { cutAfterMs: 50 + Math.random() * 300 }) }],
    ['events-cut', async () => await call('GET', '/v1.41/events', { cutAfterMs: 50 + Math.random() * 300 })],
    ['wait-cut', async () => { const id = pick(owned); if (id !== undefined) await call('POST', `/v1.41/containers/${id}/wait`, { cutAfterMs: 50 + Math.random() * 200 }) }],
    ['attach-leave', async () => { const id = pick(owned); if (id !== undefined) await attachAndLeave(id, 50 + Math.random() * 200) }],
    ['exec', async () => {
      const id = pick(owned)
      if (id === undefined) return
      const exec = await call('POST', `/v1.41/containers/${id}/exec`, { body: { Cmd: ['echo', 'hi'], AttachStdout: true } })
      if (exec?.status === 201) await call('POST', `/v1.41/exec/${(JSON.parse(exec.body) as { Id: string }).Id}/start`, { body: { Detach: false } })
    }],
    ['bad-json', async () => await call('POST', '/v1.41/containers/create', { rawBody: '{"Image": [[[[', headers: { 'Content-Type': 'application/json' } })],
    ['abandoned-body', async () => await abandonedBody('/v1.41/containers/create', 20 + Math.random() * 100)],
    ['info', async () => await call('GET', '/v1.41/info')],
    ['rm', async () => {
      if (owned.length < 20) return
      const id = owned.splice(Math.floor(Math.random() * owned.length), 1)[0]
      if (id !== undefined) await call('DELETE', `/v1.41/containers/${id}?force=1`)
    }]
  ]
  // LIBSWARM_SOAK_ONLY=attach-leave,wait-cut narrows the load to those kinds (and run), to find what leaks.
  const only = process.env.LIBSWARM_SOAK_ONLY?.split(',')
  if (only !== undefined) operations.splice(0, operations.length, ...operations.filter(([kind]) => only.includes(kind) || kind === 'run'))
  await Promise.all(Array.from({ length: clients }, async () => {
    while (Date.now() < deadline) {
      const [kind, operation] = pick(operations) as [string, () => Promise<unknown>]
      await operation()
      count(kind)
    }
  }))
  return { counts, removeContainers: async () => { for (const id of owned.splice(0)) await call('DELETE', `/v1.41/containers/${id}?force=1`) } }
}

interface Footprint { fds: number, rssKiB: number }

async function footprint (pid: number): Promise<Footprint> {
  const fds = (await readdir(`/proc/${pid}/fd`)).length
  const status = await readFile(`/proc/${pid}/status`, 'utf8')
  const rssKiB = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0)
  return { fds, rssKiB }
}

/** Waits until the fd count of `pid` is at most `target`, up to `timeout`; returns the last footprint. */
async function settle (pid: number, target: number, timeout = 10_000): Promise<Footprint> {
  const deadline = Date.now() + timeout
  let last = await footprint(pid)
  while (last.fds > target && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 200))
    last = await footprint(pid)
  }
  return last
}

async function waitForFile (path: string, timeout = 15_000): Promise<void> {
  const deadline = Date.now() + timeout
  while (!existsSync(path)) {
    if (Date.now() > deadline) throw new Error(`${path} did not appear within ${timeout} ms`)
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

/** Runs the soak against the swarmd processes `start` launches; `pids` are measured. */
function soak (title: string, clients: number, poolSlack: number, start: () => Promise<SwarmdProcess[]>): void {
  describe(title, () => {
    let processes: SwarmdProcess[] = []
    beforeAll(async () => { processes = await start() })
    afterAll(async () => { for (const process of processes.reverse()) await process[Symbol.asyncDispose]() })

    it(`returns to its fds and memory after ${SOAK_MS / 1000} s of mixed load with clients cut off at random`, async () => {
      const pids = processes.map((process) => process.child.pid as number)
      await (await load(WARMUP_MS, clients)).removeContainers()
      const baseline = await Promise.all(pids.map(async (pid) => await settle(pid, 0, 3_000)))
      // Measured while the containers still run: an abandoned attach or log stream would stay open with them.
      const { counts, removeContainers } = await load(SOAK_MS, clients)
      const total = [...counts.values()].reduce((sum, n) => sum + n, 0)
      expect(total).toBeGreaterThan(200)
      const after = await Promise.all(pids.map(async (pid, i) => await settle(pid, (baseline[i] as Footprint).fds)))
      console.log(`soak (${title}):`, total, 'operations', JSON.stringify(Object.fromEntries(counts)), JSON.stringify({ baseline, after }))
      for (const [i, end] of after.entries()) {
        const begin = baseline[i] as Footprint
        expect(await abandonedSockets(pids[i] as number), `sockets of swarmd #${i} whose peer left`).toEqual([])
        // The engine client's keep-alive pool may hold one more idle connection per concurrent client.
        expect(end.fds, `fds of swarmd #${i}`).toBeLessThanOrEqual(begin.fds + poolSlack)
        // V8 keeps some heap it grew; a leak grows with the load, which runs 5x longer than the warm-up.
        expect(end.rssKiB, `RSS of swarmd #${i} (KiB)`).toBeLessThanOrEqual(begin.rssKiB + 64 * 1024)
      }
      // A wire connection lost under load (a peer's GOAWAY, say) shows in its dialer's log.
      for (const process of processes) expect(process.stderr()).not.toMatch(/remote: disconnected/)
      await removeContainers()
      expect((await call('GET', '/_ping'))?.body).toBe('OK')
    }, SOAK_MS + WARMUP_MS + 90_000)
  })
}

beforeAll(async () => { dir = await mkdtemp(join(tmpdir(), 'swarmd-soak-')) })
afterAll(async () => { await rm(dir, { recursive: true, force: true }) })

soak('dockerserver | remote => serve | aggregate | simulators', 32, 0, async () => {
  const wireSocket = join(dir, 'wire.sock')
  dockerSocket = join(dir, 'docker.sock')
  const back = startSwarmdProcess([`serve unix://${wireSocket}`, 'aggregate "simulator --name soak-a" "simulator --name soak-b"'])
  await waitForFile(wireSocket)
  const front = startSwarmdProcess([`dockerserver unix://${dockerSocket}`, `remote unix://${wireSocket}`])
  await waitForFile(dockerSocket)
  return [back, front]
})

let engine: Engine | undefined
describe.skipIf(!canStartEngines)('with a real engine', () => {
  afterAll(async () => { await engine?.close() })
  soak('dockerserver | dockerclient => a private dockerd', 8, 8, async () => {
    engine = await startEngine()
    dockerSocket = join(dir, 'engine-front.sock')
    const front = startSwarmdProcess([`dockerserver unix://${dockerSocket}`, `dockerclient ${engine.host}`])
    await waitForFile(dockerSocket)
    return [front]
  })
})
