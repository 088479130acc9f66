import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ErrorCode, SwarmError, request, silentLogger, type Caller, type Message, type Sender } from '@libswarm/core'
import { complianceTests } from '@libswarm/core/compliance'
import { decodeDockerRequest, encodeDockerRequest, jsonReply, type DockerRequest } from '@libswarm/docker-api'
import { createPolicy, policy as policyService, type PolicyInstance } from '../src/index.js'

/*
 * The policy in front of a recording end of chain: what it forwards, and what it refuses. The
 * same behaviour against a real engine is in test/e2e.
 */

const POLICY = `version: 1
clients:
  ci: { listener: ci }
  admin: { listener: admin }
rules:
  - name: admin
    clients: [admin]
    allow: ['*']
  - name: no-privileged
    deny: [ContainerCreate, ContainerExec]
    when: { privileged: true }
  - name: ci
    clients: [ci]
    allow: [containers, exec, images:pull, build, volumes, networks, ServiceCreate]
    limits:
      images: ["docker.io/library/*", "localhost:5000/**"]
      capabilities: [NET_BIND_SERVICE]
      devices: false
      securityOptions: ["seccomp=*.json"]
      hostNamespaces: false
      hostPaths: { allow: [/srv/ci], readOnly: true }
      volumesFrom: false
      volumeDrivers: [local]
      rootUser: false
      memory: { max: 1g }
      cpus: { max: 2 }
      ports: { allow: ["8000-8999"] }
      labels: { forbidden: ["com.example.*"] }
      restartPolicies: ["no", on-failure]
      buildNetworks: [default]
    rewrite:
      memory: 256m
      noNewPrivileges: true
      dropCapabilities: [NET_RAW]
      labels: { team: ci }
`

let dir: string
let instance: PolicyInstance
const forwarded: Message[] = []
const recorder: Sender = {
  send: async (message) => {
    forwarded.push(message)
    await message.ret?.send(jsonReply({ Id: 'abc' }, 201))
    await message.ret?.close()
  },
  close: async () => {}
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'policy-unit-'))
  await writeFile(join(dir, 'policy.yaml'), POLICY)
  instance = await createPolicy({ file: join(dir, 'policy.yaml'), watch: false }, { next: recorder, log: silentLogger })
})

afterAll(async () => {
  await instance?.close()
  await rm(dir, { recursive: true, force: true })
})

const ci: Caller = { listener: 'ci' }

async function send (req: DockerRequest, caller: Caller | undefined = ci): Promise<DockerRequest> {
  forwarded.length = 0
  const message = encodeDockerRequest(req)
  const reply = await request({ send: async (m, o) => { await instance.send({ ...m, caller }, o) }, close: async () => {} }, message.verb, message.args)
  expect(reply.verb).toBe('Ack')
  expect(forwarded).toHaveLength(1)
  return decodeDockerRequest(forwarded[0] as Message)
}

async function refused (req: DockerRequest, caller: Caller | undefined = ci): Promise<SwarmError> {
  forwarded.length = 0
  const message = encodeDockerRequest(req)
  const error = await request({ send: async (m, o) => { await instance.send({ ...m, caller }, o) }, close: async () => {} }, message.verb, message.args).then(() => undefined, (e: unknown) => e)
  expect(forwarded).toHaveLength(0)
  expect(error).toBeInstanceOf(SwarmError)
  return error as SwarmError
}

const create = (body: Record<string, unknown>): DockerRequest => ({ operation: 'ContainerCreate', target: '', body: { Image: 'busybox', User: '1000', HostConfig: { Memory: 268435456, NanoCpus: 1e9 }, ...body } })
const host = (hostConfig: Record<string, unknown>): DockerRequest => create({ HostConfig: { Memory: 268435456, NanoCpus: 1e9, ...hostConfig } })

