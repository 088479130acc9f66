import { existsSync } from 'node:fs'
import { request } from 'node:http'
import { operationSpec, operationUrl } from '@libswarm/docker-api'
import { startEngine, type Engine } from '@libswarm/test-engine'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ENGINE_ANSWERS, PORT_ANSWERS, unmarshal } from '../engine-answers.js'

const CAN_START_ENGINE = process.getuid?.() === 0 && existsSync('/usr/sbin/dockerd')

/** One JSON request to the engine's unix socket: its status and parsed body. */
async function send (engine: Engine, method: string, path: string, body: unknown): Promise<{ status: number, json: any }> {
  return await new Promise((resolve, reject) => {
    const outgoing = request({ socketPath: engine.socketPath, method, path: `/v1.41${path}`, headers: { 'Content-Type': 'application/json' } }, (incoming) => {
      let text = ''
      incoming.setEncoding('utf8')
      incoming.on('data', (chunk: string) => { text += chunk })
      incoming.on('end', () => { resolve({ status: incoming.statusCode ?? 0, json: text === '' ? undefined : JSON.parse(text) }) })
      incoming.on('error', reject)
    })
    outgoing.on('error', reject)
    outgoing.setTimeout(10_000, () => outgoing.destroy(new Error(`${method} ${path} took over 10 s`)))
    outgoing.end(JSON.stringify(body))
  })
}

// The table the simulator is tested against (test/body-types.test.ts), asked of a real dockerd 20.10:
// if an engine answers otherwise, the table, and so the simulator, is wrong.
describe.skipIf(!CAN_START_ENGINE)('the answers to wrongly typed bodies are dockerd\'s', () => {
  let engine: Engine
  const targets: Record<string, string> = { NetworkConnect: 'bridge', NetworkDisconnect: 'bridge' }

  beforeAll(async () => {
    engine = await startEngine({ name: 'lsw-bodies' })
    const created = await send(engine, 'POST', '/containers/create?name=typed-target', { Image: 'busybox', Cmd: ['sleep', '300'] })
    const id = created.json.Id as string
    expect((await send(engine, 'POST', `/containers/${id}/start`, undefined)).status).toBe(204)
    const exec = await send(engine, 'POST', `/containers/${id}/exec`, { Cmd: ['true'] })
    Object.assign(targets, { ContainerExec: id, ContainerUpdate: id, ExecStart: exec.json.Id as string })
  })
  afterAll(async () => { await engine?.close() })

  it('answers each body of the table with its status and Go\'s message', async () => {
    for (const [operation, body, status, message] of ENGINE_ANSWERS) {
      const spec = operationSpec(operation)
      if (spec === undefined) throw new Error(`no operation ${operation}`)
      const full = operation === 'ContainerCreate' && typeof body === 'object' && !Array.isArray(body) ? { Image: 'busybox', Cmd: ['true'], ...body } : body
      const answer = await send(engine, spec.method, operationUrl(spec, targets[operation] ?? ''), full)
      expect([operation, body, answer.status, answer.json?.message]).toEqual([operation, body, status, unmarshal(message)])
    }
  })

  it('refuses the host ports of the table with 400 and its message', async () => {
    for (const [bindings, message] of PORT_ANSWERS) {
      const answer = await send(engine, 'POST', '/containers/create', { Image: 'busybox', Cmd: ['true'], HostConfig: { PortBindings: bindings } })
      expect([bindings, answer.status, answer.json?.message]).toEqual([bindings, 400, message])
    }
  })
})
