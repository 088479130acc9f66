import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { ComputeClient } from '../src/nova.js'
import { authenticate, catalogEndpoint } from '../src/identity.js'
import { resolveCloud } from '../src/cloud-config.js'
import { startOpenStackStandIn } from './stand-in/openstack-stand-in.js'
import type { OpenStackStandIn } from './stand-in/openstack-stand-in.js'

// The client's own behaviour against the Identity v2.0 + Nova stand-in; the hosts behind servers are
// only addresses here (the e2e tests boot real engines behind them).
let standIn: OpenStackStandIn
const launched: string[] = []

beforeAll(async () => {
  standIn = await startOpenStackStandIn({
    accounts: [{ username: 'alice', apiKey: 'k3y', password: 'pw', tenantId: '123456' }],
    regions: ['DFW', 'ORD'],
    images: [{ id: 'img-1', name: 'Ubuntu 24.04' }, { id: 'img-2', name: 'Debian 12' }],
    flavors: [{ id: 'general1-1', name: '1 GB General Purpose v1', ram: 1024, vcpus: 1 }, { id: 'general1-2', name: '2 GB General Purpose v1', ram: 2048, vcpus: 2 }],
    launch: async ({ name, userData }) => { launched.push(`${name}:${userData}`); return { address: '127.0.0.9', close: async () => {} } },
    pageSize: 2,
    keyPairs: ['mine']
  })
})
afterAll(async () => { await standIn.close() })
afterEach(() => {
  Object.assign(standIn.faults, { throttle: 0, unavailable: 0, failBoots: 0, neverBoot: false })
})

const client = (overrides: { apiKey?: string, region?: string } = {}): ComputeClient => new ComputeClient({
  credentials: { authUrl: standIn.identityUrl, username: 'alice', apiKey: overrides.apiKey ?? 'k3y' },
  region: overrides.region ?? 'DFW',
  http: { backoffMs: 1 }
})

describe('Identity v2.0', () => {
  it('authenticates with RAX-KSKEY:apiKeyCredentials and with passwordCredentials', async () => {
    const byKey = await authenticate({ authUrl: standIn.identityUrl, username: 'alice', apiKey: 'k3y' })
    const byPassword = await authenticate({ authUrl: standIn.identityUrl, username: 'alice', password: 'pw' })
    expect(byKey.projectId).toBe('123456')
    expect(byPassword.token).not.toBe(byKey.token)
    expect(byKey.expiresAt.getTime()).toBeGreaterThan(Date.now())
    // the first-generation compute entry has no region: the region picks the OpenStack one
    expect(catalogEndpoint(byKey.catalog, 'compute', 'ORD')).toMatch(/\/compute\/ORD\/v2\/123456$/)
  })

  it('refuses a wrong API key with the cloud\'s message', async () => {
    await expect(authenticate({ authUrl: standIn.identityUrl, username: 'alice', apiKey: 'nope' }))
      .rejects.toMatchObject({ code: 'UNAUTHORIZED', message: expect.stringContaining('Username or api key is invalid.') })
  })

  it('refuses missing credentials before any request', async () => {
    const before = standIn.calls.get('POST /v2.0/tokens') ?? 0
    await expect(authenticate({ authUrl: standIn.identityUrl, username: 'alice' })).rejects.toMatchObject({ code: 'UNAUTHORIZED', message: expect.stringContaining('no password or API key') })
    expect(standIn.calls.get('POST /v2.0/tokens') ?? 0).toBe(before)
  })

  it('names the regions there are when the region is unknown, and wants one when there are several', async () => {
    await expect(client({ region: 'LON' }).connect()).rejects.toMatchObject({ code: 'NOT_FOUND', message: expect.stringContaining('regions: DFW, ORD') })
    const token = await authenticate({ authUrl: standIn.identityUrl, username: 'alice', apiKey: 'k3y' })
    expect(() => catalogEndpoint(token.catalog, 'compute', undefined)).toThrow(/--region is needed/)
  })
})

