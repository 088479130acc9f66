// Aggregate makes new messages for its nodes: every one made for a request carries its caller.
import type { Caller, Message, Sender } from '@libswarm/core'
import { decodeDockerRequest } from '@libswarm/docker-api'
import { createSimulator } from '@libswarm/simulator'
import { describe, expect, it } from 'vitest'
import { createAggregate } from '../src/index.js'
import { docker } from './harness.js'

/** A node that records the operation and caller of every message it gets. */
function recording (inner: Sender, seen: Array<{ operation: string, caller: Caller | undefined }>): Sender {
  return {
    send: async (message: Message, options) => {
      seen.push({ operation: decodeDockerRequest(message).operation, caller: message.caller })
      await inner.send(message, options)
    },
    close: async (error) => { await inner.close(error) }
  }
}

describe('the caller through aggregate', () => {
  it('reaches the nodes with every message aggregate sends on for a request: forwarded, fanned out, or made to serve it', async () => {
    const seen: Array<{ operation: string, caller: Caller | undefined }> = []
    const engines = [createSimulator({ name: 'node-0' }), createSimulator({ name: 'node-1' })]
    const swarm = await createAggregate({ children: engines.map((engine) => ({ service: recording(engine, seen) })) }, { spawn: async () => { throw new Error('unused') } })
    try {
      const caller: Caller = { listener: 'ci', uid: 1000 }
      const asCi = { caller }
      const created = await docker(swarm, 'ContainerCreate', '', { ...asCi, query: { name: 'web' }, body: { Image: 'nginx:1' } })
      expect(created.status).toBe(201)
      const id = created.json.Id as string
      await docker(swarm, 'ContainerStart', id, asCi)
      await docker(swarm, 'ContainerInspect', id, asCi)
      await docker(swarm, 'ContainerList', '', { ...asCi, query: { filters: JSON.stringify({ label: ['x=y'] }), all: '1' } })
      await docker(swarm, 'NetworkCreate', '', { ...asCi, body: { Name: 'n1' } })
      await docker(swarm, 'ImageCreate', '', { ...asCi, query: { fromImage: 'alpine', tag: '3' } })
      await docker(swarm, 'SystemEvents', '', { ...asCi, query: { since: '0', until: String(Math.floor(Date.now() / 1000) + 1) } })
      await docker(swarm, 'ContainerPrune', '', asCi)
      const forCi = seen.filter((entry) => entry.caller !== undefined)
      // nothing reached a node with another caller, or a copy that lost a field
      for (const entry of forCi) expect(entry.caller).toEqual(caller)
      const operations = new Set(forCi.map((entry) => entry.operation))
      // ImageCreate twice over: the pull create needed on its node, and the pull asked for
      for (const operation of ['ImageCreate', 'ContainerCreate', 'ContainerStart', 'ContainerInspect', 'NetworkCreate', 'SystemEvents', 'ContainerPrune']) {
        expect(operations, operation).toContain(operation)
      }
      expect(forCi.filter((entry) => entry.operation === 'ImageCreate').length).toBe(3)
      // aggregate's own upkeep (pings, syncs) carries no caller
      expect(seen.filter((entry) => entry.operation === 'SystemPing').every((entry) => entry.caller === undefined)).toBe(true)
    } finally {
      await swarm.close()
    }
  })
})
