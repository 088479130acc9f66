import { afterAll, beforeAll, describe, it } from 'vitest'
import { complianceTests } from '@libswarm/core/compliance'
import { encodeDockerRequest } from '@libswarm/docker-api'
import { dockerclient } from '../src/index.js'
import { FakeEngine } from './fake-engine.js'

let engine: FakeEngine

beforeAll(async () => {
  engine = await FakeEngine.start()
  // a ping for the startup check; a followed log and the event feed print once, then nothing for as long as they are held
  engine.handler = (req, res) => {
    if (req.url?.includes('/_ping') === true) { res.writeHead(200).end('OK'); return }
    res.writeHead(200, { 'Content-Type': 'application/json' })
    res.write('{"status":"start"}\n')
  }
})

afterAll(async () => { await engine.close() })

/** The Docker requests whose answer never ends by itself. */
const streams = [
  encodeDockerRequest({ operation: 'SystemEvents', target: '' }),
  encodeDockerRequest({ operation: 'ContainerLogs', target: 'abc', query: { follow: '1', stdout: '1' } })
].map(({ verb, args }) => ({ verb, args: [...args] }))

describe('dockerclient compliance (a fake engine)', () => {
  // the engine address is read when the test runs, once the fake engine is there
  for (const test of complianceTests({ service: { ...dockerclient, spawn: async (args, context) => await dockerclient.spawn([engine.address, ...args], context) }, streams })) {
    it(test.name, test.run)
  }
})
