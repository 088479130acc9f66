import net from 'node:net'
import v8 from 'node:v8'
import vm from 'node:vm'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { jsonLogger } from '@libswarm/core'
import { DOCKER_OPERATIONS, operationUrl } from '@libswarm/docker-api'
import { createFakeBackend } from './fake-backend.js'
import { httpRequest, startHarness, type Harness } from './harness.js'

/*
 * Property-based fuzzing of the HTTP front (issue 9, "kept from now on"): generated requests
 * (paths from the route table, mutated; random queries, headers and framing; JSON bodies of
 * every Docker type, wrongly typed, deeply nested, huge) to dockerserver in front of the
 * fake backend (the simulator's own tests depend on dockerserver, so it cannot be used here).
 * Every answer is an HTTP answer, Docker-shaped JSON when it is an error, or a clean close;
 * the server never crashes, nothing rejects unhandled, memory stays bounded.
 * A failure prints fast-check's seed and path: replay with `fc.assert(..., { seed, path })`.
 */

const SEED = Number(process.env.FUZZ_SEED ?? 20261203)
/** Runs of ten requests each, sent at once. */
const RUNS = Number(process.env.FUZZ_RUNS ?? 50)
const LIMITS = { headersTimeoutMs: 200, bodyTimeoutMs: 200, keepAliveTimeoutMs: 200, maxBodySize: 256 * 1024 }

let harness: Harness
const logged: string[] = []
const unhandled: unknown[] = []
const onUnhandled = (reason: unknown): void => { unhandled.push(reason) }

beforeAll(async () => {
  process.on('unhandledRejection', onUnhandled)
  harness = await startHarness({ ...LIMITS, next: createFakeBackend().sender, log: jsonLogger({ level: 'warn', write: (line) => { logged.push(line) } }) })
})
afterAll(async () => {
  await harness?.close()
  process.off('unhandledRejection', onUnhandled)
})

const specs = [...DOCKER_OPERATIONS.values()]

/** Any JSON value, Docker's own types among them. */
const jsonValue: fc.Arbitrary<unknown> = fc.oneof(
  fc.string(), fc.integer(), fc.double({ noNaN: true, noDefaultInfinity: true }), fc.boolean(), fc.constant(null),
  fc.array(fc.string(), { maxLength: 4 }), fc.dictionary(fc.string({ maxLength: 8 }), fc.string(), { maxKeys: 4 }),
  fc.jsonValue({ maxDepth: 3 })
)

/** Fields dockerd reads, each with any JSON value: right types, wrong types, nulls. */
const DOCKER_FIELDS = ['Image', 'Cmd', 'Entrypoint', 'Env', 'Labels', 'Tty', 'OpenStdin', 'ExposedPorts', 'Volumes', 'WorkingDir', 'User',
  'Healthcheck', 'Name', 'Driver', 'DriverOpts', 'IPAM', 'Container', 'EndpointConfig', 'Detach', 'AttachStdin', 'AttachStdout', 'Privileged']
const HOST_CONFIG_FIELDS = ['Binds', 'PortBindings', 'Memory', 'NanoCpus', 'RestartPolicy', 'Mounts', 'NetworkMode', 'LogConfig', 'Devices', 'Ulimits']

const dockerBody = fc.record({
  fields: fc.dictionary(fc.constantFrom(...DOCKER_FIELDS), jsonValue, { maxKeys: 6 }),
  hostConfig: fc.option(fc.dictionary(fc.constantFrom(...HOST_CONFIG_FIELDS), jsonValue, { maxKeys: 4 }), { nil: undefined })
}).map(({ fields, hostConfig }) => JSON.stringify(hostConfig === undefined ? fields : { ...fields, HostConfig: hostConfig }))

