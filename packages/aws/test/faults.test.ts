import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { existsSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { CreateTagsCommand, EC2Client } from '@aws-sdk/client-ec2'
import { isSwarmError, request } from '@libswarm/core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createAws, parseAwsArgs } from '../src/index.js'
import { useStandInCredentials } from './aws-env.js'
import { STAND_IN_KEY, startEc2StandIn, type Ec2StandIn } from './ec2-stand-in.js'

// Faults that end a start before any engine runs: no private dockerd is needed here.
let dir = ''
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'lsw-aws-faults-'))
  await useStandInCredentials(join(dir, 'aws'))
})
afterAll(async () => { await rm(dir, { recursive: true, force: true }) })

// one state directory for every test: its CA is made once
function args (standIn: Ec2StandIn, ...extra: string[]): string[] {
  return ['--endpoint', standIn.endpoint, '--region', 'us-east-1', '--ami-name', 'ubuntu/images/*24.04*', '--state-dir', join(dir, 'state'),
    '--poll-interval', '100ms', '--boot-timeout', '30s', '--check-interval', '0', ...extra]
}

async function startFailure (standIn: Ec2StandIn, ...extra: string[]): Promise<{ code: string, message: string }> {
  const started = Date.now()
  try {
    const service = await createAws(parseAwsArgs(args(standIn, ...extra)))
    await service.close()
  } catch (error) {
    if (!isSwarmError(error)) throw error
    expect(Date.now() - started).toBeLessThan(25_000)
    return { code: error.code, message: error.message }
  }
  throw new Error('the start was expected to fail')
}

