import { complianceTests } from '@libswarm/core/compliance'
import { afterAll, beforeAll, describe, it } from 'vitest'
import { mesos } from '../src/index.js'
import { StandInMaster } from './support/stand-in-master.js'

const master = new StandInMaster([])

describe('mesos compliance', () => {
  beforeAll(async () => { await master.start() })
  afterAll(async () => { await master.close() })
  // the arguments are read when the tests run, after the master listens
  const args: string[] = []
  beforeAll(() => { args.push('--master', master.url) })
  for (const test of complianceTests({ service: mesos, args, spawn: async () => { throw new Error('no children in this test') } })) it(test.name, test.run)
})
