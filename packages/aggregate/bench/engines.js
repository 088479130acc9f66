// aggregate over three real engines against one engine direct, with the same HTTP client
// (node:http, keep-alive, loopback TCP) on both sides:
//   through: HTTP -> dockerserver -> aggregate -> 3 x dockerclient -> 3 private dockerd 20.10
//   direct:  HTTP -> one private dockerd 20.10
// 1. create+start throughput (busybox `sleep 3600`), CONCURRENCY requests at a time;
// 2. create throughput (created only) while filling the engines to 100 containers each;
// 3. `docker ps -a` (GET /containers/json?all=1): 300 containers through aggregate (from
//    its cache) against 100 direct on one engine, interleaved samples.
// Needs root and dockerd (packages/test-engine); removes everything it created on exit.
//
//   node bench/engines.js [--per-engine 100] [--started 30] [--concurrency 3] [--samples 60]
import { existsSync } from 'node:fs'
import { parseArgs } from 'node:util'
import { spawnChain } from '@libswarm/core'
import { dockerclient } from '@libswarm/dockerclient'
import { createDockerServer } from '@libswarm/dockerserver'
import { startEngine } from '@libswarm/test-engine'
import { aggregate } from '../dist/index.js'
import { httpClient } from './http-client.js'

const { values } = parseArgs({
  options: {
    'per-engine': { type: 'string', default: '100' },
    started: { type: 'string', default: '30' },
    concurrency: { type: 'string', default: '3' },
    samples: { type: 'string', default: '60' }
  }
})
const PER_ENGINE = Number(values['per-engine'])
const STARTED = Number(values.started)
const CONCURRENCY = Number(values.concurrency)
const SAMPLES = Number(values.samples)
const ENGINES = 3
if (STARTED * 2 > PER_ENGINE * ENGINES || STARTED + STARTED / ENGINES > PER_ENGINE) throw new Error('--started is too large for --per-engine')

function log (text) { process.stderr.write(`[engines] ${text}\n`) }

if (process.getuid?.() !== 0 || !(existsSync('/usr/sbin/dockerd') || existsSync('/usr/bin/dockerd'))) {
  log('skipped: private engines need root and dockerd (see @libswarm/test-engine)')
  process.exit(0)
}

const BODY = JSON.stringify({ Image: 'busybox', Cmd: ['sleep', '3600'], HostConfig: { NetworkMode: 'default' }, Labels: { 'libswarm.bench': 'engines' } })

/** Creates COUNT containers (and starts them with `start`), CONCURRENCY at a time; containers per second. */
async function fill (client, prefix, count, start) {
  let next = 0
  const began = performance.now()
  await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
    while (next < count) {
      const index = next++
      const created = await client.call('POST', `/containers/create?name=${prefix}-${index}`, BODY)
      if (created.status !== 201) throw new Error(`create ${prefix}-${index}: ${created.status} ${created.body}`)
      if (!start) continue
      const started = await client.call('POST', `/containers/${JSON.parse(created.body).Id}/start`)
      if (started.status !== 204) throw new Error(`start ${prefix}-${index}: ${started.status} ${started.body}`)
    }
  }))
  return count / ((performance.now() - began) / 1000)
}

function median (samples) {
  const sorted = [...samples].sort((a, b) => a - b)
  return sorted[Math.floor((sorted.length - 1) / 2)]
}
function p90 (samples) {
  const sorted = [...samples].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.ceil(0.9 * sorted.length) - 1)]
}

