import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { complianceTests } from '@libswarm/core/compliance'
import { afterAll, beforeAll, describe, it } from 'vitest'
import { openStateDirectory } from '@libswarm/provision'
import { aws } from '../src/index.js'
import { useStandInCredentials } from './aws-env.js'
import { startEc2StandIn, type Ec2StandIn } from './ec2-stand-in.js'

// --dry-run: the service runs against the stand-in without launching (no engine needed)
const args: string[] = []
let dir = ''
let standIn: Ec2StandIn
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'lsw-aws-compliance-'))
  await useStandInCredentials(join(dir, 'aws'))
  standIn = await startEc2StandIn()
  // the CA and client keys are made once, here, not within a compliance test's timeout
  await openStateDirectory(join(dir, 'state'))
  args.push('--endpoint', standIn.endpoint, '--region', 'us-east-1', '--ami-name', 'ubuntu/images/*24.04*', '--state-dir', join(dir, 'state'), '--dry-run', '--check-interval', '0')
})
afterAll(async () => {
  await standIn?.close()
  await rm(dir, { recursive: true, force: true })
})

describe('aws compliance', () => {
  for (const test of complianceTests({ service: aws, args, streams: [{ verb: 'Watch' }], timeout: 20_000 })) it(test.name, test.run)
})
