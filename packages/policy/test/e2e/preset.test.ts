import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { canRunTests, startEngine, type Engine } from '@libswarm/test-engine'
import { startPolicedChain, type PolicedChain } from './policed-chain.js'

/* The docker-socket-proxy preset in one line, then tightened by a rule of the file's own. */

const POLICY = `version: 1
preset: docker-socket-proxy
presetOptions: { CONTAINERS: 1, POST: 0, ALLOW_START: 1, ALLOW_STOP: 1 }
rules:
  - name: no-logs
    deny: [ContainerLogs]
`

let engine: Engine
let chain: PolicedChain
let dir: string
let id: string

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'policy-preset-'))
  await writeFile(join(dir, 'policy.yaml'), POLICY)
  engine = await startEngine({ name: 'policy-preset' })
  id = (await engine.docker(['create', '--name', 'web', 'busybox', 'sleep', '600'])).stdout.trim()
  chain = await startPolicedChain(engine, join(dir, 'policy.yaml'), ['proxy'])
}, 180_000)

afterAll(async () => {
  await chain?.[Symbol.asyncDispose]()
  await engine?.close()
  await rm(dir, { recursive: true, force: true })
}, 120_000)

describe.runIf(canRunTests())('preset: docker-socket-proxy', () => {
  it('CONTAINERS=1 reads containers; POST=0 refuses every write, start included, as the proxy\'s method gate does', async () => {
    expect((await chain.docker('proxy', ['ps', '-a', '--format', '{{.Names}}'])).stdout.trim()).toBe('web')
    expect((await chain.docker('proxy', ['inspect', '-f', '{{.Id}}', 'web'])).stdout.trim()).toBe(id)
    expect((await chain.docker('proxy', ['run', '--rm', 'busybox', 'true'])).stderr).toContain('policy: "socket-proxy:POST" denies ContainerCreate')
    expect((await chain.docker('proxy', ['start', 'web'])).stderr).toContain('policy: "socket-proxy:POST" denies ContainerStart')
    expect((await chain.docker('proxy', ['rm', 'web'])).stderr).toContain('policy: "socket-proxy:POST" denies ContainerDelete')
    expect((await chain.docker('proxy', ['images'])).stderr).toContain('policy: "default" denies ImageList')
    expect((await chain.docker('proxy', ['version', '--format', '{{.Server.Version}}'])).stdout.trim()).toMatch(/^20\.10/)
    expect((await chain.docker('proxy', ['logs', 'web'])).stderr).toContain('policy: "no-logs" denies ContainerLogs')
  })
})
