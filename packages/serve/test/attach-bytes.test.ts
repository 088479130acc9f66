// A client written from PROTOCOL.md alone (node:http2 and msgpackr, no @libswarm/core wire
// code) attaches to `cat` through `serve | simulator` as §6 says: it POSTs the message and
// its stdin, then GETs the reply's attachment. Every byte must come back, however late it
// asks for them.
import { createHash } from 'node:crypto'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { VERBS, request, type Sender } from '@libswarm/core'
import { decodeDockerReply, encodeDockerRequest, type DockerRequest } from '@libswarm/docker-api'
import { createSimulator, type Simulator } from '@libswarm/simulator'
import { createServe, type ServeInstance } from '../src/index.js'
import { RawPeer, demultiplex } from './raw-peer.js'

const TOTAL = 1024 * 1024
const CHUNK = 16 * 1024

function stdinChunk (index: number): Buffer {
  return Buffer.alloc(CHUNK, 0x41 + index % 26) // letters: never the detach keys ctrl-p ctrl-q
}

async function docker (target: Sender, operation: string, target_: string, extra: Partial<DockerRequest> = {}): Promise<string> {
  const encoded = encodeDockerRequest({ operation, target: target_, ...extra })
  return decodeDockerReply(await request(target, encoded.verb, encoded.args)).body ?? ''
}

let sim: Simulator
let front: ServeInstance

beforeEach(async () => {
  sim = createSimulator({ seed: 5 })
  front = await createServe(sim, { address: 'tcp://127.0.0.1:0' })
})
afterEach(async () => {
  await front.close()
  await sim.close()
})

describe('serve | simulator: attach to cat by a client following PROTOCOL.md §6', () => {
  for (const delay of [0, 300]) {
    it(`returns all ${TOTAL} bytes when the GET comes ${delay} ms after the reply`, async () => {
      const created = JSON.parse(await docker(sim, 'ContainerCreate', '', { body: { Image: 'busybox', Cmd: ['cat'], OpenStdin: true, StdinOnce: true } })) as { Id: string }
      await docker(sim, 'ContainerStart', created.Id)
      const attach = encodeDockerRequest({ operation: 'ContainerAttach', target: created.Id, query: { stream: '1', stdin: '1', stdout: '1', stderr: '1' } })
      const peer = new RawPeer(front.address.replace('tcp://', 'http://'))
      try {
        const chunks = Array.from({ length: TOTAL / CHUNK }, (_, i) => stdinChunk(i))
        peer.sendWithStdin(attach.verb, [...attach.args], chunks)
        const [verb, args, , stream] = await peer.message(1)
        expect(VERBS[verb as number]).toBe('Ack')
        expect((args as string[])[0]).toBe('200')
        expect(typeof stream).toBe('number')
        await new Promise((resolve) => setTimeout(resolve, delay))
        const fetched = await peer.fetch(stream as number)
        expect(fetched.error).toBeUndefined()
        expect(fetched.status).toBe(200)
        const echoed = demultiplex(fetched.bytes)
        expect(echoed.length).toBe(TOTAL)
        expect(createHash('sha256').update(echoed).digest('hex')).toBe(createHash('sha256').update(Buffer.concat(chunks)).digest('hex'))
      } finally { peer.close() }
    })
  }
})
