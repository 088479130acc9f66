import { describe, expect, it } from 'vitest'
import { docker, failure, fakeCluster, run } from './harness.js'

const unmarshal = (what: string): string => `json: cannot unmarshal ${what}`

describe('create bodies are typed as dockerd types them before placement reads them', () => {
  it('refuses wrongly typed fields with the engine\'s error instead of failing inside placement', async () => {
    await using cluster = await fakeCluster([{}, {}])
    const refused = async (body: Record<string, unknown>): Promise<{ code: string, message: string }> =>
      await failure(run(cluster.service, undefined, body, false))
    expect(await refused({ Env: 5 })).toMatchObject({ code: 'INTERNAL', message: unmarshal('number into Go struct field ContainerConfigWrapper.Env of type []string') })
    expect(await refused({ Env: [5] })).toMatchObject({ code: 'INTERNAL', message: unmarshal('number into Go struct field ContainerConfigWrapper.Env of type string') })
    expect(await refused({ Labels: { 'com.docker.swarm.constraints': 5 } })).toMatchObject({ code: 'INTERNAL', message: unmarshal('number into Go struct field ContainerConfigWrapper.Labels of type string') })
    expect(await refused({ HostConfig: { Memory: '1g' } })).toMatchObject({ code: 'INTERNAL', message: unmarshal('string into Go struct field HostConfig.HostConfig.Memory of type int64') })
    expect(await refused({ HostConfig: { NetworkMode: 5 } })).toMatchObject({ code: 'INTERNAL', message: unmarshal('number into Go struct field HostConfig.HostConfig.NetworkMode of type container.NetworkMode') })
    expect(await refused({ HostConfig: { VolumesFrom: 'web' } })).toMatchObject({ code: 'INTERNAL', message: unmarshal('string into Go struct field HostConfig.HostConfig.VolumesFrom of type []string') })
    expect(await refused({ HostConfig: { PortBindings: { '80/tcp': [{ HostPort: 80 }] } } })).toMatchObject({ code: 'INTERNAL', message: unmarshal('number into Go struct field PortBinding.HostConfig.PortBindings.HostPort of type string') })
    expect(await refused({ NetworkingConfig: { EndpointsConfig: 5 } })).toMatchObject({ code: 'INTERNAL', message: unmarshal('number into Go struct field NetworkingConfig.NetworkingConfig.EndpointsConfig of type map[string]*network.EndpointSettings') })
    // nothing was placed, nothing is pending: a good create still goes where spread puts it
    expect((await run(cluster.service, 'web', { Cmd: ['top'] })).node).toMatch(/^node-[01]$/)
    expect((await docker(cluster.service, 'ContainerList')).json.length).toBe(1)
  })

  it('refuses a host port range past 65535 as the engine does, instead of counting every port in it', async () => {
    await using cluster = await fakeCluster([{}])
    for (const hostPort of ['1-99999', '70000', 'x', '9000-8000']) {
      const start = performance.now()
      expect(await failure(run(cluster.service, undefined, { HostConfig: { PortBindings: { '80/tcp': [{ HostPort: hostPort }] } } }, false)))
        .toMatchObject({ code: 'BAD_REQUEST', message: `invalid port specification: "${hostPort}"` })
      expect(performance.now() - start).toBeLessThan(1000)
    }
    expect((await run(cluster.service, 'wide', { HostConfig: { PortBindings: { '80/tcp': [{ HostPort: '20000-20010' }] } } }, false)).node).toBe('node-0')
  })
  it('refuses wrongly typed network and volume bodies as the engine does', async () => {
    await using cluster = await fakeCluster([{}, {}])
    expect(await failure(docker(cluster.service, 'NetworkCreate', '', { body: { Name: 5 } })))
      .toMatchObject({ code: 'BAD_REQUEST', message: unmarshal('number into Go struct field NetworkCreateRequest.Name of type string') })
    expect(await failure(docker(cluster.service, 'VolumeCreate', '', { body: { Name: 'v', Labels: [] } })))
      .toMatchObject({ code: 'BAD_REQUEST', message: unmarshal('array into Go struct field VolumeCreateBody.Labels of type map[string]string') })
    expect(await failure(docker(cluster.service, 'NetworkConnect', 'bridge', { body: { Container: 5 } })))
      .toMatchObject({ code: 'BAD_REQUEST', message: unmarshal('number into Go struct field NetworkConnect.Container of type string') })
  })
})