describe('Nova', () => {
  it('finds images and flavors by name or id, and says which are unknown', async () => {
    const nova = client()
    expect(await nova.findImage('Ubuntu 24.04')).toEqual({ id: 'img-1', name: 'Ubuntu 24.04' })
    expect(await nova.findImage('img-2')).toEqual({ id: 'img-2', name: 'Debian 12' })
    expect(await nova.findFlavor('general1-2')).toEqual({ id: 'general1-2', name: '2 GB General Purpose v1' })
    expect(await nova.findFlavor('1 GB General Purpose v1')).toMatchObject({ id: 'general1-1' })
    await expect(nova.findImage('Windows 95')).rejects.toMatchObject({ code: 'NOT_FOUND', message: expect.stringContaining('no image "Windows 95"') })
    await expect(nova.findFlavor('huge')).rejects.toMatchObject({ code: 'NOT_FOUND', message: expect.stringContaining('no flavor "huge"') })
  })

  it('creates servers with metadata and user data, lists them across pages by name, waits for ACTIVE, deletes them', async () => {
    const nova = client()
    const ids: string[] = []
    for (let index = 0; index < 5; index++) {
      ids.push(await nova.createServer({ name: `pagetest-${index}`, imageRef: 'img-1', flavorRef: 'general1-1', keyName: 'mine', userData: `#cloud-config\n# ${index}\n`, metadata: { 'libswarm-swarm': 'pagetest' } }))
    }
    const active = await nova.waitActive(ids[0] as string, { timeoutMs: 5000, intervalMs: 10 })
    expect(active).toMatchObject({ status: 'ACTIVE', address: '127.0.0.9', metadata: { 'libswarm-swarm': 'pagetest' } })
    expect(launched).toContain('pagetest-0:#cloud-config\n# 0\n')
    const listed = await nova.listServers({ name: '^pagetest-' })
    expect(listed.map((server) => server.id).sort()).toEqual([...ids].sort())
    for (const id of ids) await nova.deleteServer(id)
    await nova.deleteServer(ids[0] as string) // already gone: fine
    expect(await nova.listServers({ name: '^pagetest-' })).toEqual([])
    expect(await nova.getServer(ids[0] as string)).toBeUndefined()
  })

  it('reports a server that goes to ERROR with Nova\'s fault, and a server that never leaves BUILD as a timeout', async () => {
    const nova = client()
    standIn.faults.failBoots = 1
    const failed = await nova.createServer({ name: 'fails', imageRef: 'img-1', flavorRef: 'general1-1', metadata: {} })
    await expect(nova.waitActive(failed, { timeoutMs: 5000, intervalMs: 10 })).rejects.toMatchObject({ code: 'UNAVAILABLE', message: expect.stringContaining('No valid host was found') })
    standIn.faults.neverBoot = true
    const stuck = await nova.createServer({ name: 'stuck', imageRef: 'img-1', flavorRef: 'general1-1', metadata: {} })
    await expect(nova.waitActive(stuck, { timeoutMs: 300, intervalMs: 10 })).rejects.toMatchObject({ code: 'TIMEOUT', message: expect.stringContaining('still BUILD') })
    await nova.deleteServer(failed)
    await nova.deleteServer(stuck)
  })

  it('retries throttling (429 overLimit with Retry-After) and gives up on a cloud that stays unavailable', async () => {
    const nova = client()
    standIn.faults.throttle = 3
    const before = standIn.calls.get('throttled') ?? 0
    expect((await nova.findFlavor('general1-1')).id).toBe('general1-1')
    expect((standIn.calls.get('throttled') ?? 0) - before).toBe(3)
    standIn.faults.unavailable = 50
    await expect(nova.findFlavor('general1-1')).rejects.toMatchObject({ code: 'UNAVAILABLE', status: 503 })
  })

  it('asks Identity for a new token once when Nova answers 401, and not in a loop', async () => {
    const nova = client()
    await nova.listServers()
    const before = standIn.calls.get('POST /v2.0/tokens') ?? 0
    standIn.revokeTokens()
    expect(await nova.listServers()).toEqual([])
    expect((standIn.calls.get('POST /v2.0/tokens') ?? 0) - before).toBe(1)
  })

  it('refuses a server past the quota with Nova\'s 403', async () => {
    const nova = client()
    const ids: string[] = []
    try {
      for (let index = 0; index < 10; index++) ids.push(await nova.createServer({ name: `quota-${index}`, imageRef: 'img-1', flavorRef: 'general1-1', metadata: {} }))
      await expect(nova.createServer({ name: 'quota-x', imageRef: 'img-1', flavorRef: 'general1-1', metadata: {} }))
        .rejects.toMatchObject({ code: 'FORBIDDEN', message: expect.stringContaining('Quota exceeded for instances') })
    } finally {
      for (const id of ids) await nova.deleteServer(id)
    }
  })
})

