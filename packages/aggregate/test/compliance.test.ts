import { complianceTests } from '@libswarm/core/compliance'
import { simulator } from '@libswarm/simulator'
import { parseServiceSpec } from '@libswarm/core'
import { describe, it } from 'vitest'
import { aggregate } from '../src/index.js'

describe('aggregate compliance', () => {
  const tests = complianceTests({
    service: aggregate,
    args: ['simulator --name node-0', 'simulator --name node-1'],
    spawn: async (spec) => {
      const link = parseServiceSpec(spec)
      return await simulator.spawn(link.args, undefined as never)
    }
  })
  for (const test of tests) it(test.name, test.run)
})
