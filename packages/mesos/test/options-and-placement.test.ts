import { describe, expect, it } from 'vitest'
import type { MesosOffer } from '../src/mesos-types.js'
import { parseMesosArgs } from '../src/mesos-options.js'
import { describeSpec, fitTask, meetsConstraints, offerSpace, taskSpec } from '../src/task-spec.js'

const offer = (hostname: string, attributes: Record<string, string> = {}, cpus = 2, mem = 1024, ports: Array<[number, number]> = [[31000, 31002]]): MesosOffer => ({
  id: { value: `o-${hostname}` },
  framework_id: { value: 'f' },
  agent_id: { value: `a-${hostname}` },
  hostname,
  resources: [
    { name: 'cpus', type: 'SCALAR', scalar: { value: cpus } },
    { name: 'mem', type: 'SCALAR', scalar: { value: mem } },
    { name: 'ports', type: 'RANGES', ranges: { range: ports.map(([begin, end]) => ({ begin, end })) } }
  ],
  attributes: Object.entries(attributes).map(([name, value]) => ({ name, type: 'TEXT', text: { value } }))
})
const defaults = { cpus: 0.1, mem: 64 }
const id = 'a'.repeat(64)

describe('parseMesosArgs', () => {
  it('reads the options and the children', () => {
    const options = parseMesosArgs(['--master', 'https://m:5050/', '--name', 'fw', '--role', 'web', '--principal', 'p', '--secret', 's', '--agent-attribute', 'docker_host', '--offer-timeout', '10s', 'dockerclient tcp://a:2376 --tlsverify'])
    expect(options).toMatchObject({ master: 'https://m:5050', name: 'fw', role: 'web', principal: 'p', secret: 's', agentAttribute: 'docker_host', offerTimeout: 10, children: ['dockerclient tcp://a:2376 --tlsverify'] })
    expect(parseMesosArgs(['--master', 'http://m:5050', '--engine-port', '2376', '--tlsverify']).engineTls).toEqual(['--tlsverify'])
  })

  it('refuses bad arguments with the usage', () => {
    expect(() => parseMesosArgs([])).toThrow(/--master URL is required; usage: mesos --master URL/)
    expect(() => parseMesosArgs(['--master', 'ftp://m'])).toThrow(/http:\/\/ or https:\/\//)
    expect(() => parseMesosArgs(['--master', 'http://m', '--bogus'])).toThrow(/Unknown option '--bogus'/)
    expect(() => parseMesosArgs(['--master', 'http://m', '--secret', 'x'])).toThrow(/--secret needs --principal/)
    expect(() => parseMesosArgs(['--master', 'http://m', '--engine-port', '99999'])).toThrow(/--engine-port needs a port/)
    expect(() => parseMesosArgs(['--master', 'http://m', '--offer-timeout', 'soon'])).toThrow(/non-negative number/)
  })
})

describe('task specs and offers', () => {
  it('reads resources, ports, constraints and the DOCKER container from a create body', () => {
    const spec = taskSpec({
      Image: 'nginx', Cmd: ['nginx', '-g', 'daemon off;'], Env: ['A=1', 'constraint:zone==eu-*'], Labels: { team: 'x' },
      ExposedPorts: { '443/tcp': {} },
      HostConfig: { NanoCpus: 5e8, Memory: 128 * 1024 * 1024, PortBindings: { '80/tcp': [{ HostPort: '' }], '53/udp': [{ HostPort: '31001' }] }, PublishAllPorts: true, Binds: ['/data:/data:ro', 'named:/v'], NetworkMode: 'host' }
    }, id, 'web', defaults)
    expect(spec).toMatchObject({ image: 'nginx', cpus: 0.5, mem: 128 })
    expect(spec.ports).toEqual([{ containerPort: 80, protocol: 'tcp', hostPort: 0 }, { containerPort: 53, protocol: 'udp', hostPort: 31001 }, { containerPort: 443, protocol: 'tcp', hostPort: 0 }])
    expect(spec.command.environment?.variables).toEqual([{ name: 'A', value: '1' }])
    expect(spec.container.volumes).toEqual([{ host_path: '/data', container_path: '/data', mode: 'RO' }])
    expect(spec.container.docker?.network).toBe('HOST')
    expect(spec.container.docker?.parameters).toContainEqual({ key: 'volume', value: 'named:/v' })
    expect(spec.container.docker?.parameters).toContainEqual({ key: 'label', value: 'team=x' })
    expect(describeSpec(spec)).toBe('cpus 0.5, mem 128 MB, ports any->80/tcp, 31001->53/udp, any->443/tcp, constraint zone==eu-*')
    expect(taskSpec({ Image: 'b', HostConfig: { CpuShares: 2 } }, id, 'x', defaults).cpus).toBe(2)
  })

  it('refuses what Mesos cannot place', () => {
    expect(() => taskSpec({}, id, 'x', defaults)).toThrow(/config cannot be empty/)
    expect(() => taskSpec({ Image: 'b', Env: ['constraint:zone~=a'] }, id, 'x', defaults)).toThrow(/invalid constraint/)
    expect(() => taskSpec({ Image: 'b', Env: ['affinity:container==x'] }, id, 'x', defaults)).toThrow(/affinities are not supported/)
  })

  it('matches constraints against hostnames and attributes (==, !=, globs, regexes)', () => {
    const eu = offer('node-eu', { zone: 'eu-west', disk: 'ssd' })
    const constraints = (...env: string[]) => taskSpec({ Image: 'b', Env: env.map((each) => `constraint:${each}`) }, id, 'x', defaults).constraints
    expect(meetsConstraints(eu, constraints('zone==eu-*', 'disk!=hdd', 'node==node-eu'))).toBe(true)
    expect(meetsConstraints(eu, constraints('zone==us-*'))).toBe(false)
    expect(meetsConstraints(eu, constraints('node==/^node-(eu|us)$/'))).toBe(true)
    expect(meetsConstraints(eu, constraints('rack==1'))).toBe(false)
    expect(meetsConstraints(eu, constraints('rack!=1'))).toBe(true)
  })

  it('packs tasks into an offer until cpus, mem or ports run out', () => {
    const space = offerSpace(offer('a', {}, 1, 256))
    const spec = taskSpec({ Image: 'b', HostConfig: { NanoCpus: 4e8, Memory: 64 * 1024 * 1024, PortBindings: { '80/tcp': [{ HostPort: '' }] } } }, id, 'x', defaults)
    const first = fitTask(spec, space, 't1', 'one')
    const second = fitTask(spec, space, 't2', 'two')
    expect(first?.container?.docker?.port_mappings).toEqual([{ host_port: 31000, container_port: 80, protocol: 'tcp' }])
    expect(second?.container?.docker?.port_mappings).toEqual([{ host_port: 31001, container_port: 80, protocol: 'tcp' }])
    expect(first?.resources).toContainEqual({ name: 'ports', type: 'RANGES', ranges: { range: [{ begin: 31000, end: 31000 }] } })
    expect(fitTask(spec, space, 't3', 'three')).toBeUndefined() // 1.2 cpus > 1
    const fixed = taskSpec({ Image: 'b', HostConfig: { PortBindings: { '80/tcp': [{ HostPort: '31002' }] } } }, id, 'x', defaults)
    expect(fitTask(fixed, space, 't4', 'four')?.container?.docker?.port_mappings?.[0]?.host_port).toBe(31002)
    expect(fitTask(fixed, space, 't5', 'five')).toBeUndefined() // 31002 taken
  })
})
