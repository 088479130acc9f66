import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { endOfChain, parseServiceSpec, spawnChain, spawnService, type Service } from '@libswarm/core'
import { dockerclient } from '@libswarm/dockerclient'
import { dockerserver } from '@libswarm/dockerserver'
import { simulator } from '@libswarm/simulator'
import { afterAll, describe, expect, it } from 'vitest'
import { aggregate } from '../src/index.js'
import { docker, eventually } from './harness.js'

const services: Record<string, Service> = { aggregate, dockerclient, dockerserver, simulator }
const resolve = (name: string): Service => {
  const service = services[name]
  if (service === undefined) throw new Error(`no service ${name}`)
  return service
}

const dir = mkdtempSync(join(tmpdir(), 'aggregate-unreachable-'))
afterAll(() => { rmSync(dir, { recursive: true, force: true }) })

describe('a child whose engine is not there at start', () => {
  it('starts unhealthy, keeps the others serving, and joins once its engine answers', async () => {
    const socket = join(dir, 'late.sock')
    const instance = await spawnService(parseServiceSpec(`aggregate --health-interval 200ms --health-timeout 500ms "simulator --name early" "dockerclient unix://${socket}"`), endOfChain, resolve)
    await using cluster = Object.assign(instance, { [Symbol.asyncDispose]: async () => { await instance.close() } })

    const info = await docker(cluster, 'SystemInfo')
    expect(JSON.stringify(info.json)).toContain('early')
    expect(JSON.stringify(info.json)).toContain('Unhealthy')
    await docker(cluster, 'ContainerCreate', '', { query: { name: 'web' }, body: { Image: 'busybox', Cmd: ['sleep', '60'] } })
    const before = await docker(cluster, 'ContainerList', '', { query: { all: '1' } })
    expect(before.json).toHaveLength(1)

    await using late = await spawnChain([`dockerserver unix://${socket}`, 'simulator --name late'], { resolve })
    await eventually(async () => {
      const status = JSON.stringify((await docker(cluster, 'SystemInfo')).json)
      return status.includes('late') && !status.includes('Unhealthy')
    }, 15_000)
    const after = await docker(cluster, 'ContainerList', '', { query: { all: '1' } })
    expect(after.json).toHaveLength(1)
  })
})