describe('aws faults at start: a clear error, no hang, nothing left running', () => {
  it('refuses bad credentials: a wrong secret, an unknown key, none at all', async () => {
    await using standIn = await startEc2StandIn()
    const wrong = await startFailure(standIn, '--profile', 'wrong-secret')
    expect(wrong).toMatchObject({ code: 'UNAUTHORIZED' })
    expect(wrong.message).toMatch(/AuthFailure: AWS was not able to validate the provided access credentials/)
    expect((await startFailure(standIn, '--profile', 'unknown-key')).code).toBe('UNAUTHORIZED')
    const saved = process.env.AWS_SHARED_CREDENTIALS_FILE
    process.env.AWS_SHARED_CREDENTIALS_FILE = join(dir, 'no-such-file')
    try {
      const none = await startFailure(standIn)
      expect(none.code).toBe('UNAUTHORIZED')
      expect(none.message).toMatch(/no AWS credentials found/)
    } finally {
      process.env.AWS_SHARED_CREDENTIALS_FILE = saved
    }
    // the two signed starts were refused on every call (DescribeInstances, and DescribeImages made alongside)
    expect(standIn.calls.length).toBeGreaterThanOrEqual(2)
    expect(standIn.calls.every((call) => call.code === 'AuthFailure')).toBe(true)
    expect(standIn.instances.size).toBe(0)
  })

  it('refuses an unknown region, image, image pattern and instance type', async () => {
    await using standIn = await startEc2StandIn()
    const region = await startFailure(standIn, '--region', 'xx-nowhere-1')
    expect(region.message).toMatch(/valid region, not 'xx-nowhere-1'/)
    const ami = await startFailure(standIn, '--ami', 'ami-0123456789abcdef0')
    expect(ami).toMatchObject({ code: 'INVALID_ARGUMENTS' })
    expect(ami.message).toMatch(/InvalidAMIID.NotFound/)
    const pattern = await startFailure(standIn, '--ami-name', 'windows-*')
    expect(pattern).toMatchObject({ code: 'INVALID_ARGUMENTS', message: 'aws: no available image matches --ami-name "windows-*"' })
    const type = await startFailure(standIn, '--instance-type', 'z9.huge', '--count', '2')
    expect(type).toMatchObject({ code: 'INVALID_ARGUMENTS' })
    expect(type.message).toMatch(/Invalid value 'z9.huge' for InstanceType/)
    expect(standIn.instances.size).toBe(0)
  })

  it('on a capacity error, terminates the hosts it launched', async () => {
    await using standIn = await startEc2StandIn({ capacity: 2, bootDelayMs: 60_000 })
    const failure = await startFailure(standIn, '--count', '3')
    expect(failure.code).toBe('UNAVAILABLE')
    expect(failure.message).toMatch(/InsufficientInstanceCapacity/)
    await standIn.settled()
    expect(standIn.instances.size).toBe(2)
    expect(standIn.alive()).toEqual([])
    expect([...standIn.instances.values()].map((instance) => instance.state)).toEqual(['terminated', 'terminated'])
  })

  it('with --on-unreachable fail, a host that fails to boot fails the start and is terminated', async () => {
    await using standIn = await startEc2StandIn()
    standIn.faults.boots.push('terminate')
    const failure = await startFailure(standIn, '--on-unreachable', 'fail', '--count', '1')
    expect(failure.code).toBe('UNAVAILABLE')
    expect(failure.message).toMatch(/did not start: it went (shutting-down|terminated) \(Server.InternalError/)
    await standIn.settled()
    expect(standIn.alive()).toEqual([])
  })

  it('with --on-unreachable fail, a (spot) host whose engine never answers fails the start and is terminated', async () => {
    await using standIn = await startEc2StandIn()
    standIn.faults.boots.push('no-engine')
    const failure = await startFailure(standIn, '--on-unreachable', 'fail', '--boot-timeout', '2s', '--spot')
    expect(failure.code).toBe('TIMEOUT')
    // --spot asked EC2 for a spot instance (InstanceMarketOptions.MarketType)
    expect([...standIn.instances.values()].map((instance) => instance.spot)).toEqual([true])
    expect(failure.message).toMatch(/its engine did not answer over TLS within \d s \(last: cannot reach engine at tcp:\/\/127\.\d+\.0\.1:2376: ECONNREFUSED\)/)
    await standIn.settled()
    expect(standIn.alive()).toEqual([])
  })

  it('a waiter that times out fails the start with TIMEOUT and terminates the host', async () => {
    await using standIn = await startEc2StandIn()
    standIn.faults.boots.push('stay-pending')
    const failure = await startFailure(standIn, '--on-unreachable', 'fail', '--boot-timeout', '2s')
    expect(failure.code).toBe('TIMEOUT')
    expect(failure.message).toMatch(/was not running after 2 s \(waiter instance-running\)/)
    await standIn.settled()
    expect(standIn.alive()).toEqual([])
    expect(standIn.instances.size).toBe(1)
  })

  it('replacing hosts that fail to boot stops at --max-hosts, and the start leaves none running', async () => {
    await using standIn = await startEc2StandIn()
    standIn.faults.boots.push('terminate', 'terminate', 'terminate')
    const failure = await startFailure(standIn, '--count', '1', '--max-hosts', '2')
    expect(failure.code).toBe('UNAVAILABLE')
    expect(standIn.calls.filter((call) => call.action === 'RunInstances').length).toBe(2)
    await standIn.settled()
    expect(standIn.alive()).toEqual([])
  })

  it('--max-hosts below what --count misses launches nothing', async () => {
    await using standIn = await startEc2StandIn()
    const failure = await startFailure(standIn, '--count', '3', '--max-hosts', '2')
    expect(failure).toMatchObject({ code: 'LIMIT_EXCEEDED' })
    expect(standIn.calls.some((call) => call.action === 'RunInstances')).toBe(false)
  })

  it('--dry-run asks EC2 with DryRun, launches nothing and says what it would launch', async () => {
    await using standIn = await startEc2StandIn()
    const service = await createAws(parseAwsArgs(args(standIn, '--dry-run', '--count', '2', '--instance-type', 't3.medium')))
    try {
      const plan = JSON.parse((await request(service, 'Get', ['provision'])).args[0] ?? '{}')
      expect(plan.plan).toEqual({ existing: [], launch: 2, description: 't3.medium, latest image named ubuntu/images/*24.04*' })
      expect(standIn.calls.filter((call) => call.action === 'RunInstances').map(({ status, code }) => ({ status, code }))).toEqual([{ status: 412, code: 'DryRunOperation' }])
      expect(standIn.instances.size).toBe(0)
      await expect(request(service, 'Get', ['SystemInfo', '', '{}'])).rejects.toMatchObject({ code: 'UNAVAILABLE' })
    } finally {
      await service.close()
    }
  })

  it('--dry-run with --ssh-user makes no host key and launches nothing', async () => {
    await using standIn = await startEc2StandIn()
    const state = join(await mkdtemp(join(tmpdir(), 'lsw-aws-dry-ssh-')), 'state')
    const service = await createAws(parseAwsArgs(args(standIn, '--dry-run', '--ssh-user', 'ubuntu', '--state-dir', state)))
    try {
      expect(standIn.calls.filter((call) => call.action === 'RunInstances').map(({ code }) => code)).toEqual(['DryRunOperation'])
      expect(existsSync(join(state, 'known_hosts'))).toBe(false)
    } finally {
      await service.close()
      await rm(dirname(state), { recursive: true, force: true })
    }
  })

  it('a dry run that EC2 would refuse fails', async () => {
    await using standIn = await startEc2StandIn()
    expect((await startFailure(standIn, '--dry-run', '--instance-type', 'z9.huge')).code).toBe('INVALID_ARGUMENTS')
  })

  it('the stand-in answers CreateTags as EC2 does (the SDK, signed)', async () => {
    await using standIn = await startEc2StandIn()
    const client = new EC2Client({ endpoint: standIn.endpoint, region: 'us-east-1', credentials: STAND_IN_KEY })
    try {
      await expect(client.send(new CreateTagsCommand({ Resources: ['i-0000000000000000'], Tags: [{ Key: 'a', Value: 'b' }] }))).rejects.toMatchObject({ name: 'InvalidID' })
    } finally {
      client.destroy()
    }
  })
})
