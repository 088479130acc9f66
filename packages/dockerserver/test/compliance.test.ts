import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { complianceTests } from '@libswarm/core/compliance'
import { afterAll, describe, it } from 'vitest'
import { dockerserver } from '../src/index.js'

const dir = mkdtempSync(join(tmpdir(), 'dockerserver-compliance-'))
afterAll(() => { rmSync(dir, { recursive: true, force: true }) })

// Known gap, expected to fail until src/service.ts is fixed (then drop it from here): after
// close(), a message sent to the instance is still forwarded to next instead of being refused.
const KNOWN_FAILURES = new Set(['rejects or answers an Error to a send after close'])

// Each test spawns and closes its own instance on the same socket: close must free it.
describe('dockerserver compliance', () => {
  for (const test of complianceTests({ service: dockerserver, args: [`unix://${join(dir, 'docker.sock')}`] })) {
    if (KNOWN_FAILURES.has(test.name)) it.fails(test.name, test.run)
    else it(test.name, test.run)
  }
})
