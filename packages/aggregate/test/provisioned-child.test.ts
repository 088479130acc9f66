import { ErrorCode, SwarmError, createServer, type Message, type Sender } from '@libswarm/core'
import { describe, expect, it } from 'vitest'
import { createAggregate } from '../src/index.js'
import { fakeEngine, type FakeEngine } from './fake-engine.js'
import { docker, eventually } from './harness.js'

/** A provisioning service as core's README describes it, over fake engines: Ls, Watch, Attach NAME. */
function fakeProvisioner (initial: Record<string, FakeEngine>): { service: Sender, add: (name: string, engine: FakeEngine) => void, remove: (name: string) => void, closed: () => boolean, watchers: () => number } {
  const hosts = new Map(Object.entries(initial))
  const watchers = new Set<Sender>()
  let closed = false
  const tell = (change: string, name: string): void => {
    for (const ret of watchers) void ret.send({ verb: 'Ack', args: [change, name, `10.0.0.${name.length}`] }).catch(() => {})
  }
  return {
    service: createServer({
      Ls: () => ({ verb: 'Ack', args: [...hosts.keys()] }),
      Attach: (message: Message) => {
        const host = hosts.get(message.args[0] ?? '')
        if (host === undefined) throw new SwarmError(ErrorCode.NotFound, `no host ${message.args[0] ?? ''}`)
        return { verb: 'Ack', args: [message.args[0] as string, `10.0.0.${(message.args[0] as string).length}`], ret: { send: async (inner) => { await host.service.send(inner) }, close: async () => {} } }
      },
      Watch: (message: Message) => {
        if (message.ret === undefined) return undefined
        watchers.add(message.ret)
        message.ret.abandoned?.addEventListener('abort', () => { watchers.delete(message.ret as Sender) })
        for (const name of hosts.keys()) void message.ret.send({ verb: 'Ack', args: ['added', name, `10.0.0.${name.length}`] })
        return undefined
      }
    }, { onClose: async () => { closed = true } }),
    add: (name, engine) => { hosts.set(name, engine); tell('added', name) },
    remove: (name) => { hosts.delete(name); tell('removed', name) },
    closed: () => closed,
    watchers: () => watchers.size
  }
}

describe('a provisioning child', () => {
  it('becomes one node per host, follows hosts added and lost, and is closed with aggregate', async () => {
    const a = fakeEngine({ name: 'engine-a' })
    const b = fakeEngine({ name: 'engine-b' })
    const c = fakeEngine({ name: 'engine-c' })
    a.add('web-a', { running: true })
    b.add('web-b', { running: true })
    c.add('web-c', { running: true })
    const provisioner = fakeProvisioner({ 'i-aaaa': a, 'i-bbbb': b })
    const plain = fakeEngine({ name: 'plain' })
    const service = await createAggregate({
      healthTimeoutMs: 500,
      healthIntervalMs: 200,
      children: [{ spec: 'fakecloud --count 2' }, { service: plain.service, name: 'plain', addr: '127.0.0.1:2401' }]
    }, { spawn: async () => provisioner.service })
    try {
      const info = await docker(service, 'SystemInfo')
      const names = (await docker(service, 'ContainerList')).json.map((row: any) => row.Names[0]).sort()
      expect(names).toEqual(['/i-aaaa/web-a', '/i-bbbb/web-b'])
      expect(JSON.stringify(info.json.SystemStatus ?? info.json.DriverStatus)).toContain('i-aaaa')
      expect(JSON.stringify(info.json.SystemStatus ?? info.json.DriverStatus)).toContain('10.0.0.6')

      provisioner.add('i-cc', c)
      await eventually(async () => (await docker(service, 'ContainerList')).json.some((row: any) => row.Names[0] === '/i-cc/web-c'))
      provisioner.remove('i-aaaa')
      await eventually(async () => !(await docker(service, 'ContainerList')).json.some((row: any) => row.Names[0] === '/i-aaaa/web-a'))
      expect((await docker(service, 'ContainerList')).json.map((row: any) => row.Names[0]).sort()).toEqual(['/i-bbbb/web-b', '/i-cc/web-c'])
      await expect(docker(service, 'ContainerInspect', 'web-a')).rejects.toMatchObject({ code: 'NOT_FOUND' })
      expect((await docker(service, 'ContainerInspect', 'web-c')).json.Node.Name).toBe('i-cc')
    } finally {
      await service.close()
    }
    expect(provisioner.closed()).toBe(true)
    await eventually(() => provisioner.watchers() === 0)
  })
})
