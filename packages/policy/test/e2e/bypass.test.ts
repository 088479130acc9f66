import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { canRunTests, startEngine, type Engine } from '@libswarm/test-engine'
import { CLI_20, startPolicedChain, type PolicedChain } from './policed-chain.js'

/*
 * The "It must not be bypassable" list, against a private dockerd 20.10: the real docker
 * CLI 28 and raw HTTP on the policed sockets of two clients, `ci` and `other`, under
 * examples/ci-job.yaml. Every refusal is also checked on the engine itself where it matters
 * (nothing was created).
 */

const POLICY = new URL('../../examples/ci-job.yaml', import.meta.url).pathname
let engine: Engine
let chain: PolicedChain
let otherId: string
let auditFile: string
let auditDir: string | undefined

const denied = (rule: string, what: string): string => `policy: "${rule}" denies ${what}`

beforeAll(async () => {
  engine = await startEngine({ name: 'policy-bypass' })
  auditDir = await mkdtemp(join(tmpdir(), 'policy-audit-'))
  auditFile = join(auditDir, 'audit.jsonl')
  chain = await startPolicedChain(engine, POLICY, ['ci', 'other'], { audit: auditFile })
  const other = await chain.docker('other', ['run', '-d', '--name', 'other-box', 'busybox', 'sleep', '600'])
  expect(other.stderr).toBe('')
  otherId = other.stdout.trim()
  const own = await chain.docker('ci', ['run', '-d', '--name', 'ci-box', 'busybox', 'sleep', '600'])
  expect(own.stderr).toBe('')
}, 180_000)

afterAll(async () => {
  await chain?.[Symbol.asyncDispose]()
  await engine?.close()
  if (auditDir !== undefined) await rm(auditDir, { recursive: true, force: true })
}, 120_000)

const engineContainers = async (): Promise<string[]> => (await engine.docker(['ps', '-aq', '--no-trunc'])).stdout.trim().split('\n').filter((line) => line !== '')

