import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { CreateTagsCommand, EC2Client, RunInstancesCommand } from '@aws-sdk/client-ec2'
import { jsonLogger, pipe, request, type Message, type ServiceInstance } from '@libswarm/core'
import { decodeDockerReply } from '@libswarm/docker-api'
import { canRunTests, freePort, generateSshKey, rejectionOf } from '@libswarm/test-engine'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createAws, parseAwsArgs } from '../../src/index.js'
import { useStandInCredentials } from '../aws-env.js'
import { STAND_IN_KEY, startEc2StandIn, type Ec2StandIn } from '../ec2-stand-in.js'

let dir = ''
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'lsw-aws-hosts-'))
  await useStandInCredentials(join(dir, 'aws'))
})
afterAll(async () => { await rm(dir, { recursive: true, force: true }) })

function args (standIn: Ec2StandIn, ...extra: string[]): string[] {
  return ['--endpoint', standIn.endpoint, '--region', 'us-east-1', '--ami-name', 'ubuntu/images/*24.04*', '--state-dir', join(dir, 'state'),
    '--poll-interval', '100ms', '--boot-timeout', '60s', '--check-interval', '0', ...extra]
}

async function engineName (service: ServiceInstance): Promise<string> {
  return JSON.parse(decodeDockerReply(await request(service, 'Get', ['SystemInfo', '', '{}'])).body ?? '{}').Name
}

async function until (check: () => boolean, ms: number): Promise<void> {
  const deadline = Date.now() + ms
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not met in time')
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
}

describe.runIf(canRunTests(['engine']))('aws hosts are real engines over mutual TLS', () => {
  it('alone with one host forwards to its engine; a restart finds it again; --terminate-on-stop terminates only what it launched', async () => {
    await using standIn = await startEc2StandIn({ busybox: false })
    // throttling: the SDK retries RequestLimitExceeded with backoff
    standIn.faults.throttle.set('DescribeInstances', 2)
    const first = await createAws(parseAwsArgs(args(standIn, '--swarm', 'one', '--tag', 'team=blue')))
    const [instance] = [...standIn.instances.values()]
    try {
      expect(standIn.calls.filter((call) => call.action === 'DescribeInstances').slice(0, 3).map((call) => call.code ?? call.status)).toEqual(['RequestLimitExceeded', 'RequestLimitExceeded', 200])
      expect(await engineName(first)).toBe(instance?.id)
      expect(instance?.tags.get('team')).toBe('blue')
      expect(instance?.tags.get('libswarm:swarm')).toBe('one')
      expect((await request(first, 'Ls')).args).toEqual([instance?.id])
      const attached = await request(first, 'Attach', [instance?.id ?? ''])
      expect(attached.args).toEqual([instance?.id, instance?.ip])
      const ping = decodeDockerReply(await request(attached.ret as never, 'Get', ['SystemPing', '', '{}']))
      expect(ping.body).toBe('OK')
      await expect(request(first, 'Attach', ['i-nope'])).rejects.toMatchObject({ code: 'NOT_FOUND' })
    } finally {
      await first.close()
    }
    expect(standIn.alive().length).toBe(1)

    // someone else's instance, tagged for the swarm by hand (CreateTags): found, never terminated
    const client = new EC2Client({ endpoint: standIn.endpoint, region: 'us-east-1', credentials: STAND_IN_KEY })
    const foreign = (await client.send(new RunInstancesCommand({ ImageId: 'ami-0bbbbbbbbbbbbbbb1', InstanceType: 't3.micro', MinCount: 1, MaxCount: 1 }))).Instances?.[0]?.InstanceId as string
    await client.send(new CreateTagsCommand({ Resources: [foreign], Tags: [{ Key: 'libswarm:swarm', Value: 'one' }] }))
    client.destroy()

    const launches = standIn.calls.filter((call) => call.action === 'RunInstances').length
    const second = await createAws(parseAwsArgs(args(standIn, '--swarm', 'one', '--terminate-on-stop')))
    try {
      expect(standIn.calls.filter((call) => call.action === 'RunInstances').length).toBe(launches)
      expect(await engineName(second)).toBe(instance?.id)
    } finally {
      await second.close()
    }
    await standIn.settled()
    expect(instance?.state).toBe('terminated')
    expect(standIn.alive().map((alive) => alive.id)).toEqual([foreign])
  })

  it('replaces a host that fails to boot, and one that stops answering, telling Watch', async () => {
    await using standIn = await startEc2StandIn({ busybox: false })
    standIn.faults.boots.push('terminate')
    const service = await createAws(parseAwsArgs(args(standIn, '--swarm', 'two', '--max-hosts', '3', '--check-interval', '300ms', '--check-retries', '2', '--terminate-on-stop')), { log: process.env.AWS_TEST_LOG === undefined ? undefined : jsonLogger() })
    const changes: string[] = []
    const [replies, ret] = pipe()
    try {
      expect(standIn.calls.filter((call) => call.action === 'RunInstances').length).toBe(2)
      const [, second] = [...standIn.instances.values()]
      await standIn.settled()
      expect(standIn.alive().map((alive) => alive.id)).toEqual([second?.id])
      await service.send({ verb: 'Watch', args: [], ret })
      const follow = (async () => { for await (const reply of replies as AsyncIterable<Message>) changes.push(`${reply.args[0] ?? ''} ${reply.args[1] ?? ''}`.trim()) })()
      await until(() => changes.length === 2, 5000)
      expect(changes).toEqual([`added ${second?.id ?? ''}`, 'synced'])
      await second?.engine?.kill()
      await until(() => changes.length === 4, 40_000)
      const third = [...standIn.instances.values()][2]
      expect(changes).toEqual([`added ${second?.id ?? ''}`, 'synced', `removed ${second?.id ?? ''}`, `added ${third?.id ?? ''}`])
      expect(await engineName(service)).toBe(third?.id)
      await standIn.settled()
      expect(standIn.alive().map((alive) => alive.id)).toEqual([third?.id])
      await replies.close()
      await follow.catch(() => {})
    } finally {
      await service.close()
    }
    await standIn.settled()
    expect(standIn.alive()).toEqual([])
  })
})

