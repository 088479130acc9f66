// The same §6 client as test/attach-bytes.test.ts, through `serve | dockerclient` to a real
// engine (a private dockerd from @libswarm/test-engine; root needed): attach to `cat`, 1 MiB in,
// the reply's attachment fetched late, every byte back.
import { createHash } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { VERBS, request, type ServiceInstance } from '@libswarm/core'
import { decodeDockerReply, encodeDockerRequest } from '@libswarm/docker-api'
import { createDockerClient } from '@libswarm/dockerclient'
import { startEngine, type Engine } from '@libswarm/test-engine'
import { createServe, type ServeInstance } from '../../src/index.js'
import { RawPeer, demultiplex } from '../raw-peer.js'

const TOTAL = 1024 * 1024
const CHUNK = 16 * 1024
const root = process.getuid?.() === 0

let engine: Engine
let client: ServiceInstance
let front: ServeInstance

beforeAll(async () => {
  if (!root) return
  engine = await startEngine({ name: 'serve-attach-e2e' })
  client = createDockerClient({ address: engine.host })
  front = await createServe(client, { address: 'tcp://127.0.0.1:0' })
}, 120_000)
afterAll(async () => {
  await front?.close()
  await client?.close()
  await engine?.close()
}, 120_000)

describe.skipIf(!root)('serve | dockerclient (real engine): attach to cat by a client following PROTOCOL.md §6', () => {
  for (const delay of [0, 300]) {
    it(`returns all ${TOTAL} bytes when the GET comes ${delay} ms after the reply`, async () => {
      const create = encodeDockerRequest({ operation: 'ContainerCreate', target: '', body: { Image: 'busybox', Cmd: ['cat'], OpenStdin: true, StdinOnce: true, AttachStdin: true, AttachStdout: true } })
      const { Id } = JSON.parse(decodeDockerReply(await request(client, create.verb, create.args)).body ?? '{}') as { Id: string }
      const attach = encodeDockerRequest({ operation: 'ContainerAttach', target: Id, query: { stream: '1', stdin: '1', stdout: '1', stderr: '1' }, headers: { Upgrade: 'tcp', Connection: 'Upgrade' } })
      const peer = new RawPeer(front.address.replace('tcp://', 'http://'))
      try {
        const chunks = Array.from({ length: TOTAL / CHUNK }, (_, i) => Buffer.alloc(CHUNK, 0x41 + i % 26))
        peer.sendWithStdin(attach.verb, [...attach.args], chunks)
        const [verb, args, , stream] = await peer.message(1)
        expect([VERBS[verb as number], (args as string[])[0]]).toEqual(['Ack', '101'])
        const start = encodeDockerRequest({ operation: 'ContainerStart', target: Id })
        await request(client, start.verb, start.args)
        await new Promise((resolve) => setTimeout(resolve, delay))
        const fetched = await peer.fetch(stream as number)
        expect(fetched.error).toBeUndefined()
        const echoed = demultiplex(fetched.bytes)
        expect(echoed.length).toBe(TOTAL)
        expect(createHash('sha256').update(echoed).digest('hex')).toBe(createHash('sha256').update(Buffer.concat(chunks)).digest('hex'))
      } finally { peer.close() }
    }, 60_000)
  }
})