describe.runIf(canRunTests())('policy cannot be bypassed (docker CLI 28 and raw HTTP, dockerd 20.10)', () => {
  it('the owner label is the caller\'s, whatever the request says', async () => {
    const run = await chain.docker('ci', ['create', '--label', 'com.libswarm.policy.owner=other', '--name', 'claims-other', 'busybox'])
    expect(run.code).toBe(0)
    const label = await engine.docker(['inspect', '-f', '{{index .Config.Labels "com.libswarm.policy.owner"}}', 'claims-other'])
    expect(label.stdout.trim()).toBe('ci')
    expect((await chain.docker('other', ['inspect', 'claims-other'])).stderr).toMatch(/No such container: claims-other|No such object: claims-other/)
  })

  // what dockerserver names each path (seen, not assumed): ContainerCreate, decided on its body, or
  // Unmapped, which no rule here allows
  const privileged = denied('ci-jobs', 'privileged containers')
  const unmapped = denied('default', 'Unmapped (no rule allows it for client "ci")')
  it.each([
    ['/v1.24/containers/create', privileged],
    ['/containers/create', privileged],
    ['/%63ontainers/create', privileged],
    ['/v1.41/containers/create/', privileged],
    ['/v1.41//containers/create', unmapped],
    ['//containers/create', unmapped],
    ['/containers//create', unmapped],
    ['/containers%2Fcreate', unmapped],
    ['/CONTAINERS/create', unmapped]
  ])('raw POST %s with a privileged body is refused', async (path, message) => {
    const before = await engineContainers()
    const answer = await chain.http('ci', 'POST', path, { Image: 'busybox', HostConfig: { Privileged: true } })
    expect(answer.status, answer.body).toBe(403)
    expect(JSON.parse(answer.body).message).toBe(message)
    expect(await engineContainers()).toEqual(before)
  })

  it('lower-case and top-level HostConfig fields are read as the engine reads them', async () => {
    const before = await engineContainers()
    expect((await chain.http('ci', 'POST', '/v1.41/containers/create', { image: 'busybox', hostconfig: { privileged: true } })).status).toBe(403)
    expect((await chain.http('ci', 'POST', '/v1.24/containers/create', { Image: 'busybox', Privileged: true, Binds: ['/:/host'] })).status).toBe(403)
    expect(await engineContainers()).toEqual(before)
  })

  it.each([
    [['--privileged'], denied('ci-jobs', 'privileged containers')],
    [['-v', '/:/host'], denied('ci-jobs', 'host path / (-v)')],
    [['--mount', 'type=bind,src=/,dst=/host'], denied('ci-jobs', 'host path / (--mount type=bind)')],
    [['--mount', 'type=volume,src=hostroot,dst=/host,volume-opt=type=none,volume-opt=o=bind,volume-opt=device=/'], denied('ci-jobs', 'host path / (--mount volume-opt)')],
    [['--pid', 'host'], denied('ci-jobs', '--pid host')],
    [['--network', 'host'], denied('ci-jobs', '--network host')],
    [['--ipc', 'host'], denied('ci-jobs', '--ipc host')],
    [['--uts', 'host'], denied('ci-jobs', '--uts host')],
    [['--userns', 'host'], denied('ci-jobs', '--userns host')],
    [['--cap-add', 'SYS_ADMIN'], denied('ci-jobs', 'capability SYS_ADMIN')],
    [['--device', '/dev/null:/dev/x'], denied('ci-jobs', 'devices')],
    [['--security-opt', 'seccomp=unconfined'], denied('ci-jobs', 'security option seccomp=unconfined')],
    [['-m', '4g'], denied('ci-jobs', 'memory over 2g')]
  ])('docker run %j is refused', async (flags, message) => {
    const before = await engineContainers()
    const run = await chain.docker('ci', ['run', '--rm', ...flags, 'busybox', 'true'])
    expect(run.stderr).toContain(message)
    expect(run.code).not.toBe(0)
    expect(await engineContainers()).toEqual(before)
  })

  it('--volumes-from, --network container: and --pid container: of another client\'s container: no such container', async () => {
    const before = await engineContainers()
    for (const hostConfig of [{ VolumesFrom: ['other-box'] }, { NetworkMode: 'container:other-box' }, { PidMode: `container:${otherId.slice(0, 12)}` }, { Links: ['other-box:db'] }]) {
      const answer = await chain.http('ci', 'POST', '/v1.41/containers/create', { Image: 'busybox', HostConfig: hostConfig })
      expect(answer.status, JSON.stringify(hostConfig)).toBe(404)
      expect(JSON.parse(answer.body).message).toMatch(/^No such container: (other-box|[0-9a-f]{12})$/)
    }
    // the CLI takes a create's 404 for a missing image, as it does with the engine's own
    const run = await chain.docker('ci', ['run', '--rm', '--volumes-from', 'other-box', 'busybox', 'true'])
    expect(run.code).not.toBe(0)
    expect(await engineContainers()).toEqual(before)
  })

  it('a local volume with o=bind,device=/ is refused', async () => {
    const create = await chain.docker('ci', ['volume', 'create', '-o', 'type=none', '-o', 'o=bind', '-o', 'device=/', 'hostroot'])
    expect(create.stderr).toContain(denied('ci-jobs', 'host path / (volume option)'))
    expect((await engine.docker(['volume', 'ls', '-q'])).stdout).not.toContain('hostroot')
  })

  it('docker exec --privileged is refused; exec into another client\'s container is no such container', async () => {
    expect((await chain.docker('ci', ['exec', '--privileged', 'ci-box', 'true'])).stderr).toContain(denied('ci-jobs', 'privileged exec'))
    expect((await chain.docker('ci', ['exec', '-u', 'root', 'other-box', 'id'])).stderr).toContain('No such container: other-box')
    const own = await chain.docker('ci', ['exec', 'ci-box', 'echo', 'mine'])
    expect(own.stdout).toBe('mine\n')
  })

  it('an exec session of another client is not there', async () => {
    const exec = await engine.docker(['exec', '-d', 'other-box', 'sleep', '1'])
    expect(exec.code).toBe(0)
    const created = await chain.http('other', 'POST', '/containers/other-box/exec', { Cmd: ['true'] })
    const id = (JSON.parse(created.body) as { Id: string }).Id
    const inspect = await chain.http('ci', 'GET', `/exec/${id}/json`)
    expect(inspect.status).toBe(404)
    expect(JSON.parse(inspect.body).message).toBe(`No such exec instance: ${id}`)
    expect((await chain.http('ci', 'POST', `/exec/${id}/start`, { Detach: true })).status).toBe(404)
    expect((await chain.http('other', 'GET', `/exec/${id}/json`)).status).toBe(200)
  })

  it('docker update, cp, rename, logs, inspect, stop, rm of another client\'s container: no such container', async () => {
    for (const args of [['update', '-m', '8m', 'other-box'], ['cp', 'other-box:/etc/passwd', '-'], ['rename', 'other-box', 'stolen'], ['logs', 'other-box'],
      ['inspect', 'other-box'], ['stop', 'other-box'], ['rm', 'other-box'], ['kill', 'other-box'], ['pause', 'other-box'], ['top', 'other-box'], ['export', 'other-box'], ['inspect', otherId], ['logs', otherId.slice(0, 6)]]) {
      const result = await chain.docker('ci', args)
      expect(result.code, args.join(' ')).not.toBe(0)
      expect(result.stderr, args.join(' ')).toMatch(/No such (container|object): /)
    }
    expect((await chain.docker('ci', ['rm', '-f', 'other-box'])).stderr).toContain('No such container: other-box')
    expect((await engine.docker(['inspect', '-f', '{{.Name}} {{.State.Running}} {{.State.Paused}}', otherId])).stdout.trim()).toBe('/other-box true false')
  })

  it('docker update of one\'s own container stays within the limits', async () => {
    expect((await chain.docker('ci', ['update', '-m', '3g', '--memory-swap', '4g', 'ci-box'])).stderr).toContain(denied('ci-jobs', 'memory over 2g'))
    expect((await chain.docker('ci', ['update', '--restart', 'on-failure', 'ci-box'])).code).toBe(0)
  })

  it('docker ps, events and network/volume ls show only one\'s own', async () => {
    const ps = await chain.docker('ci', ['ps', '-a', '--format', '{{.Names}}'])
    expect(ps.stdout.split('\n')).toContain('ci-box')
    expect(ps.stdout).not.toContain('other-box')
    const forged = await chain.docker('ci', ['ps', '-a', '--filter', 'label=com.libswarm.policy.owner=other', '--format', '{{.Names}}'])
    expect(forged.stdout.trim()).toBe('')
    expect((await chain.docker('other', ['ps', '--format', '{{.Names}}'])).stdout.trim()).toBe('other-box')
    // the engine applies the owner filter policy adds at every API version it serves
    for (const version of ['/v1.12', '/v1.18', '/v1.24', '']) {
      const raw = await chain.http('ci', 'GET', `${version}/containers/json?all=1`)
      const names = (JSON.parse(raw.body) as Array<{ Names: string[] }>).flatMap((container) => container.Names)
      expect(names, version).toContain('/ci-box')
      expect(names, version).not.toContain('/other-box')
    }
    await chain.docker('other', ['network', 'create', 'other-net'])
    await chain.docker('ci', ['network', 'create', 'ci-net'])
    const networks = await chain.docker('ci', ['network', 'ls', '--format', '{{.Name}}'])
    expect(networks.stdout.trim()).toBe('ci-net')
    expect((await chain.docker('ci', ['network', 'inspect', 'other-net'])).stderr).toMatch(/not found|No such network/)
    expect((await chain.docker('ci', ['network', 'connect', 'ci-net', 'other-box'])).stderr).toContain('No such container: other-box')
    await chain.docker('other', ['volume', 'create', 'other-vol'])
    await chain.docker('ci', ['volume', 'create', 'ci-vol'])
    expect((await chain.docker('ci', ['volume', 'ls', '--format', '{{.Name}}'])).stdout.trim()).toBe('ci-vol')
    expect((await chain.docker('ci', ['volume', 'rm', 'other-vol'])).stderr).toMatch(/no such volume/)
    expect((await chain.docker('ci', ['run', '--rm', '-v', 'other-vol:/v', 'busybox', 'true'])).stderr).toContain('policy: volume other-vol belongs to another client')

    const since = Math.floor(Date.now() / 1000) - 1
    await chain.docker('other', ['restart', '-t', '0', 'other-box'])
    await chain.docker('ci', ['restart', '-t', '0', 'ci-box'])
    const until = Math.floor(Date.now() / 1000) + 1
    const events = await chain.docker('ci', ['events', '--since', String(since), '--until', String(until), '--format', '{{.Actor.Attributes.name}}'])
    expect(events.stdout).toContain('ci-box')
    expect(events.stdout).not.toContain('other-box')
  })

  it('docker build --network host is refused, a plain build passes', async () => {
    const context = join(chain.dir, 'build')
    await mkdir(context, { recursive: true })
    await writeFile(join(context, 'Dockerfile'), 'FROM busybox\nRUN echo built > /built\n')
    const host = await chain.docker('ci', ['build', '--network', 'host', '-t', 'ci-host', context], { env: { DOCKER_BUILDKIT: '0' } })
    expect(host.stderr).toContain(denied('ci-jobs', 'builds with --network host'))
    // BuildKit (CLI 20.10): the network mode travels in the same ImageBuild query
    const buildkit = await chain.docker('ci', ['build', '--network', 'host', '--progress', 'plain', '-t', 'ci-host', context], { cli: CLI_20, env: { DOCKER_BUILDKIT: '1' } })
    expect(buildkit.stderr).toContain(denied('ci-jobs', 'builds with --network host'))
    expect(buildkit.code).not.toBe(0)
    const plain = await chain.docker('ci', ['build', '-t', 'ci-plain', context], { env: { DOCKER_BUILDKIT: '0' } })
    expect(plain.code, plain.stderr).toBe(0)
  })

  it('docker plugin install is refused without reaching the network', async () => {
    const install = await chain.docker('ci', ['plugin', 'install', '--grant-all-permissions', 'vieux/sshfs'])
    expect(install.stderr).toMatch(/policy: "default" denies (GetPluginPrivileges|PluginPull)/)
  })

  it('the audit has one JSON line per decision, with the rule and the rewrites', async () => {
    const lines = (await readFile(auditFile, 'utf8')).trim().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>)
    expect(lines.length).toBeGreaterThan(20)
    expect(lines).toContainEqual(expect.objectContaining({ client: 'ci', caller: { listener: 'ci' }, operation: 'ContainerCreate', decision: 'deny', rule: 'ci-jobs', reason: 'privileged containers' }))
    expect(lines).toContainEqual(expect.objectContaining({
      client: 'ci', operation: 'ContainerCreate', decision: 'allow', rule: 'ci-jobs', rewrites: expect.arrayContaining(['label com.libswarm.policy.owner=ci', 'no-new-privileges'])
    }))
    expect(lines).toContainEqual(expect.objectContaining({ client: 'ci', operation: 'ContainerRename', target: 'other-box', decision: 'deny', reason: 'not found or not owned: No such container: other-box' }))
    for (const line of lines) expect(typeof line.time === 'string' && !Number.isNaN(Date.parse(line.time))).toBe(true)
  })
})
