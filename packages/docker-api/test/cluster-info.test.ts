import { describe, expect, it } from 'vitest'
import { bytesSize, clusterSystemInfo, clusterSystemVersion } from '../src/index.js'

describe('bytesSize', () => {
  it.each([
    [0, '0 B'],
    [1023, '1023 B'],
    [1024, '1 KiB'],
    [256 * 1024 * 1024, '256 MiB'],
    [8_000_000_000, '7.451 GiB'],
    [3 * 1024 ** 5, '3 PiB']
  ])('prints %d bytes as go-units does: %s', (bytes, text) => {
    expect(bytesSize(bytes)).toBe(text)
  })
})

describe('clusterSystemInfo', () => {
  it('puts the cluster\'s fields where docker info reads them and sums the containers', () => {
    const status: Array<[string, string]> = [['Role', 'primary'], ['Nodes', '1'], [' n1', '10.0.0.1:2375'], ['  └ Status', 'Healthy']]
    const info = clusterSystemInfo({
      id: 'ID1', name: 'front', serverVersion: 'libswarm/1.2.3', running: 2, paused: 1, stopped: 4, images: 5,
      systemStatus: status, kernelVersion: '6.1', operatingSystem: 'Debian', ncpu: 8, memTotal: 1024
    })
    expect(info).toMatchObject({
      ID: 'ID1', Name: 'front', ServerVersion: 'libswarm/1.2.3', Containers: 7, ContainersRunning: 2, ContainersPaused: 1, ContainersStopped: 4,
      Images: 5, SystemStatus: status, KernelVersion: '6.1', OperatingSystem: 'Debian', OSType: 'linux', NCPU: 8, MemTotal: 1024, Warnings: null
    })
    expect(Number.isNaN(Date.parse(info.SystemTime as string))).toBe(false)
  })
})

describe('clusterSystemVersion', () => {
  it('names the front and its components', () => {
    const components = [{ Name: 'front', Version: '1.2.3', Details: { ApiVersion: '1.41' } }]
    expect(clusterSystemVersion({ platform: 'libswarm front', components, version: 'front/1.2.3', apiVersion: '1.41', minApiVersion: '1.12', kernelVersion: '6.1' }))
      .toMatchObject({ Platform: { Name: 'libswarm front' }, Components: components, Version: 'front/1.2.3', ApiVersion: '1.41', MinAPIVersion: '1.12', Os: 'linux', KernelVersion: '6.1' })
  })
})
