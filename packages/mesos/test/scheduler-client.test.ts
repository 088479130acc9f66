import { createServer as createHttpServer, type Server } from 'node:http'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ErrorCode, SwarmError, createServer } from '@libswarm/core'
import { afterEach, describe, expect, it } from 'vitest'
import type { MesosOffer, MesosTaskStatus } from '../src/mesos-types.js'
import { encodeRecord } from '../src/record-io.js'
import { SchedulerClient, type SchedulerEvents } from '../src/scheduler-client.js'
import { StandInMaster } from './support/stand-in-master.js'
import { serverCertificates } from './support/tls-certs.js'

const noEngine = createServer({ default: () => { throw new SwarmError(ErrorCode.Unavailable, 'no engine in this test') } })

interface Recorded extends SchedulerEvents {
  seen: { offers: MesosOffer[][], updates: MesosTaskStatus[], subscribed: Array<[string, boolean]>, disconnects: string[] }
}

function recorder (): Recorded {
  const seen: Recorded['seen'] = { offers: [], updates: [], subscribed: [], disconnects: [] }
  return {
    seen,
    subscribed: (id, again) => { seen.subscribed.push([id, again]) },
    offers: (offers) => { seen.offers.push(offers) },
    rescind: () => {},
    update: (status) => { seen.updates.push(status) },
    agentLost: () => {},
    disconnected: (reason) => { seen.disconnects.push(reason) }
  }
}

async function until (what: string, test: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!test()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}

const cleanups: Array<() => Promise<void>> = []
afterEach(async () => { for (const cleanup of cleanups.splice(0)) await cleanup() })

async function setup (options: ConstructorParameters<typeof StandInMaster>[1] = {}, client: Partial<ConstructorParameters<typeof SchedulerClient>[0]> = {}) {
  const master = new StandInMaster([{ hostname: 'agent-a', cpus: 2, mem: 1024, ports: [[31000, 31099]], attributes: { zone: 'a' }, engine: noEngine }], { heartbeatSeconds: 0.1, ...options })
  await master.start()
  const recorded = recorder()
  const events = recorded.seen
  const scheduler = new SchedulerClient({ master: master.url, framework: { user: 'root', name: 'test', failover_timeout: 60 }, backoffMinMs: 20, backoffMaxMs: 200, ...client }, recorded)
  cleanups.push(async () => { await scheduler.close(); await master.close() })
  scheduler.start()
  return { master, events, scheduler }
}