describe.runIf(canRunTests(['engine', 'sshd']))('aws hosts reached over ssh (--ssh-user)', () => {
  it('reaches each host as ssh://USER@ADDRESS with the host key it made, opens no engine port, and refuses a host whose key changed', async () => {
    const login = await generateSshKey(join(dir, 'login-key'))
    const sshPort = await freePort()
    // the image's sshd listens on sshPort and lets in the key the user already has on it
    await using standIn = await startEc2StandIn({ busybox: false, sshPort, authorizedKeys: [login.publicKey] })
    const state = join(dir, 'state-ssh')
    const sshArgs = (...extra: string[]): string[] => args(standIn, '--state-dir', state, '--swarm', 'viassh', '--ssh-user', 'root', '--ssh-key', login.privateKeyFile, '--ssh-port', String(sshPort), ...extra)
    const first = await createAws(parseAwsArgs(sshArgs()))
    const [instance] = [...standIn.instances.values()]
    try {
      expect(await engineName(first)).toBe(instance?.id)
      const userData = Buffer.from(instance?.userData ?? '', 'base64').toString('utf8')
      expect(userData).toContain('ssh_keys:')
      expect(userData).not.toContain('tcp://')
      expect(userData).not.toContain('BEGIN CERTIFICATE')
      expect(instance?.engine?.tcpHost).toBeUndefined()
      const name = instance?.tags.get('libswarm:tls-name') ?? ''
      expect(await readFile(join(state, 'known_hosts'), 'utf8')).toContain(`${name} ${instance?.sshd?.hostPublicKey ?? 'missing'}`)
      const attached = await request(first, 'Attach', [instance?.id ?? ''])
      expect(decodeDockerReply(await request(attached.ret as never, 'Get', ['SystemPing', '', '{}'])).body).toBe('OK')
    } finally {
      await first.close()
    }

    // the host's key is no longer the one recorded for it: ssh refuses it, the start fails and says why
    const other = await generateSshKey(join(dir, 'other-host-key'))
    const known = await readFile(join(state, 'known_hosts'), 'utf8')
    await writeFile(join(state, 'known_hosts'), known.replace(instance?.sshd?.hostPublicKey.split(' ')[1] ?? 'missing', other.publicKey.split(' ')[1] ?? ''))
    const refused = await rejectionOf(createAws(parseAwsArgs(sshArgs('--on-unreachable', 'fail', '--boot-timeout', '4s'))))
    expect(refused.code).toBe('TIMEOUT')
    expect(refused.message).toMatch(/did not answer over ssh within \d+ s \(last: .*(REMOTE HOST IDENTIFICATION HAS CHANGED|Host key verification failed)/)
    expect(standIn.alive().map((alive) => alive.id)).toEqual([instance?.id])
  })
})
