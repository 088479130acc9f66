import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ErrorCode, SwarmError, createServer, message } from '@libswarm/core'
import { complianceTests } from '@libswarm/core/compliance'
import { createServe } from '@libswarm/serve'
import { afterAll, describe, it } from 'vitest'
import { remote } from '../src/index.js'

const dir = mkdtempSync(join(tmpdir(), 'remote-compliance-'))
// The far side: a serve whose chain answers Ls and refuses the rest, as the end of a chain does.
const far = await createServe(createServer({
  Ls: () => message('Ack', ['far']),
  default: () => { throw new SwarmError(ErrorCode.NotImplemented, 'end of the far chain') }
}), { address: `unix://${join(dir, 'far.sock')}` })
afterAll(async () => {
  await far.close()
  rmSync(dir, { recursive: true, force: true })
})

describe('remote compliance', () => {
  for (const test of complianceTests({ service: remote, args: [far.address] })) it(test.name, test.run)
})