const body: fc.Arbitrary<string> = fc.oneof(
  { weight: 4, arbitrary: dockerBody },
  { weight: 2, arbitrary: fc.json({ maxDepth: 4 }) },
  { weight: 1, arbitrary: fc.constantFrom('', '{}', 'null', '[1,2]', '{"Image":', '\u0000\u0001binary', '{"a":1} trailing') },
  { weight: 1, arbitrary: fc.integer({ min: 100, max: 30_000 }).map((depth) => '{"Image":"busybox","Labels":' + '{"a":'.repeat(depth) + '1' + '}'.repeat(depth) + '}') },
  { weight: 1, arbitrary: fc.integer({ min: 100, max: 30_000 }).map((depth) => '['.repeat(depth) + ']'.repeat(depth)) },
  { weight: 1, arbitrary: fc.integer({ min: 10_000, max: 400_000 }).map((size) => JSON.stringify({ Image: 'busybox', Env: ['A=' + 'x'.repeat(size)] })) }
)

const TARGETS = ['abc', 'nosuch', 'localhost:5000/a/b:tag', '%zz', '..', 'a%2Fb', '', 'x'.repeat(300), '\u00e9t\u00e9', '{id}', 'busybox']
const target = fc.oneof(fc.constantFrom(...TARGETS), fc.string({ maxLength: 20 }).map(encodeURIComponent))
const version = fc.oneof({ weight: 8, arbitrary: fc.constantFrom('', '/v1.41', '/v1.24', '/v1.12') }, { weight: 1, arbitrary: fc.constantFrom('/v1.11', '/v9.99', '/v1', '/v1..2') })

const path = fc.record({
  spec: fc.constantFrom(...specs),
  target,
  version,
  mutation: fc.oneof(
    { weight: 6, arbitrary: fc.constant('') },
    { weight: 1, arbitrary: fc.constantFrom('/', '//', '/extra', '/..', '%', '?', '#frag') },
    { weight: 1, arbitrary: fc.string({ maxLength: 10 }).map(encodeURI) }
  )
}).map(({ spec, target, version, mutation }) => ({ spec, path: version + operationUrl(spec, 'T').replace('T', target) + mutation }))

const QUERY_KEYS = ['all', 'filters', 'follow', 'stream', 'stdin', 'stdout', 'logs', 'name', 'force', 'since', 'until', 'tail', 'limit', 'size', 'path', 'fromImage', 'tag', 'ro', 'w', 'h']
const queryValue = fc.oneof(
  fc.constantFrom('1', '0', 'true', 'false', '', '%zz', '{"status":["running"]}', '{"label":{"a=b":true}}', '{"name":["x"]}', '-1', '99999999999999999999'),
  fc.string({ maxLength: 20 }),
  fc.jsonValue({ maxDepth: 2 }).map((value) => JSON.stringify(value))
)
const query = fc.array(fc.tuple(fc.oneof(fc.constantFrom(...QUERY_KEYS), fc.string({ maxLength: 6 })), queryValue), { maxLength: 4 })
  .map((pairs) => pairs.length === 0 ? '' : '?' + pairs.map(([key, value]) => `${encodeURIComponent(key)}=${encodeURIComponent(value)}`).join('&'))

const headerToken = fc.stringMatching(/^[A-Za-z][A-Za-z0-9-]{0,15}$/)
const headers = fc.record({
  contentType: fc.oneof(
    { weight: 6, arbitrary: fc.constant('application/json') },
    { weight: 2, arbitrary: fc.constantFrom(undefined, 'application/json; charset=utf-8', 'APPLICATION/JSON') },
    { weight: 1, arbitrary: fc.constantFrom('text/plain', 'application/x-tar', '', 'application/json;;;') }
  ),
  upgrade: fc.oneof({ weight: 4, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: fc.constantFrom('tcp', 'h2c', 'websocket', '') }),
  auth: fc.option(fc.base64String({ maxLength: 60 }), { nil: undefined }),
  extra: fc.array(fc.tuple(headerToken, fc.stringMatching(/^[ -~]{0,40}$/)), { maxLength: 3 })
})