describe('credentials from the environment and clouds.yaml', () => {
  const dir = mkdtempSync(join(tmpdir(), 'rax-clouds-'))
  afterAll(() => { rmSync(dir, { recursive: true, force: true }) })

  it('reads the OS_* variables, and Rackspace\'s API key', () => {
    const cloud = resolveCloud({}, { OS_AUTH_URL: 'http://127.0.0.1:5000/v3', OS_USERNAME: 'u', OS_PASSWORD: 'p', OS_PROJECT_NAME: 'demo', OS_USER_DOMAIN_NAME: 'Default', OS_REGION_NAME: 'RegionOne' }, dir)
    expect(cloud).toMatchObject({ region: 'RegionOne', source: 'environment', credentials: { authUrl: 'http://127.0.0.1:5000/v3', username: 'u', password: 'p', projectName: 'demo', userDomainName: 'Default' } })
    const rax = resolveCloud({}, { RAX_USERNAME: 'alice', RAX_API_KEY: 'k' }, dir)
    expect(rax.credentials).toMatchObject({ authUrl: 'https://identity.api.rackspacecloud.com/v2.0', username: 'alice', apiKey: 'k' })
  })

  it('reads the cloud OS_CLOUD names from ./clouds.yaml, with secure.yaml over it and the arguments over both', () => {
    writeFileSync(join(dir, 'clouds.yaml'), [
      'clouds:',
      '  mine:',
      '    auth:',
      '      auth_url: http://127.0.0.1:5000',
      '      username: bob',
      '      project_name: demo',
      '      user_domain_name: Default',
      '      project_domain_name: Default',
      '    region_name: RegionOne',
      '    identity_api_version: 3',
      '  rax:',
      '    auth_type: rackspace_apikey',
      '    auth: { auth_url: "http://127.0.0.1:1/v2.0", username: alice, api_key: k3y }',
      '    regions: [DFW, ORD]'
    ].join('\n'))
    writeFileSync(join(dir, 'secure.yaml'), 'clouds:\n  mine:\n    auth:\n      password: s3cret\n')
    const env = { OS_CLOUD: 'mine', HOME: join(dir, 'home') }
    expect(resolveCloud({}, env, dir)).toMatchObject({ region: 'RegionOne', credentials: { authUrl: 'http://127.0.0.1:5000', username: 'bob', password: 's3cret', projectName: 'demo', identityApiVersion: '3' } })
    expect(resolveCloud({ region: 'Other', username: 'carol', password: 'x' }, env, dir)).toMatchObject({ region: 'Other', credentials: { username: 'carol', password: 'x' } })
    expect(resolveCloud({ cloud: 'rax' }, env, dir)).toMatchObject({ region: 'DFW', credentials: { apiKey: 'k3y', username: 'alice' } })
    expect(() => resolveCloud({ cloud: 'nope' }, env, dir)).toThrow(/no cloud "nope" in .*clouds\.yaml \(clouds: mine, rax\)/)
  })

  it('says where it looked when nothing names an Identity URL', () => {
    expect(() => resolveCloud({ username: 'u', password: 'p' }, {}, dir)).toThrow(/no Identity URL/)
  })
})
