import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { canRunTests, startEngine, type Engine } from '@libswarm/test-engine'
import { startPolicedChain, type PolicedChain } from './policed-chain.js'

/* `docker service create --mount type=bind` on a swarm-mode private dockerd: refused. */

const POLICY = `version: 1
clients:
  ci: { listener: ci }
  job: { listener: job }
rules:
  - name: services
    clients: [ci]
    allow: [swarm, system:read]
    limits:
      hostPaths: false
      capabilities: []
      images: ["docker.io/library/*"]
`

let engine: Engine
let chain: PolicedChain
let dir: string

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'policy-swarm-'))
  await writeFile(join(dir, 'policy.yaml'), POLICY)
  engine = await startEngine({ name: 'policy-swarm', swarm: true })
  chain = await startPolicedChain(engine, join(dir, 'policy.yaml'), ['ci', 'job'])
}, 180_000)

afterAll(async () => {
  await chain?.[Symbol.asyncDispose]()
  await engine?.close()
  await rm(dir, { recursive: true, force: true })
}, 120_000)

describe.runIf(canRunTests())('swarm services through policy', () => {
  it('docker service create with a bind mount is refused, under any spelling of the spec', async () => {
    const create = await chain.docker('ci', ['service', 'create', '--detach', '--name', 'rooted', '--mount', 'type=bind,src=/,dst=/host', 'busybox', 'sleep', '60'])
    expect(create.stderr).toContain('policy: "services" denies host path / (service --mount)')
    const raw = await chain.http('ci', 'POST', '/v1.41/services/create', { Name: 'rooted2', taskTemplate: { containerSpec: { Image: 'busybox', MOUNTS: [{ Type: 'bind', Source: '/etc', Target: '/h' }] } } })
    expect(raw.status).toBe(403)
    expect((await engine.docker(['service', 'ls', '-q'])).stdout.trim()).toBe('')
  })

  it('a service without host paths is created; a client without a swarm rule is refused', async () => {
    const create = await chain.docker('ci', ['service', 'create', '--detach', '--name', 'fine', 'busybox', 'sleep', '60'])
    expect(create.code, create.stderr).toBe(0)
    expect((await chain.docker('job', ['service', 'create', '--detach', '--name', 'other', 'busybox', 'sleep', '60'])).stderr)
      .toContain('policy: "default" denies ServiceCreate (no rule allows it for client "job")')
  })
})