describe('deciding', () => {
  it('deny by default, naming the default rule', async () => {
    const error = await refused({ operation: 'SystemInfo', target: '' })
    expect(error.code).toBe(ErrorCode.Forbidden)
    expect(error.message).toBe('policy: "default" denies SystemInfo (no rule allows it for client "ci")')
    expect((await refused({ operation: 'ContainerList', target: '' }, {})).message).toBe('policy: "default" denies ContainerList (no rule allows it)')
    expect((await refused({ operation: 'Unmapped', target: '', method: 'GET', url: '/containers//json' })).message).toMatch(/"default" denies Unmapped/)
  })

  it('a deny rule with when names itself', async () => {
    expect((await refused(host({ Privileged: true }))).message).toBe('policy: "no-privileged" denies privileged containers')
    expect((await refused({ operation: 'ContainerExec', target: 'x', body: { Cmd: ['sh'], Privileged: true } })).message).toBe('policy: "no-privileged" denies privileged containers')
  })

  it('reads every spelling Go reads: lower case, dotless i, long s, case-variant duplicates', async () => {
    for (const body of [
      { Image: 'busybox', hostconfig: { privileged: true } },
      { Image: 'busybox', HostConfig: { 'Prıvileged': true } },
      { Image: 'busybox', HostConfig: { Memory: 1 }, HOSTCONFIG: { PRIVILEGED: true } }
    ]) expect((await refused({ operation: 'ContainerCreate', target: '', body })).message).toBe('policy: "no-privileged" denies privileged containers')
    expect((await refused(host({ Bindſ: ['/:/host'] }))).message).toBe('policy: "ci" denies host path / (-v)')
  })

  it('refuses HostConfig fields at the top of a create', async () => {
    expect((await refused(create({ Binds: ['/:/host'] }))).message).toBe('policy: HostConfig fields outside HostConfig (Binds) are not accepted')
  })

  it.each([
    [{ Image: 'ghcr.io/x/alpine' }, 'image ghcr.io/x/alpine:latest'],
    [{ Image: 'evil.example/busybox' }, 'image evil.example/busybox:latest'],
    [{ Image: 'me/busybox' }, 'image me/busybox:latest'],
    [{ User: 'root' }, 'user root'],
    [{ User: '0:0' }, 'user 0:0'],
    [{ User: '' }, 'containers without a non-root --user']
  ])('limits on the config: %j', async (body, what) => {
    expect((await refused(create(body))).message).toBe(`policy: "ci" denies ${what}`)
  })

  it.each([
    [{ CapAdd: ['SYS_ADMIN'] }, 'capability SYS_ADMIN'],
    [{ CapAdd: 'cap_sys_admin' }, 'capability SYS_ADMIN'],
    [{ CapAdd: ['ALL'] }, 'capability ALL'],
    [{ Devices: [{ PathOnHost: '/dev/sda', PathInContainer: '/dev/sda' }] }, 'devices'],
    [{ DeviceRequests: [{ Count: -1 }] }, 'devices'],
    [{ SecurityOpt: ['seccomp=unconfined'] }, 'security option seccomp=unconfined'],
    [{ SecurityOpt: ['apparmor=unconfined'] }, 'security option apparmor=unconfined'],
    [{ MaskedPaths: [] }, 'unmasked system paths (MaskedPaths, ReadonlyPaths)'],
    [{ PidMode: 'host' }, '--pid host'],
    [{ IpcMode: 'host' }, '--ipc host'],
    [{ NetworkMode: 'host' }, '--network host'],
    [{ UsernsMode: 'host' }, '--userns host'],
    [{ UTSMode: 'host' }, '--uts host'],
    [{ CgroupnsMode: 'host' }, '--cgroupns host'],
    [{ CgroupParent: '/' }, '--cgroup-parent'],
    [{ Binds: ['/:/host'] }, 'host path / (-v)'],
    [{ Binds: ['/srv/ci/../../etc:/x:ro'] }, 'host path /etc (-v)'],
    [{ Binds: ['//srv/ci2:/x:ro'] }, 'host path /srv/ci2 (-v)'],
    [{ Mounts: [{ Type: 'bind', Source: '/', Target: '/host' }] }, 'host path / (--mount type=bind)'],
    [{ Mounts: [{ Type: 'volume', Source: 'v', Target: '/v', VolumeOptions: { DriverConfig: { Name: 'local', Options: { type: 'none', o: 'bind', device: '/' } } } }] }, 'host path / (--mount volume-opt)'],
    [{ Mounts: [{ Type: 'npipe', Source: '/x', Target: '/x' }] }, 'host path /x (--mount type=npipe)'],
    [{ VolumesFrom: ['other:ro'] }, '--volumes-from other:ro'],
    [{ VolumeDriver: 'sshfs' }, 'volume driver sshfs'],
    [{ Memory: 2 * 1024 ** 3 }, 'memory over 1g'],
    [{ NanoCpus: 3e9 }, 'more than 2 CPUs'],
    [{ NanoCpus: 0, CpuQuota: 400000, CpuPeriod: 100000 }, 'more than 2 CPUs'],
    [{ PortBindings: { '80/tcp': [{ HostPort: '22' }] } }, 'host port 22'],
    [{ PortBindings: { '80/tcp': [{ HostPort: '8000-9100' }] } }, 'host port 8000-9100'],
    [{ PublishAllPorts: true }, 'host port (any)'],
    [{ RestartPolicy: { Name: 'always' } }, 'restart policy always']
  ])('limits on the host config: %j', async (hostConfig, what) => {
    expect((await refused(host(hostConfig))).message).toBe(`policy: "ci" denies ${what}`)
  })

  it('a writable host path in the allow-list is refused, a read-only one passes', async () => {
    expect((await refused(host({ Binds: ['/srv/ci/cache:/cache'] }))).message).toBe('policy: "ci" denies writable host path /srv/ci/cache (-v)')
    const out = await send(host({ Binds: ['/srv/ci/cache:/cache:ro'], Mounts: [{ Type: 'bind', Source: '/srv/ci', Target: '/ci', ReadOnly: true }] }))
    expect((out.body as { HostConfig: { Binds: string[] } }).HostConfig.Binds).toEqual(['/srv/ci/cache:/cache:ro'])
  })

  it('labels: forbidden keys refused, the owner label always the caller\'s', async () => {
    expect((await refused(create({ Labels: { 'com.example.x': '1' } }))).message).toBe('policy: "ci" denies label com.example.x')
    const out = await send(create({ Labels: { 'com.libswarm.policy.owner': 'admin', keep: 'me' } }))
    expect((out.body as { Labels: Record<string, string> }).Labels).toEqual({ 'com.libswarm.policy.owner': 'ci', keep: 'me', team: 'ci' })
  })

  it('rewrites: default memory, no-new-privileges, dropped capabilities', async () => {
    const out = await send(create({ HostConfig: { NanoCpus: 1e9, SecurityOpt: ['no-new-privileges:false'], CapAdd: ['NET_BIND_SERVICE'] } }))
    const hostConfig = (out.body as { HostConfig: Record<string, unknown> }).HostConfig
    expect(hostConfig.Memory).toBe(256 * 1024 ** 2)
    expect(hostConfig.SecurityOpt).toEqual(['no-new-privileges:true'])
    expect(hostConfig.CapDrop).toEqual(['NET_RAW'])
    expect(hostConfig.CapAdd).toEqual(['NET_BIND_SERVICE'])
  })

  it('the forwarded body has one spelling per field', async () => {
    const out = await send({ operation: 'ContainerCreate', target: '', body: { image: 'busybox', user: '1000', hostconfig: { nanocpus: 1e9 } } })
    expect(out.body).toMatchObject({ Image: 'busybox', User: '1000', HostConfig: { NanoCpus: 1e9, Memory: 256 * 1024 ** 2 } })
    expect(Object.keys(out.body as object)).not.toContain('hostconfig')
  })

  it('volumes: a local volume binding a host path is a host path', async () => {
    expect((await refused({ operation: 'VolumeCreate', target: '', body: { Name: 'v', Driver: 'local', DriverOpts: { type: 'none', o: 'bind', device: '/' } } })).message)
      .toBe('policy: "ci" denies host path / (volume option)')
    expect((await refused({ operation: 'VolumeCreate', target: '', body: { Name: 'v', driveropts: { device: '/dev/sda1', type: 'ext4' } } })).message)
      .toBe('policy: "ci" denies host path /dev/sda1 (volume option)')
    expect((await refused({ operation: 'VolumeCreate', target: '', body: { Name: 'v', Driver: 'sshfs' } })).message).toBe('policy: "ci" denies volume driver sshfs')
  })

  it('networks on host interfaces are refused', async () => {
    expect((await refused({ operation: 'NetworkCreate', target: '', body: { Name: 'n', Driver: 'macvlan', Options: { parent: 'eth0' } } })).message).toBe('policy: "ci" denies --driver macvlan')
    expect((await refused({ operation: 'NetworkCreate', target: '', body: { Name: 'n', options: { 'com.docker.network.bridge.name': 'docker0' } } })).message)
      .toBe('policy: "ci" denies --opt com.docker.network.bridge.name')
  })

  it('exec: root and privileged refused', async () => {
    expect((await refused({ operation: 'ContainerExec', target: 'x', body: { Cmd: ['sh'], User: 'root' } })).message).toBe('policy: "ci" denies user root')
  })

  it('pulls and builds', async () => {
    expect((await refused({ operation: 'ImageCreate', target: '', query: { fromImage: 'quay.io/alpine', tag: '3' } })).message).toBe('policy: "ci" denies image quay.io/alpine:3')
    expect((await refused({ operation: 'ImageCreate', target: '', query: { fromSrc: '-', repo: 'busybox' } })).message).toBe('policy: "ci" denies image imports (docker import, fromSrc)')
    await send({ operation: 'ImageCreate', target: '', query: { fromImage: 'busybox', tag: 'latest' } })
    expect((await refused({ operation: 'ImageBuild', target: '', query: { networkmode: 'host' } })).message).toBe('policy: "ci" denies builds with --network host')
  })

  it('swarm services: a bind mount under any spelling', async () => {
    const spec = { Name: 's', TaskTemplate: { ContainerSpec: { Image: 'busybox', mounts: [{ type: 'bind', source: '/', target: '/host' }] } } }
    expect((await refused({ operation: 'ServiceCreate', target: '', body: spec })).message).toBe('policy: "ci" denies host path / (service --mount)')
  })

  it('another client\'s rules do not apply: admin may do anything', async () => {
    const out = await send(host({ Privileged: true }), { listener: 'admin' })
    expect((out.body as { Labels: Record<string, string> }).Labels['com.libswarm.policy.owner']).toBe('admin')
  })
})

describe('compliance', () => {
  for (const test of complianceTests({
    service: policyService,
    args: [new URL('../examples/ci-job.yaml', import.meta.url).pathname, '--no-watch']
  })) it(test.name, test.run)
})