const portOf = (address) => Number(new URL(address.replace(/^tcp:/, 'http:')).port)
const engines = []
let chain
let server
let exitCode = 0
const began = performance.now()
try {
  engines.push(...await Promise.all(Array.from({ length: ENGINES }, async (_, index) => await startEngine({ name: `bench-node-${index}`, tcp: true }))))
  log(`3 private dockerd started in ${Math.round(performance.now() - began)} ms`)
  const specs = engines.map((engine, index) => `--name node-${index}="dockerclient ${engine.tcpHost}"`).join(' ')
  chain = await spawnChain([`aggregate ${specs}`], { resolve: (name) => ({ aggregate, dockerclient })[name] })
  server = createDockerServer({ addresses: ['tcp://127.0.0.1:0'], next: chain.head, closeTimeoutMs: 2000 })
  await server.start()
  const through = httpClient(portOf(server.addresses[0]), CONCURRENCY)
  const direct = httpClient(portOf(engines[0].tcpHost), CONCURRENCY)

  // started containers: STARTED through aggregate (spread over 3), STARTED direct on node-0
  const startedThrough = await fill(through, 'through-started', STARTED, true)
  const startedDirect = await fill(direct, 'direct-started', STARTED, true)
  // created only: node-0 up to PER_ENGINE direct, then the others through aggregate (spread fills the emptier nodes)
  const onNode0 = STARTED / ENGINES + STARTED
  const createdDirect = await fill(direct, 'direct-created', PER_ENGINE - onNode0, false)
  const createdThrough = await fill(through, 'through-created', PER_ENGINE * ENGINES - PER_ENGINE - (STARTED - STARTED / ENGINES), false)
  log(`filled ${PER_ENGINE * ENGINES} containers after ${Math.round(performance.now() - began)} ms`)

  // the cache learns of the direct creates from node-0's events
  const total = PER_ENGINE * ENGINES
  let listed = 0
  for (let attempt = 0; attempt < 300 && listed !== total; attempt++) {
    listed = JSON.parse((await through.call('GET', '/containers/json?all=1')).body).length
    if (listed !== total) await new Promise((resolve) => setTimeout(resolve, 100))
  }
  if (listed !== total) throw new Error(`aggregate lists ${listed} containers, expected ${total}`)
  const directRows = JSON.parse((await direct.call('GET', '/containers/json?all=1')).body).length
  if (directRows !== PER_ENGINE) throw new Error(`node-0 lists ${directRows} containers, expected ${PER_ENGINE}`)

  const psThrough = []
  const psDirect = []
  for (let sample = 0; sample < SAMPLES + 5; sample++) {
    for (const [client, samples] of sample % 2 === 0 ? [[through, psThrough], [direct, psDirect]] : [[direct, psDirect], [through, psThrough]]) {
      const t0 = performance.now()
      const reply = await client.call('GET', '/containers/json?all=1')
      if (reply.status !== 200) throw new Error(`ps: ${reply.status}`)
      if (sample >= 5) samples.push(performance.now() - t0)
    }
  }
  through.close()
  direct.close()

  const rows = [
    ['', 'through aggregate (3 engines)', 'direct (1 engine)', 'ratio', 'target'],
    [`docker ps -a, p50 (${total} vs ${PER_ENGINE} rows)`, `${median(psThrough).toFixed(2)} ms`, `${median(psDirect).toFixed(2)} ms`, (median(psThrough) / median(psDirect)).toFixed(2), '<= 1.0'],
    ['docker ps -a, p90', `${p90(psThrough).toFixed(2)} ms`, `${p90(psDirect).toFixed(2)} ms`, (p90(psThrough) / p90(psDirect)).toFixed(2), ''],
    [`create+start, ${CONCURRENCY} at a time (${STARTED} each)`, `${startedThrough.toFixed(1)}/s`, `${startedDirect.toFixed(1)}/s`, (startedThrough / startedDirect).toFixed(2), ''],
    [`create only, ${CONCURRENCY} at a time`, `${createdThrough.toFixed(1)}/s`, `${createdDirect.toFixed(1)}/s`, (createdThrough / createdDirect).toFixed(2), '']
  ]
  const widths = rows[0].map((_, column) => Math.max(...rows.map((row) => row[column].length)))
  console.log(`\naggregate over 3 private dockerd 20.10 vs one direct; node ${process.version}; HTTP keep-alive client on loopback TCP`)
  console.log(rows.map((row) => row.map((cell, column) => cell.padEnd(widths[column])).join('  ')).join('\n'))
  if (median(psThrough) > median(psDirect)) log('ps through aggregate was slower than direct (target ratio <= 1.0)')
} catch (error) {
  console.error(error)
  exitCode = 1
} finally {
  await server?.close().catch(() => {})
  await chain?.close().catch(() => {})
  await Promise.all(engines.map(async (engine) => { await engine.close().catch((error) => { console.error(error) }) }))
  log(`done in ${Math.round((performance.now() - began) / 1000)} s`)
}
process.exit(exitCode)