const framing = fc.oneof({ weight: 12, arbitrary: fc.constantFrom('exact', 'chunked', 'none') }, { weight: 1, arbitrary: fc.constantFrom('over', 'under', 'trailing') })

const request = fc.record({
  method: fc.oneof({ weight: 6, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'HEAD', 'OPTIONS', 'PATCH') }),
  path,
  query,
  headers,
  body,
  framing
}).map((generated) => {
  const method = generated.method ?? generated.path.spec.method
  const lines = [`${method} ${generated.path.path}${generated.query} HTTP/1.1`, 'Host: docker']
  const h = generated.headers
  if (h.contentType !== undefined) lines.push(`Content-Type: ${h.contentType}`)
  if (h.upgrade !== undefined) lines.push('Connection: Upgrade', `Upgrade: ${h.upgrade}`)
  if (h.auth !== undefined) lines.push(`X-Registry-Auth: ${h.auth}`)
  for (const [name, value] of h.extra) lines.push(`${name}: ${value}`)
  const content = Buffer.from(generated.body)
  let payload: Buffer = content
  switch (generated.framing) {
    case 'chunked':
      lines.push('Transfer-Encoding: chunked')
      payload = Buffer.concat([Buffer.from(`${content.length.toString(16)}\r\n`), content, Buffer.from(content.length > 0 ? '\r\n0\r\n\r\n' : '\r\n')])
      break
    case 'none': payload = Buffer.alloc(0); break
    case 'over': lines.push(`Content-Length: ${content.length + 10}`); break
    case 'under': lines.push(`Content-Length: ${Math.max(0, content.length - 3)}`); break
    case 'trailing': lines.push(`Content-Length: ${content.length}`); payload = Buffer.concat([content, Buffer.from('trailing stdin bytes')]); break
    default: lines.push(`Content-Length: ${content.length}`)
  }
  const bytes = Buffer.concat([Buffer.from(lines.join('\r\n') + '\r\n\r\n'), payload])
  // A counterexample prints as the start of its request, not as a list of byte values.
  return { method, operation: generated.path.spec.operation, bytes, [fc.toStringMethod]: () => JSON.stringify(bytes.subarray(0, 600).toString('latin1')) }
})

interface Outcome {
  /** The first answer's status line and headers, if any came. */
  readonly head: string | undefined
  readonly body: string
  /** How the exchange ended: the server closed, the whole first answer came, or nothing came in time. */
  readonly ending: 'closed' | 'answered' | 'stalled'
  readonly ms: number
}

/** Sends one request and reads the first answer (a stream's head is enough), or the server's close. */
async function exchange (bytes: Buffer, method: string): Promise<Outcome> {
  return await new Promise((resolve) => {
    const socket = net.connect(harness.socket)
    let received = Buffer.alloc(0)
    let settled = false
    const started = Date.now()
    const finish = (ending: Outcome['ending']): void => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      socket.destroy()
      const text = received.toString('latin1')
      const end = text.indexOf('\r\n\r\n')
      resolve({ head: end < 0 ? undefined : text.slice(0, end), body: end < 0 ? '' : text.slice(end + 4), ending, ms: Date.now() - started })
    }
    const timer = setTimeout(() => finish('stalled'), 3000)
    socket.on('data', (chunk: Buffer) => {
      received = Buffer.concat([received, chunk])
      const text = received.toString('latin1')
      const end = text.indexOf('\r\n\r\n')
      if (end < 0) return
      const head = text.slice(0, end)
      const length = /\r\ncontent-length: *(\d+)/i.exec(head)?.[1]
      const status = Number(head.split(' ')[1])
      // An error is read whole; a success's head is enough (it may be a stream that never ends).
      if (status < 400 || method === 'HEAD' || (length !== undefined && text.length - end - 4 >= Number(length)) || /\r\ntransfer-encoding: chunked/i.test(head)) finish('answered')
    })
    socket.on('error', () => {})
    socket.on('close', () => finish('closed'))
    socket.write(bytes)
  })
}

