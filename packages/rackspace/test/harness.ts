import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { jsonLogger, spawnChain, type Chain, type Service } from '@libswarm/core'
import { aggregate } from '@libswarm/aggregate'
import { rackspace } from '../src/index.js'
import { startOpenStackStandIn, type OpenStackStandIn, type StandInOptions } from './stand-in/openstack-stand-in.js'

export const services: Record<string, Service> = { rackspace, aggregate }

/** The stand-in with one Rackspace account, two regions, two images and two flavors. */
export async function standIn (launch: StandInOptions['launch'], options: Partial<StandInOptions> = {}): Promise<OpenStackStandIn> {
  return await startOpenStackStandIn({
    accounts: [{ username: 'alice', apiKey: 'k3y', password: 'pw', tenantId: '123456' }],
    regions: ['DFW', 'ORD'],
    images: [{ id: 'c6b1e2f0-ubuntu', name: 'Ubuntu 24.04' }, { id: 'd2a3-debian', name: 'Debian 12' }],
    flavors: [{ id: 'general1-1', name: '1 GB General Purpose v1', ram: 1024, vcpus: 1 }, { id: 'general1-2', name: '2 GB General Purpose v1', ram: 2048, vcpus: 2 }],
    keyPairs: ['deploy'],
    launch,
    ...options
  })
}

/** A temp state directory, removed by the returned function. */
export function stateDir (): { dir: string, remove: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'rax-state-'))
  return { dir, remove: () => { rmSync(dir, { recursive: true, force: true }) } }
}

/** `rackspace` arguments against the stand-in, as one chain-syntax string. */
export function rackspaceSpec (cloud: OpenStackStandIn, state: string, extra = ''): string {
  return `rackspace --identity-url ${cloud.identityUrl} --username alice --api-key k3y --region DFW --flavor general1-1 --image "Ubuntu 24.04" --state-dir ${state} --poll-interval 50ms ${extra}`
}

/** Spawns a chain of these services. */
export async function chain (...specs: string[]): Promise<Chain> {
  // RAX_TEST_LOG=1 prints the services' log lines (hosts launched, ready, lost, replaced)
  return await spawnChain(specs, { resolve: (name) => services[name] as Service, ...(process.env['RAX_TEST_LOG'] === '1' ? { log: jsonLogger() } : {}) })
}
