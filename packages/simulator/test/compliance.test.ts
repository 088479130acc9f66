import { complianceTests } from '@libswarm/core/compliance'
import { encodeDockerRequest } from '@libswarm/docker-api'
import { describe, it } from 'vitest'
import { simulator } from '../src/index.js'

/** An answer that never ends by itself: the event feed. */
const streams = [
  encodeDockerRequest({ operation: 'SystemEvents', target: '' })
].map(({ verb, args }) => ({ verb, args: [...args] }))

describe('simulator compliance', () => {
  for (const test of complianceTests({ service: simulator, args: ['--name', 'compliance', '--cpus', '2'], streams })) it(test.name, test.run)
})
