// SIGTERM drains serve: the replies in flight reach their wire clients before swarmd closes
// the connections, and a request that never answers holds the shutdown only to its timeout.
import { mkdtemp, rm } from 'node:fs/promises'
import { existsSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { dial, request } from '@libswarm/core'
import { decodeDockerReply, encodeDockerRequest } from '@libswarm/docker-api'
import { startSwarmdProcess, type SwarmdProcess } from './swarmd-process.js'

let dir: string
beforeAll(async () => { dir = await mkdtemp(join(tmpdir(), 'swarmd-serve-shutdown-')) })
afterAll(async () => { await rm(dir, { recursive: true, force: true }) })

async function waitForFile (path: string, timeout = 15_000): Promise<void> {
  const deadline = Date.now() + timeout
  while (!existsSync(path)) {
    if (Date.now() > deadline) throw new Error(`${path} did not appear within ${timeout} ms`)
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

/** Waits until debug logged `count` requests going in. */
async function requestsIn (swarmd: SwarmdProcess, count: number, timeout = 10_000): Promise<void> {
  const deadline = Date.now() + timeout
  while (swarmd.stderr().split('\n').filter((line) => line.includes('"dir":"in"')).length < count) {
    if (Date.now() > deadline) throw new Error(`fewer than ${count} requests reached debug; stderr:\n${swarmd.stderr()}`)
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

const list = encodeDockerRequest({ operation: 'ContainerList', target: '', query: { all: '1' } })

describe('swarmd: SIGTERM with serve in front', () => {
  it('delivers all 20 replies in flight, then exits 0', async () => {
    const socket = join(dir, 'drain.sock')
    await using swarmd = startSwarmdProcess([`serve unix://${socket}`, 'debug', 'simulator --latency 1000'])
    await swarmd.waitForLog(/swarmd is running/)
    await waitForFile(socket)
    await using connection = await dial(`unix://${socket}`)
    const replies = Array.from({ length: 20 }, async () => decodeDockerReply(await request(connection.remote, list.verb, list.args)))
    await requestsIn(swarmd, 20)
    const signalled = Date.now()
    swarmd.child.kill('SIGTERM')
    const settled = await Promise.allSettled(replies)
    expect(settled.map((result) => result.status === 'fulfilled' ? result.value.status : (result.reason as Error).message)).toEqual(Array(20).fill(200))
    expect(await swarmd.exited).toBe(0)
    expect(Date.now() - signalled).toBeLessThan(5000)
    expect(existsSync(socket)).toBe(false)
  })

  it('stops within its --shutdown-timeout when a request never answers', async () => {
    const socket = join(dir, 'hung.sock')
    await using swarmd = startSwarmdProcess(['--shutdown-timeout', '2s', `serve unix://${socket}`, 'debug', 'simulator --latency 60000'])
    await swarmd.waitForLog(/swarmd is running/)
    await waitForFile(socket)
    await using connection = await dial(`unix://${socket}`)
    const hung = request(connection.remote, list.verb, list.args).catch((error: unknown) => error)
    await requestsIn(swarmd, 1)
    const signalled = Date.now()
    swarmd.child.kill('SIGTERM')
    expect(await swarmd.exited).toBe(1)
    const took = Date.now() - signalled
    expect(took).toBeGreaterThanOrEqual(1900)
    expect(took).toBeLessThan(4500)
    expect(await hung).toMatchObject({ code: 'UNAVAILABLE' })
  })
})
