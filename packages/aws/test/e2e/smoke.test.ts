import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { request, silentLogger, jsonLogger } from '@libswarm/core'
import { decodeDockerReply } from '@libswarm/docker-api'
import { canRunTests } from '@libswarm/test-engine'
import { describe, expect, it } from 'vitest'
import { createAws, parseAwsArgs } from '../../src/index.js'
import { useStandInCredentials } from '../aws-env.js'
import { startEc2StandIn } from '../ec2-stand-in.js'

describe.runIf(canRunTests(['engine']))('smoke', () => {
  it('one host', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'lsw-aws-'))
    await useStandInCredentials(join(dir, 'aws'))
    await using standIn = await startEc2StandIn({ busybox: false })
    const service = await createAws(parseAwsArgs(['--endpoint', standIn.endpoint, '--region', 'us-east-1', '--ami-name', 'ubuntu/images/*24.04*', '--state-dir', join(dir, 'state'), '--poll-interval', '200ms', '--boot-timeout', '60s', '--check-interval', '0']), { log: jsonLogger ? silentLogger : silentLogger })
    try {
      const reply = decodeDockerReply(await request(service, 'Get', ['SystemInfo', '', '{}']))
      console.log(standIn.calls)
      expect(JSON.parse(reply.body ?? '{}').Name).toBe([...standIn.instances.keys()][0])
    } finally {
      await service.close()
    }
    await rm(dir, { recursive: true, force: true })
  })
})