const JAVASCRIPT_INTERNALS = /is not a function|Cannot read propert|is not iterable|Maximum call stack|TypeError|RangeError|ReferenceError|at [\w.]+ \(/

function checkOutcome (outcome: Outcome, method: string): void {
  if (outcome.head === undefined) {
    // No answer at all: only a clean close (node:http drops what it cannot parse once answered).
    expect(outcome.ending).toBe('closed')
    return
  }
  expect(outcome.head).toMatch(/^HTTP\/1\.1 \d{3} /)
  const status = Number(outcome.head.split(' ')[1])
  expect(outcome.head + outcome.body).not.toMatch(JAVASCRIPT_INTERNALS)
  if (status < 400 || method === 'HEAD') return
  expect(outcome.head).toMatch(/\r\ncontent-type: application\/json\r\n/i)
  const length = Number(/\r\ncontent-length: *(\d+)/i.exec(outcome.head)?.[1] ?? '-1')
  expect(length).toBeGreaterThan(0)
  const parsed = JSON.parse(outcome.body.slice(0, length)) as { message?: unknown }
  expect(typeof parsed.message).toBe('string')
}

const gc = ((): () => void => {
  v8.setFlagsFromString('--expose-gc')
  return vm.runInNewContext('gc') as () => void
})()

describe('fuzz: generated requests to dockerserver', () => {
  it(`every answer is Docker-shaped or a clean close, over ${RUNS} runs of 10 concurrent requests`, async () => {
    // Warm up (first compilation, caches), then measure the heap from there.
    await fc.assert(fc.asyncProperty(fc.array(request, { minLength: 10, maxLength: 10 }), async (requests) => {
      await Promise.all(requests.map(async ({ bytes, method }) => await exchange(bytes, method)))
    }), { seed: SEED + 1, numRuns: 3 })
    gc()
    const heapBefore = process.memoryUsage().heapUsed
    const statuses = new Map<number, number>()
    await fc.assert(fc.asyncProperty(fc.array(request, { minLength: 10, maxLength: 10 }), async (requests) => {
      const outcomes = await Promise.all(requests.map(async ({ bytes, method }) => await exchange(bytes, method)))
      for (const [index, outcome] of outcomes.entries()) {
        const status = Number(outcome.head?.split(' ')[1] ?? 0)
        statuses.set(status, (statuses.get(status) ?? 0) + 1)
        checkOutcome(outcome, requests[index]?.method ?? 'GET')
      }
    }), { seed: SEED, numRuns: RUNS })
    gc()
    const heapGrowth = process.memoryUsage().heapUsed - heapBefore
    const deadline = Date.now() + 3000
    while (harness.server.connections > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20))

    expect(unhandled).toEqual([])
    expect(logged.filter((line) => line.includes('request failed'))).toEqual([])
    expect((await httpRequest({ socket: harness.socket }, 'GET', '/_ping')).status).toBe(200)
    expect(harness.server.connections).toBeLessThanOrEqual(1)
    // Answered requests of many kinds, not only refusals.
    expect([...statuses.keys()].filter((status) => status >= 200 && status < 300).length).toBeGreaterThan(0)
    expect(statuses.size).toBeGreaterThan(5)
    // One 400 KB body is 0.4 MiB: 16 MiB bounds what a leak of bodies would grow to.
    expect(heapGrowth).toBeLessThan(16 * 1024 * 1024)
    console.log(`fuzz: ${RUNS * 10} requests, statuses ${JSON.stringify(Object.fromEntries([...statuses].sort((a, b) => a[0] - b[0])))}, heap ${(heapGrowth / 1024 / 1024).toFixed(1)} MiB after gc`)
  }, 120_000)
})
