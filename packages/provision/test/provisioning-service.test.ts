import { createServer, pipe, request, type Message, type Sender } from '@libswarm/core'
import { rejectionOf } from '@libswarm/test-engine'
import { encodeDockerRequest } from '@libswarm/docker-api'
import { describe, expect, it } from 'vitest'
import { createProvisioningService, type HostSource, type ServedHost, type ServedHostChange } from '../src/index.js'

/** An engine that answers every message with its own name, and records what it was sent. */
function namedEngine (name: string): ServedHost & { seen: string[] } {
  const seen: string[] = []
  const engine = createServer({ default: (message: Message) => { seen.push(message.verb); return { verb: 'Ack', args: [name] } } })
  return { name, address: `10.0.0.${name.length}:2376`, engine, seen }
}

/** A host source whose hosts the test adds and removes. */
function source (extra: Partial<HostSource> = {}): HostSource & { add: (host: ServedHost) => void, remove: (name: string) => void, closed: () => boolean } {
  const hosts = new Map<string, ServedHost>()
  const listeners = new Set<(change: ServedHostChange) => void>()
  let closed = false
  return {
    name: 'testcloud',
    description: 'swarm web',
    hosts,
    subscribe: (listener) => {
      listeners.add(listener)
      return () => { listeners.delete(listener) }
    },
    close: async () => { closed = true },
    add: (host) => {
      hosts.set(host.name, host)
      for (const listener of listeners) listener({ change: 'added', host })
    },
    remove: (name) => {
      const host = hosts.get(name)
      hosts.delete(name)
      if (host !== undefined) for (const listener of listeners) listener({ change: 'removed', host })
    },
    closed: () => closed,
    ...extra
  }
}

const ping = (): Message => encodeDockerRequest({ operation: 'SystemPing', target: '' })

describe('createProvisioningService over a host source', () => {
  it('lists, watches (with synced), attaches and forwards by the provisioning contract', async () => {
    const hosts = source()
    const alpha = namedEngine('alpha')
    hosts.add(alpha)
    const service = createProvisioningService(hosts)
    expect((await request(service, 'Ls')).args).toEqual(['alpha'])

    const [replies, ret] = pipe()
    await service.send({ verb: 'Watch', args: [], ret })
    expect((await replies.receive())?.args).toEqual(['added', 'alpha', '10.0.0.5:2376'])
    expect((await replies.receive())?.args).toEqual(['synced'])
    const beta = namedEngine('beta')
    hosts.add(beta)
    expect((await replies.receive())?.args).toEqual(['added', 'beta', '10.0.0.4:2376'])
    hosts.remove('beta')
    expect((await replies.receive())?.args).toEqual(['removed', 'beta', '10.0.0.4:2376'])

    const attached = await request(service, 'Attach', ['alpha'])
    expect(attached.args).toEqual(['alpha', '10.0.0.5:2376'])
    const engine = attached.ret as Sender
    expect((await request(engine, 'Get', ['SystemPing', '', '{}'])).args).toEqual(['alpha'])
    await engine.close()
    expect(await rejectionOf(request(engine, 'Get', ['SystemPing', '', '{}']))).toEqual({ code: 'CHANNEL_CLOSED', message: 'the attachment to host alpha is closed' })
    expect(await rejectionOf(request(service, 'Attach', ['gamma']))).toEqual({ code: 'NOT_FOUND', message: 'testcloud: no host "gamma" in swarm web (its hosts: alpha)' })

    // one host: a Docker message is its engine's
    const reply = await request(service, ping().verb, ping().args)
    expect(reply.args).toEqual(['alpha'])
    expect(alpha.seen).toContain(ping().verb)

    await service.close()
    expect(hosts.closed()).toBe(true)
    expect(await replies.receive()).toBeUndefined()
  })

  it('refuses a Docker message with no host or several, saying why', async () => {
    const hosts = source({ emptyNote: '--dry-run launches none' })
    const service = createProvisioningService(hosts)
    expect(await rejectionOf(request(service, ping().verb, ping().args))).toEqual({ code: 'UNAVAILABLE', message: 'testcloud: no host of swarm web is up (--dry-run launches none)' })
    expect(await rejectionOf(request(service, 'Attach', ['alpha']))).toEqual({ code: 'NOT_FOUND', message: 'testcloud: no host "alpha" in swarm web (it has none)' })
    const [replies, ret] = pipe()
    await service.send({ verb: 'Watch', args: [], ret })
    // a set without hosts is synced at once
    expect((await replies.receive())?.args).toEqual(['synced'])
    hosts.add(namedEngine('alpha'))
    hosts.add(namedEngine('beta'))
    expect(await rejectionOf(request(service, ping().verb, ping().args))).toEqual({ code: 'BAD_REQUEST', message: 'testcloud: swarm web has 2 hosts (alpha, beta); put it under aggregate to use them as one engine (\'aggregate "testcloud ..."\')' })
    await replies.close()
    await service.close()
  })

  it('answers Get provision from describe, and forwards it without', async () => {
    const described = createProvisioningService(source({ describe: () => ({ swarm: 'web', plan: null }) }))
    expect(JSON.parse((await request(described, 'Get', ['provision'])).args[0] ?? '')).toEqual({ swarm: 'web', plan: null })
    await described.close()
    const plain = source()
    plain.add(namedEngine('alpha'))
    const forwarded = createProvisioningService(plain)
    expect((await request(forwarded, 'Get', ['provision'])).args).toEqual(['alpha'])
    await forwarded.close()
  })
})
