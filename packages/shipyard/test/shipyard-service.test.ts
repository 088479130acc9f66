import { request } from '@libswarm/core'
import { rejectionOf } from '@libswarm/test-engine'
import { decodeDockerReply, encodeDockerRequest } from '@libswarm/docker-api'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { parseShipyardArgs, startShipyard } from '../src/index.js'
import { startShipyardStandIn, type ShipyardStandIn } from './shipyard-stand-in.js'

let standIn: ShipyardStandIn

beforeAll(async () => {
  // no engines: what is tested here never reaches one
  standIn = await startShipyardStandIn()
  standIn.addAccount('admin', 'shipyard', 'admin')
  standIn.addAccount('guest', 'guest-pass', 'guest')
})
afterAll(async () => { await standIn?.close() })

describe('shipyard arguments', () => {
  it('takes one URL and exactly one way to authenticate', () => {
    expect(parseShipyardArgs(['http://s:8080/', '--service-key', 'k', '--engines', '--engines-interval', '500ms'])).toMatchObject({ url: 'http://s:8080', serviceKey: 'k', engines: true, enginesIntervalMs: 500 })
    expect(() => parseShipyardArgs(['--service-key', 'k'])).toThrow(/^shipyard: give the controller's URL, once/)
    expect(() => parseShipyardArgs(['ftp://s', '--service-key', 'k'])).toThrow('shipyard: the URL must be http:// or https://, got "ftp://s"')
    expect(() => parseShipyardArgs(['http://s', '--user', 'u'])).toThrow(/^shipyard: give one of --user U --password P, --user U --token T, --service-key K/)
    expect(() => parseShipyardArgs(['http://s', '--token', 't', '--service-key', 'k'])).toThrow(/^shipyard: give one of/)
    expect(() => parseShipyardArgs(['http://s', '--token', 't'])).toThrow('shipyard: --password and --token go with --user')
    expect(() => parseShipyardArgs(['http://s', '--service-key', 'k', '--connect-timeout', 'soon'])).toThrow('shipyard: --connect-timeout wants a duration such as 500ms, 30s, 2m, got "soon"')
  })
})

describe('shipyard against the v2 API stand-in', () => {
  it('signs in, and says plainly when the password, the token or the role is refused', async () => {
    const service = await startShipyard({ url: standIn.url, user: 'admin', password: 'shipyard' })
    await service.close()
    expect(standIn.requests).toContain('POST /auth/login')
    expect(await rejectionOf(startShipyard({ url: standIn.url, user: 'admin', password: 'nope' }))).toEqual({ code: 'FORBIDDEN', message: 'shipyard: POST /auth/login answered 403: invalid username/password' })
    expect(await rejectionOf(startShipyard({ url: standIn.url, user: 'admin', token: 'stale' }))).toEqual({ code: 'UNAUTHORIZED', message: 'shipyard: GET /api/containers answered 401: unauthorized' })
    expect(await rejectionOf(startShipyard({ url: standIn.url, user: 'guest', password: 'guest-pass' }))).toEqual({ code: 'FORBIDDEN', message: 'shipyard: GET /api/containers answered 403: access denied' })
    expect(await rejectionOf(startShipyard({ url: standIn.url, serviceKey: standIn.issueServiceKey(), engines: true }))).toEqual({ code: 'UNAVAILABLE', message: `shipyard: ${standIn.url} holds no engine` })
    expect((await rejectionOf(startShipyard({ url: 'http://127.0.0.1:1', serviceKey: 'k' }))).code).toBe('UNAVAILABLE')
  })

  it('refuses what Shipyard cannot do before calling it, and passes its own errors on', async () => {
    const service = await startShipyard({ url: standIn.url, serviceKey: standIn.issueServiceKey() })
    try {
      const ask = async (operation: string, target = '', extra: Record<string, unknown> = {}): Promise<unknown> => {
        const message = encodeDockerRequest({ operation, target, ...extra })
        return decodeDockerReply(await request(service, message.verb, message.args))
      }
      const calls = standIn.requests.length
      expect(await rejectionOf(ask('ImageList'))).toEqual({ code: 'NOT_IMPLEMENTED', message: 'shipyard: ImageList cannot be done through Shipyard: its API has containers (list, inspect, run, stop, restart, destroy, logs, scale), engines, events and cluster info; use shipyard --engines for the whole Docker API' })
      expect(await rejectionOf(ask('ContainerCreate', '', { body: { Image: 'busybox', Entrypoint: ['sh'], HostConfig: { Binds: ['/a:/b'] } } }))).toEqual({ code: 'NOT_IMPLEMENTED', message: 'shipyard: Shipyard\'s image (citadel) has no entrypoint, volumes or mounts' })
      expect(await rejectionOf(ask('ContainerList', '', { query: { filters: '{"label":["a=b"]}' } }))).toMatchObject({ code: 'NOT_IMPLEMENTED' })
      expect(await rejectionOf(ask('SystemEvents', '', { query: { filters: '{"image":["busybox"]}' } }))).toMatchObject({ code: 'NOT_IMPLEMENTED' })
      expect(standIn.requests.length).toBe(calls)
      expect(await rejectionOf(ask('ContainerCreate', '', { body: { Image: 'busybox' } }))).toEqual({ code: 'INTERNAL', message: 'shipyard: POST /api/containers answered 500: no engines available to run busybox' })
      expect(await rejectionOf(ask('ContainerInspect', 'gone'))).toEqual({ code: 'NOT_FOUND', message: 'shipyard: GET /api/containers/gone answered 500: container gone not found' })
    } finally {
      await service.close()
    }
  })
})
