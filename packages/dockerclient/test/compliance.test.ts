import { complianceTests } from '@libswarm/core/compliance'
import { afterAll, describe, it } from 'vitest'
import { dockerclient } from '../src/index.js'
import { FakeEngine } from './fake-engine.js'

// An engine that answers /_ping (spawn pings it) and 404 to the rest, as dockerd does to a path it does not know.
const engine = await FakeEngine.start()
engine.handler = (req, res) => {
  if (req.url === '/_ping') res.writeHead(200, { 'Content-Type': 'text/plain' }).end('OK')
  else res.writeHead(404, { 'Content-Type': 'application/json' }).end('{"message":"page not found"}')
}
afterAll(async () => { await engine.close() })

describe('dockerclient compliance', () => {
  for (const test of complianceTests({ service: dockerclient, args: [engine.address] })) it(test.name, test.run)
})
