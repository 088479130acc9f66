import { complianceTests } from '@libswarm/core/compliance'
import { describe, it } from 'vitest'
import { simulator } from '../src/index.js'

describe('simulator compliance', () => {
  for (const test of complianceTests({ service: simulator, args: ['--name', 'compliance', '--cpus', '2'] })) it(test.name, test.run)
})
