import { request } from '@libswarm/core'
import { complianceTests } from '@libswarm/core/compliance'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ComputeClient, parseRackspaceArgs, rackspace } from '../src/index.js'
import { chain, rackspaceSpec, standIn, stateDir } from './harness.js'
import type { OpenStackStandIn } from './stand-in/openstack-stand-in.js'

// Faults that end a start before any host's engine is reached: the stand-in's servers boot no engine here
// (a launch fails the server, which Nova shows as ERROR), so each test counts what was created and deleted.
let cloud: OpenStackStandIn
const state = stateDir()
const launches: string[] = []

beforeAll(async () => {
  cloud = await standIn(async ({ name }) => { launches.push(name); throw new Error('this test boots no engine') }, { quota: 3 })
})
afterAll(async () => {
  await cloud.close()
  state.remove()
})

const posts = (): number => cloud.calls.get('POST /servers') ?? 0
const spec = (extra: string): string => rackspaceSpec(cloud, state.dir, extra)

describe('rackspace: a clear error at start, and nothing left running', () => {
  it('refuses a wrong API key, with Identity\'s message, before any server is asked for', async () => {
    const before = posts()
    await expect(chain(spec('').replace('--api-key k3y', '--api-key wrong'))).rejects.toMatchObject({ code: 'UNAUTHORIZED', message: expect.stringContaining('Username or api key is invalid.') })
    expect(posts()).toBe(before)
  })

  it('names an unknown region, image, flavor or key pair', async () => {
    await expect(chain(spec('').replace('--region DFW', '--region LON'))).rejects.toMatchObject({ code: 'NOT_FOUND', message: expect.stringContaining('(regions: DFW, ORD)') })
    await expect(chain(spec('').replace('"Ubuntu 24.04"', '"Windows 95"'))).rejects.toMatchObject({ code: 'NOT_FOUND', message: expect.stringContaining('no image "Windows 95"') })
    await expect(chain(spec('').replace('general1-1', 'huge1-64'))).rejects.toMatchObject({ code: 'NOT_FOUND', message: expect.stringContaining('no flavor "huge1-64"') })
    await expect(chain(spec('--key-name nokey'))).rejects.toMatchObject({ code: 'NOT_FOUND', message: expect.stringContaining('no key pair "nokey"') })
    expect(cloud.liveServers()).toHaveLength(0)
  })

  it('fails a start whose server goes to ERROR (--on-unreachable fail) with Nova\'s fault, and deletes what it launched', async () => {
    cloud.faults.failBoots = 1
    await expect(chain(spec('--count 2 --on-unreachable fail --swarm errs'))).rejects.toMatchObject({ message: expect.stringMatching(/went to ERROR: (No valid host was found|boot failed)/) })
    expect(cloud.liveServers()).toHaveLength(0)
    // the second server may not have been asked for yet when the first failed the start
    expect(cloud.servers().filter((server) => server.metadata['libswarm:swarm'] === 'errs').length).toBeGreaterThanOrEqual(1)
  })

  it('replaces a server that goes to ERROR while --max-hosts allows, then gives up and deletes them all', async () => {
    const before = posts()
    await expect(chain(spec('--count 1 --max-hosts 3 --swarm again'))).rejects.toMatchObject({ message: expect.stringContaining('went to ERROR') })
    expect(posts() - before).toBe(3)
    expect(cloud.liveServers()).toHaveLength(0)
  })

  it('times out a server that never leaves BUILD (--boot-timeout) and deletes it', async () => {
    cloud.faults.neverBoot = true
    try {
      await expect(chain(spec('--count 1 --boot-timeout 500ms --on-unreachable fail --swarm stuck'))).rejects.toMatchObject({ code: 'TIMEOUT', message: expect.stringContaining('still BUILD') })
    } finally {
      cloud.faults.neverBoot = false
    }
    expect(cloud.liveServers()).toHaveLength(0)
  })

  it('meets the instances quota (403) as a clear error and deletes the servers it had launched', async () => {
    cloud.faults.neverBoot = true
    try {
      await expect(chain(spec('--count 4 --swarm quota'))).rejects.toMatchObject({ code: 'FORBIDDEN', message: expect.stringContaining('Quota exceeded for instances') })
    } finally {
      cloud.faults.neverBoot = false
    }
    expect(cloud.servers().filter((server) => server.metadata['libswarm:swarm'] === 'quota').length).toBeGreaterThan(0)
    expect(cloud.liveServers()).toHaveLength(0)
  })

  it('refuses a --count above --max-hosts before launching', async () => {
    const before = posts()
    await expect(chain(spec('--count 3 --max-hosts 2'))).rejects.toMatchObject({ code: 'LIMIT_EXCEEDED' })
    expect(posts()).toBe(before)
  })

  it('retries throttling and a passing 503 while it starts', async () => {
    cloud.faults.throttle = 2
    cloud.faults.unavailable = 1
    const throttled = cloud.calls.get('throttled') ?? 0
    await using dry = await chain(spec('--count 2 --dry-run --swarm plan'))
    expect((cloud.calls.get('throttled') ?? 0) - throttled).toBe(2)
    const plan = JSON.parse((await request(dry.head, 'Get', ['provision'])).args[0] as string)
    expect(plan).toMatchObject({ provider: 'rackspace', swarm: 'plan', count: 2, hosts: [], plan: { existing: [], launch: 2, description: expect.stringContaining('image "Ubuntu 24.04" (c6b1e2f0-ubuntu), flavor "1 GB General Purpose v1" (general1-1), region DFW') } })
  })

  it('--dry-run launches nothing, and says when the quota would refuse the launch', async () => {
    const before = posts()
    await using dry = await chain(spec('--count 2 --dry-run --swarm dry --metadata team=infra'))
    await expect(request(dry.head, 'Ls', [])).resolves.toMatchObject({ verb: 'Ack', args: [] })
    expect(posts()).toBe(before)
    expect(cloud.liveServers()).toHaveLength(0)
    // someone else's servers use up the quota (3 here): the dry run says the launch would be refused
    const other = new ComputeClient({ credentials: { authUrl: cloud.identityUrl, username: 'alice', apiKey: 'k3y' }, region: 'DFW' })
    cloud.faults.neverBoot = true
    const ids: string[] = []
    try {
      for (let index = 0; index < 3; index++) ids.push(await other.createServer({ name: `other-${index}`, imageRef: 'd2a3-debian', flavorRef: 'general1-2', metadata: {} }))
      await expect(chain(spec('--count 1 --dry-run --swarm full'))).rejects.toMatchObject({ code: 'FORBIDDEN', message: expect.stringContaining('the instances quota is used up (3 of 3)') })
    } finally {
      cloud.faults.neverBoot = false
      for (const id of ids) await other.deleteServer(id)
    }
  })

  it('reads --metadata as the hosts\' metadata and refuses libswarm\'s own keys', () => {
    const parsed = parseRackspaceArgs(['--identity-url', 'http://127.0.0.1:1/v2.0', '--username', 'u', '--api-key', 'k', '--flavor', 'f', '--image', 'i', '--metadata', 'team=infra', '--metadata=env=test'], {})
    expect(parsed.hostSet.tags).toEqual({ team: 'infra', env: 'test' })
    expect(() => parseRackspaceArgs(['--flavor', 'f', '--image', 'i', '--identity-url', 'http://x/v3', '--metadata', 'libswarm:swarm=x'], {})).toThrow(/libswarm's own/)
    expect(() => parseRackspaceArgs(['--image', 'i'], {})).toThrow(/--flavor and --image are needed/)
    expect(() => parseRackspaceArgs(['--flavor', 'f', '--image', 'i', '--api-key', 'k', '--password', 'p'], {})).toThrow(/not both/)
  })
})

describe('rackspace compliance (--dry-run against the stand-in)', () => {
  const tests = complianceTests({
    service: { ...rackspace, spawn: async (args, context) => await rackspace.spawn(['--identity-url', cloud.identityUrl, '--username', 'alice', '--api-key', 'k3y', '--region', 'DFW', '--flavor', 'general1-1', '--image', 'Ubuntu 24.04', '--state-dir', state.dir, '--dry-run', '--swarm', 'compliance', ...args], context) },
    // a start makes RSA keys (a server certificate for the dry run's launch request): seconds on a loaded machine
    timeout: 20_000,
    // Watch answers the hosts, `synced`, then every change until its watcher leaves
    streams: [{ verb: 'Watch', args: [] }]
  })
  for (const test of tests) it(test.name, test.run)
})
