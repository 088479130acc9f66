// Scale benchmark of @libswarm/simulator: memory per container and operation rates over
// many simulators in one process. Run: pnpm --filter @libswarm/simulator bench
// (SIMS and PER set the shape; defaults 1,000 simulators x 30 containers).
import { readFileSync } from 'node:fs'
import { request } from '@libswarm/core'
import { decodeDockerReply, encodeDockerRequest } from '@libswarm/docker-api'
import { createSimulator } from '../dist/index.js'

if (typeof global.gc !== 'function') {
  console.error('run with node --expose-gc (the bench npm script does)')
  process.exit(1)
}

const SIMS = Number(process.env.SIMS ?? 1000)
const PER = Number(process.env.PER ?? 30)
// The body the docker CLI 28.2 sends for `docker run -d busybox` (captured through dockerserver).
const cliBody = JSON.parse(readFileSync(new URL('./cli-create-body.json', import.meta.url), 'utf8'))

async function docker (sim, operation, target = '', extra = {}) {
  const message = encodeDockerRequest({ operation, target, ...extra })
  const reply = decodeDockerReply(await request(sim, message.verb, message.args))
  if (reply.status >= 400) throw new Error(`${operation}: ${reply.status}`)
  return reply
}

function heap () {
  global.gc()
  global.gc()
  return process.memoryUsage().heapUsed
}

const mib = (bytes) => (bytes / 1024 / 1024).toFixed(1) + ' MiB'
const rate = (count, ms) => Math.round(count / (ms / 1000)).toLocaleString('en-US')
const rows = []

const heapEmpty = heap()
const sims = Array.from({ length: SIMS }, (_, i) => createSimulator({ name: `sim-${i}`, seed: i }))
const heapSims = heap()
rows.push([`${SIMS.toLocaleString('en-US')} idle simulators`, mib(heapSims - heapEmpty), `${((heapSims - heapEmpty) / SIMS / 1024).toFixed(1)} KiB per simulator`])

const ids = []
let began = performance.now()
for (const sim of sims) {
  for (let i = 0; i < PER; i++) {
    const created = await docker(sim, 'ContainerCreate', '', { body: cliBody, version: '1.41' })
    const id = JSON.parse(created.body).Id
    await docker(sim, 'ContainerStart', id)
    ids.push(id)
  }
}
let elapsed = performance.now() - began
const total = SIMS * PER
const heapFull = heap()
rows.push([`${total.toLocaleString('en-US')} running containers (CLI body)`, mib(heapFull - heapSims), `${((heapFull - heapSims) / total / 1024).toFixed(2)} KiB per container`])
rows.push(['create + start (sequential, through request())', `${elapsed.toFixed(0)} ms`, `${rate(total, elapsed)} pairs/s`])

began = performance.now()
for (const sim of sims) await docker(sim, 'ContainerList', '', { query: { all: '1' } })
elapsed = performance.now() - began
rows.push([`ContainerList all=1 (${PER} containers each)`, `${elapsed.toFixed(0)} ms for ${SIMS}`, `${rate(SIMS, elapsed)} lists/s`])

began = performance.now()
for (let i = 0; i < total; i++) await docker(sims[Math.floor(i / PER)], 'ContainerInspect', ids[i].slice(0, 12))
elapsed = performance.now() - began
rows.push(['ContainerInspect by 12-char prefix', `${elapsed.toFixed(0)} ms`, `${rate(total, elapsed)} inspects/s`])

began = performance.now()
for (let i = 0; i < total; i++) {
  const sim = sims[Math.floor(i / PER)]
  await docker(sim, 'ContainerStop', ids[i])
  await docker(sim, 'ContainerDelete', ids[i])
}
elapsed = performance.now() - began
rows.push(['stop + remove', `${elapsed.toFixed(0)} ms`, `${rate(total, elapsed)} pairs/s`])
const heapAfter = heap()
rows.push(['heap after removing every container', mib(heapAfter - heapSims), 'vs idle simulators'])
for (const sim of sims) await sim.close()

// One engine holding every container: per-operation cost must not grow with its size.
const big = createSimulator({ name: 'big', seed: 1 })
const bigIds = []
const batch = []
began = performance.now()
for (let i = 0; i < total; i++) {
  const id = JSON.parse((await docker(big, 'ContainerCreate', '', { body: cliBody })).body).Id
  await docker(big, 'ContainerStart', id)
  bigIds.push(id)
  if ((i + 1) % (total / 3) === 0) batch.push(performance.now() - began)
}
rows.push([`one simulator, ${total.toLocaleString('en-US')} containers: create + start by thirds`, batch.map((ms, i) => `${(ms - (batch[i - 1] ?? 0)).toFixed(0)} ms`).join(' / '), `${rate(total, batch.at(-1))} pairs/s`])
began = performance.now()
for (const id of bigIds) await docker(big, 'ContainerInspect', id.slice(0, 12))
elapsed = performance.now() - began
rows.push(['  inspect by prefix in that simulator', `${elapsed.toFixed(0)} ms`, `${rate(total, elapsed)} inspects/s`])
await big.close()

console.log(`node ${process.version}, ${SIMS} simulators x ${PER} containers\n`)
console.log('| measure | total | rate / size |')
console.log('|---|---|---|')
for (const row of rows) console.log(`| ${row.join(' | ')} |`)
