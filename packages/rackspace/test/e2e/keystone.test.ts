import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { authenticate, catalogEndpoint } from '../../src/identity.js'
import { ComputeClient } from '../../src/nova.js'
import { startOpenStackStandIn } from '../stand-in/openstack-stand-in.js'
import type { OpenStackStandIn } from '../stand-in/openstack-stand-in.js'
import { keystoneSkipReason, startKeystone } from './keystone.js'
import type { Keystone } from './keystone.js'

const skip = keystoneSkipReason()
if (skip !== undefined) console.log(skip)

// Identity v3 against a real Keystone; the compute endpoint it lists is the Nova stand-in, which checks
// each token against that Keystone (GET /v3/auth/tokens) as Nova's keystonemiddleware does.
describe.runIf(skip === undefined)('Identity v3 against a real Keystone', () => {
  let keystone: Keystone
  let nova: OpenStackStandIn
  let projectId: string
  const validated = new Map<string, string>()
  const admin = (): { authUrl: string, username: string, password: string, projectName: string, userDomainName: string, projectDomainName: string } =>
    ({ authUrl: keystone.url, username: 'admin', password: keystone.adminPassword, projectName: 'admin', userDomainName: 'Default', projectDomainName: 'Default' })

  beforeAll(async () => {
    keystone = await startKeystone()
    nova = await startOpenStackStandIn({
      accounts: [],
      regions: ['RegionOne'],
      images: [{ id: 'img-1', name: 'Ubuntu 24.04' }],
      flavors: [{ id: '2', name: 'm1.small', ram: 2048, vcpus: 1 }],
      launch: async () => { throw new Error('no host in this test') },
      // keystonemiddleware caches what Keystone said about a token; so does this check
      validateToken: async (token) => {
        const known = validated.get(token)
        if (known !== undefined) return known
        const answer = await fetch(`${keystone.url}/auth/tokens`, { headers: { 'X-Auth-Token': token, 'X-Subject-Token': token } })
        if (!answer.ok) return undefined
        const project = ((await answer.json()) as { token: { project?: { id: string } } }).token.project?.id
        if (project !== undefined) validated.set(token, project)
        return project
      }
    })
    // register Nova in Keystone's catalog with the Identity v3 API, as an operator would (openstack service/endpoint create)
    const token = await authenticate(admin())
    projectId = token.projectId as string
    const post = async (path: string, body: unknown): Promise<Record<string, { id: string }>> => {
      const answer = await fetch(`${keystone.url}${path}`, { method: 'POST', headers: { 'X-Auth-Token': token.token, 'Content-Type': 'application/json' }, body: JSON.stringify(body) })
      if (answer.status !== 201) throw new Error(`POST ${path}: ${answer.status} ${await answer.text()}\n${keystone.log()}`)
      return await answer.json() as Record<string, { id: string }>
    }
    const service = await post('/services', { service: { type: 'compute', name: 'nova' } })
    await post('/endpoints', { endpoint: { service_id: service['service']?.id, interface: 'public', region_id: 'RegionOne', url: nova.computeUrl('RegionOne', projectId) } })
  }, 300_000)

  afterAll(async () => {
    await nova?.close()
    await keystone?.close()
  })

  it('gets a token from X-Subject-Token, scoped to the project, with the catalog', async () => {
    const token = await authenticate(admin())
    expect(token.token).toMatch(/^gAAAAA/) // a fernet token
    expect(token.projectId).toBe(projectId)
    expect(token.expiresAt.getTime()).toBeGreaterThan(Date.now())
    expect(catalogEndpoint(token.catalog, 'identity', 'RegionOne')).toBe(keystone.url)
    expect(catalogEndpoint(token.catalog, 'compute', 'RegionOne')).toBe(nova.computeUrl('RegionOne', projectId))
  })

  it('scopes by project id and user id too, and by the Keystone root URL without /v3', async () => {
    const byName = await authenticate(admin())
    const root = keystone.url.replace(/\/v3$/, '')
    const byId = await authenticate({ authUrl: root, userId: undefined, username: 'admin', password: keystone.adminPassword, projectId, userDomainName: 'Default' })
    expect(byId.projectId).toBe(byName.projectId)
  })

  it('refuses a wrong password and an unknown project with Keystone\'s message', async () => {
    await expect(authenticate({ ...admin(), password: 'wrong' })).rejects.toMatchObject({ code: 'UNAUTHORIZED', status: 401, message: expect.stringContaining('The request you have made requires authentication.') })
    await expect(authenticate({ ...admin(), projectName: 'no-such-project' })).rejects.toMatchObject({ status: 401 })
  })

  it('reaches Nova through the catalog with a token the stand-in checked at Keystone; an unknown region is named', async () => {
    const compute = new ComputeClient({ credentials: admin(), region: 'RegionOne' })
    expect(await compute.findFlavor('m1.small')).toEqual({ id: '2', name: 'm1.small' })
    expect(await compute.listServers()).toEqual([])
    await expect(new ComputeClient({ credentials: admin(), region: 'RegionTwo' }).connect())
      .rejects.toMatchObject({ code: 'NOT_FOUND', message: expect.stringContaining('no "compute" endpoint in region "RegionTwo" (regions: RegionOne)') })
  })
})
