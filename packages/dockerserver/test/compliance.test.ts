import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { complianceTests } from '@libswarm/core/compliance'
import { afterAll, describe, it } from 'vitest'
import { dockerserver } from '../src/index.js'

const dir = mkdtempSync(join(tmpdir(), 'dockerserver-compliance-'))
afterAll(() => { rmSync(dir, { recursive: true, force: true }) })

// Each test spawns and closes its own instance on the same socket: close must free it.
describe('dockerserver compliance', () => {
  for (const test of complianceTests({ service: dockerserver, args: [`unix://${join(dir, 'docker.sock')}`] })) {
    it(test.name, test.run)
  }
})
