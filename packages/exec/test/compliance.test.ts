import { fileURLToPath } from 'node:url'
import { complianceTests } from '@libswarm/core/compliance'
import { describe, it } from 'vitest'
import { exec } from '../src/index.js'

// A Node child speaking the wire on its stdio, so these run without Python (test/e2e/python.test.ts runs them with Python).
const WIRE_SERVICE = fileURLToPath(new URL('./fixtures/wire-service.mjs', import.meta.url))

describe('exec compliance (a Node child)', () => {
  for (const test of complianceTests({ service: exec, args: [process.execPath, WIRE_SERVICE], timeout: 5000 })) it(test.name, test.run)
})
