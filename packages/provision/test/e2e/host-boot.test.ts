import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ErrorCode, SwarmError } from '@libswarm/core'
import { canRunTests, freePort, startEngine } from '@libswarm/test-engine'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { parse } from 'yaml'
import { HostSet, type CloudHost, type HostProvider, type HostSetOptions, type LaunchRequest } from '../../src/index.js'

let dir = ''
beforeAll(async () => { dir = await mkdtemp(join(tmpdir(), 'lsw-provision-boot-')) })
afterAll(async () => { await rm(dir, { recursive: true, force: true }) })

/**
 * A cloud like EC2: the launch answers a pending host with its (private) address, the host's
 * real dockerd starts from the user data; its waiter is slow (a real one polls every few
 * seconds) and only the test decides when it answers.
 */
function slowWaiterCloud (port: number): HostProvider & { waits: AbortSignal[], engines: Array<Promise<AsyncDisposable>>, terminated: string[] } {
  const waits: AbortSignal[] = []
  const engines: Array<Promise<AsyncDisposable>> = []
  const terminated: string[] = []
  let serial = 0
  return {
    name: 'testcloud',
    waits,
    engines,
    terminated,
    list: async () => [],
    launch: async (request: LaunchRequest): Promise<CloudHost> => {
      const files = new Map((parse(request.userData) as { write_files: Array<{ path: string, content: string }> }).write_files.map((file) => [file.path.split('/').pop(), file.content]))
      engines.push(startEngine({ busybox: false, tls: { caCert: files.get('ca.pem') ?? '', cert: files.get('server-cert.pem') ?? '', key: files.get('server-key.pem') ?? '', port } }))
      return { id: `h-${++serial}`, state: 'pending', address: '127.0.0.1', tags: request.tags }
    },
    waitRunning: async (id, options) => {
      const signal = options.signal as AbortSignal
      waits.push(signal)
      await new Promise((resolve) => { signal.addEventListener('abort', resolve, { once: true }); setTimeout(resolve, options.timeoutMs).unref() })
      signal.throwIfAborted()
      throw new SwarmError(ErrorCode.Timeout, `testcloud: ${id} still pending after ${options.timeoutMs} ms`)
    },
    terminate: async (ids) => { terminated.push(...ids) },
    describeLaunch: () => 'a test host'
  }
}

function options (port: number, stateDir: string): HostSetOptions {
  return { swarm: 'boot', count: 1, maxHosts: 1, dryRun: false, terminateOnStop: false, onUnreachable: 'fail', bootTimeoutMs: 40_000, checkIntervalMs: 0, checkRetries: 3, enginePort: port, tags: {}, stateDir }
}

describe.runIf(canRunTests(['engine']))('a host is up when its engine answers', () => {
  it('pings the address the launch answered while the cloud\'s waiter still says pending, and stops the waiter', async () => {
    const port = await freePort()
    const cloud = slowWaiterCloud(port)
    const hostSet = new HostSet(cloud, options(port, join(dir, 'state-a')))
    try {
      const started = Date.now()
      await hostSet.start()
      expect(Date.now() - started).toBeLessThan(30_000)
      const host = hostSet.hosts.get('h-1')
      expect(host?.address).toBe('127.0.0.1')
      expect(cloud.waits).toHaveLength(1)
      expect(cloud.waits[0]?.aborted).toBe(true)
      expect(hostSet.describe()).toMatchObject({ hosts: [{ name: 'h-1', launched: true }] })
    } finally {
      await hostSet.close()
      for (const engine of cloud.engines) await (await engine)[Symbol.asyncDispose]()
    }
  }, 60_000)

  it('still fails the start when the waiter says the host failed and no engine answers', async () => {
    const port = await freePort()
    const base = slowWaiterCloud(port)
    const cloud: HostProvider = {
      ...base,
      launch: async (request) => ({ id: 'h-dead', state: 'pending', address: '127.0.0.1', tags: request.tags }),
      waitRunning: async (id) => { throw new SwarmError(ErrorCode.Unavailable, `testcloud: ${id} went to ERROR`) }
    }
    const hostSet = new HostSet(cloud, options(port, join(dir, 'state-b')))
    try {
      await expect(hostSet.start()).rejects.toMatchObject({ code: ErrorCode.Unavailable, message: 'testcloud: h-dead went to ERROR' })
      expect(hostSet.hosts.size).toBe(0)
      expect(base.terminated).toEqual(['h-dead'])
    } finally {
      await hostSet.close()
    }
  }, 60_000)
})
