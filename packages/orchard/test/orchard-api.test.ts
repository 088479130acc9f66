import { silentLogger } from '@libswarm/core'
import { rejectionOf } from '@libswarm/test-engine'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { OrchardApi, orchard, parseOrchardArgs, startOrchard } from '../src/index.js'
import { startOrchardStandIn, type OrchardStandIn } from './orchard-stand-in.js'

let standIn: OrchardStandIn
let token = ''

beforeAll(async () => {
  standIn = await startOrchardStandIn({ users: { ada: 'lovelace' } })
  token = standIn.issueToken()
  // a host whose engine does not answer: nothing listens on its address
  await standIn.addHost('silent', { engine: false })
})
afterAll(async () => { await standIn?.close() })

function args (...rest: string[]): string[] {
  return ['--api', standIn.url, '--token', token, '--ca', standIn.caFile, ...rest]
}

describe('orchard against the API stand-in', () => {
  it('names an unknown host with the API\'s 404 detail', async () => {
    const error = await rejectionOf(startOrchard(parseOrchardArgs(args('nowhere'))))
    expect(error).toEqual({ code: 'NOT_FOUND', message: 'orchard: GET /hosts/nowhere answered 404: Not found' })
  })

  it('fails with UNAUTHORIZED on a revoked token', async () => {
    const revoked = standIn.issueToken()
    const api = new OrchardApi(standIn.url, revoked)
    expect((await api.getHost('silent')).name).toBe('silent')
    standIn.tokens.delete(revoked)
    const error = await rejectionOf(Promise.resolve().then(async () => await orchard.spawn(['--api', standIn.url, '--token', revoked, '--ca', standIn.caFile, 'silent'], { log: silentLogger } as never)))
    expect(error).toEqual({ code: 'UNAUTHORIZED', message: 'orchard: GET /hosts/silent answered 401: Invalid token' })
  })

  it('says which host\'s engine does not answer, within --connect-timeout', async () => {
    const started = Date.now()
    const error = await rejectionOf(startOrchard(parseOrchardArgs(args('--connect-timeout', '1500ms', 'silent'))))
    expect(error.code).toBe('TIMEOUT')
    expect(error.message).toMatch(/^orchard host silent \(127\.\d+\.\d+\.\d+:4243\): its engine did not answer over TLS within 2 s \(last: .*\)/)
    expect(Date.now() - started).toBeLessThan(10_000)
  })

  it('signs in with user and password when there is no token, and says when that is refused', async () => {
    const api = new OrchardApi(standIn.url)
    const signed = await api.signIn('ada', 'lovelace')
    expect(standIn.tokens.has(signed)).toBe(true)
    api.token = signed
    expect((await api.getHost('silent')).ipv4_address).toMatch(/^127\./)
    const refused = await rejectionOf(startOrchard({ ...parseOrchardArgs(['--api', standIn.url, '--ca', standIn.caFile, '--user', 'ada', '--password', 'babbage', 'silent']), env: {} }))
    expect(refused).toEqual({ code: 'BAD_REQUEST', message: 'orchard: POST /signin answered 400: Unable to log in with provided credentials.' })
    // signed in, it gets as far as the host's engine
    const reached = await rejectionOf(startOrchard({ ...parseOrchardArgs(['--api', standIn.url, '--ca', standIn.caFile, '--user', 'ada', '--password', 'lovelace', '--connect-timeout', '500ms', 'silent']), env: {} }))
    expect(reached.code).toBe('TIMEOUT')
    expect(standIn.requests.filter((line) => line === 'POST /signin').length).toBe(3)
  })

  it('passes the API\'s refusal of a create on, and checks arguments before any call', async () => {
    const taken = await rejectionOf(new OrchardApi(standIn.url, token).createHost('silent', 512))
    expect(taken).toEqual({ code: 'BAD_REQUEST', message: 'orchard: POST /hosts answered 400: You already have a host named silent.' })
    expect(() => parseOrchardArgs(['--create', '--size', '3G', 'x'])).toThrow('orchard: --size wants 512M, 1G, 2G, 4G or 8G, got "3G"')
    expect(() => parseOrchardArgs(['--size', '1G', 'x'])).toThrow('orchard: --size goes with --create')
    expect(() => parseOrchardArgs(['--token', 't'])).toThrow(/^orchard: name at least one host/)
    expect(() => parseOrchardArgs(['--tls', 'x'])).toThrow(/^orchard: Unknown option '--tls'/)
    expect((await rejectionOf(startOrchard({ hosts: ['x'], token: 't', env: {} }))).message).toMatch(/^orchard: give the CA/)
    expect((await rejectionOf(startOrchard({ hosts: ['x'], ca: standIn.caFile, env: {} }))).message).toMatch(/^orchard: give an API token/)
    expect((await rejectionOf(startOrchard({ hosts: ['x'], api: 'http://127.0.0.1:1/v2', token: 't', ca: standIn.caFile, env: {} }))).code).toBe('UNAVAILABLE')
  })
})