describe('SchedulerClient against the stand-in master', () => {
  it('subscribes, gets a framework id and offers with resources and attributes', async () => {
    const { master, events, scheduler } = await setup()
    await scheduler.ready(5000)
    expect(scheduler.frameworkId).toMatch(/-0000$/)
    await until('an offer', () => events.offers.length > 0)
    const offer = events.offers[0]?.[0] as MesosOffer
    expect(offer.hostname).toBe('agent-a')
    expect(offer.resources?.find((resource) => resource.name === 'cpus')?.scalar?.value).toBe(2)
    expect(offer.attributes).toEqual([{ name: 'zone', type: 'TEXT', text: { value: 'a' } }])
    expect(master.callsOf('SUBSCRIBE')[0]?.subscribe?.framework_info).toMatchObject({ user: 'root', name: 'test', failover_timeout: 60 })
  })

  it('sends calls with the Mesos-Stream-Id: DECLINE with refuse_seconds holds the agent back, REVIVE brings it back', async () => {
    const { master, events, scheduler } = await setup()
    await until('an offer', () => events.offers.length > 0)
    const offer = events.offers[0]?.[0] as MesosOffer
    await scheduler.call({ type: 'DECLINE', decline: { offer_ids: [offer.id], filters: { refuse_seconds: 30 } } })
    expect(master.callsOf('DECLINE')[0]?.decline?.filters?.refuse_seconds).toBe(30)
    const seen = events.offers.length
    await new Promise((resolve) => setTimeout(resolve, 300))
    expect(events.offers.length).toBe(seen)
    await scheduler.call({ type: 'REVIVE', revive: {} })
    await until('a new offer after REVIVE', () => events.offers.length > seen)
  })

  it('re-subscribes with the same framework id when the stream breaks', async () => {
    const { master, events, scheduler } = await setup()
    await scheduler.ready(5000)
    const id = scheduler.frameworkId
    master.dropStream()
    await until('a second subscription', () => master.subscribes === 2)
    await until('subscribed again', () => events.subscribed.length === 2)
    expect(events.subscribed[1]).toEqual([id, true])
    expect(master.callsOf('SUBSCRIBE')[1]?.subscribe?.framework_info.id?.value).toBe(id)
    expect(events.disconnects.length).toBe(1)
  })

  it('drops a silent stream after the missed heartbeats and subscribes again', async () => {
    const { master, events, scheduler } = await setup({ heartbeatSeconds: 0.1, offerIntervalMs: 60_000 }, { heartbeatMisses: 3 })
    await scheduler.ready(5000)
    master.pauseHeartbeats()
    await until('the disconnect', () => events.disconnects.length === 1, 3000)
    expect(events.disconnects[0]).toMatch(/no heartbeat/)
    master.pauseHeartbeats(false)
    await until('subscribed again', () => events.subscribed.length === 2, 3000)
    expect(events.subscribed[1]?.[1]).toBe(true)
  })

  it('survives a master restart: retries with backoff until it is back', async () => {
    const { master, events, scheduler } = await setup()
    await scheduler.ready(5000)
    await master.restart(400)
    await until('subscribed again', () => events.subscribed.length === 2, 5000)
    expect(scheduler.subscriptions).toBe(2)
  })

  it('refuses calls while not subscribed, with a clear error', async () => {
    const scheduler = new SchedulerClient({ master: 'http://127.0.0.1:9', framework: { user: 'root', name: 'x' }, backoffMinMs: 20, backoffMaxMs: 50 }, recorder())
    cleanups.push(async () => { await scheduler.close() })
    scheduler.start()
    await expect(scheduler.call({ type: 'REVIVE' })).rejects.toThrow(/not subscribed/)
    await expect(scheduler.ready(300)).rejects.toThrow(/not subscribed to http:\/\/127.0.0.1:9 after 300 ms \(.*ECONNREFUSED/)
  })

  it('sends Basic credentials; a wrong secret is reported', async () => {
    const credentials = { principal: 'swarm', secret: 's3cret' }
    const good = await setup({ credentials }, { principal: 'swarm', secret: 's3cret' })
    await good.scheduler.ready(5000)
    const bad = await setup({ credentials }, { principal: 'swarm', secret: 'nope' })
    await expect(bad.scheduler.ready(300)).rejects.toThrow(/SUBSCRIBE answered 401/)
  })

  it('subscribes to an https master whose CA it is given, and refuses one it cannot verify', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'mesos-tls-'))
    cleanups.push(async () => { await rm(dir, { recursive: true, force: true }) })
    const { ca, cert, key } = serverCertificates(dir)
    const good = await setup({ tls: { cert, key } }, { tls: { ca } })
    expect(good.master.url).toMatch(/^https:/)
    await good.scheduler.ready(5000)
    const bad = await setup({ tls: { cert, key } })
    await expect(bad.scheduler.ready(500)).rejects.toThrow(/certificate/)
  })

  it('parses a RecordIO stream cut at odd places, and acknowledges updates carrying a uuid', async () => {
    const acks: unknown[] = []
    const server: Server = createHttpServer((request, response) => {
      let body = ''
      request.on('data', (chunk: Buffer) => { body += chunk.toString() })
      request.on('end', () => {
        const call = JSON.parse(body) as { type: string }
        if (call.type !== 'SUBSCRIBE') {
          acks.push({ call, stream: request.headers['mesos-stream-id'] })
          response.writeHead(202).end()
          return
        }
        response.writeHead(200, { 'Mesos-Stream-Id': 'stream-1', 'Content-Type': 'application/json' })
        const bytes = Buffer.concat([
          { type: 'SUBSCRIBED', subscribed: { framework_id: { value: 'fw-1' }, heartbeat_interval_seconds: 15 } },
          { type: 'UPDATE', update: { status: { task_id: { value: 't1' }, agent_id: { value: 'a1' }, state: 'TASK_RUNNING', uuid: 'dXVpZA==' } } },
          { type: 'UPDATE', update: { status: { task_id: { value: 't2' }, state: 'TASK_LOST', message: 'ünïcode' } } }
        ].map((event) => encodeRecord(JSON.stringify(event))))
        let at = 0
        const step = (): void => {
          if (at >= bytes.length) return
          response.write(bytes.subarray(at, at + 7))
          at += 7
          setTimeout(step, 1)
        }
        step()
      })
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    cleanups.push(async () => { server.closeAllConnections(); await new Promise((resolve) => server.close(resolve)) })
    const recorded = recorder()
    const events = recorded.seen
    const scheduler = new SchedulerClient({ master: `http://127.0.0.1:${(server.address() as { port: number }).port}`, framework: { user: 'root', name: 'x' } }, recorded)
    cleanups.push(async () => { await scheduler.close() })
    scheduler.start()
    await until('two updates', () => events.updates.length === 2)
    expect(events.updates[1]?.message).toBe('ünïcode')
    await until('the acknowledgement', () => acks.length === 1)
    expect(acks[0]).toEqual({ stream: 'stream-1', call: { type: 'ACKNOWLEDGE', framework_id: { value: 'fw-1' }, acknowledge: { agent_id: { value: 'a1' }, task_id: { value: 't1' }, uuid: 'dXVpZA==' } } })
  })
})
