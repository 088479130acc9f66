// Chain overhead: the Docker API through swarmd (`dockerserver | dockerclient`) vs straight
// to the same private engine. Run with `pnpm --filter @libswarm/swarmd bench` after a build.
//
// Environment: BENCH_LOG_MB (default 200) size of the log read; BENCH_STREAM_MB (default 1000)
// how much log streams through swarmd for the memory figure; BENCH_CPU_PROF=<dir> runs swarmd
// with --cpu-prof into <dir>; BENCH_ROUNDS scales the number of samples (default 1).
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { startEngine } from '@libswarm/test-engine'
import { agentFor, call, ok, residentKb, startSwarmd, summarise } from './http-timing.js'

const CLI = join(dirname(fileURLToPath(import.meta.url)), '..', 'dist', 'cli.js')
const API = '/v1.41'
const LOG_MB = Number(process.env.BENCH_LOG_MB ?? 200)
const STREAM_MB = Number(process.env.BENCH_STREAM_MB ?? 1000)
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 1)
const CONTAINERS = 100

const log = (text) => process.stderr.write(`${text}\n`)

/** Samples `fn` on both routes, alternating blocks so that machine noise hits both alike. */
async function compare (routes, samples, block, fn) {
  const times = { direct: [], swarmd: [] }
  while (times.direct.length < samples) {
    for (const name of ['direct', 'swarmd']) {
      for (let i = 0; i < block; i++) times[name].push(await fn(routes[name]))
    }
  }
  return { direct: summarise(times.direct), swarmd: summarise(times.swarmd) }
}

async function createContainer (route, body, name) {
  const path = `${API}/containers/create${name === undefined ? '' : `?name=${name}`}`
  const created = await ok(route.socket, route.agent, 'POST', path, { body: JSON.stringify(body) })
  return JSON.parse(created.text).Id
}

async function main () {
  const work = mkdtempSync(join(tmpdir(), 'swarmd-bench-'))
  const engine = await startEngine()
  const socket = join(work, 'swarmd.sock')
  const nodeArgs = process.env.BENCH_CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_CPU_PROF}`] : []
  const swarmd = await startSwarmd(CLI, [`dockerserver unix://${socket}`, `dockerclient ${engine.host}`], socket, { nodeArgs })
  const routes = {
    direct: { socket: engine.socketPath, agent: agentFor() },
    swarmd: { socket, agent: agentFor() }
  }
  const rows = []
  try {
    log(`engine ${engine.host}, swarmd pid ${swarmd.pid}; starting ${CONTAINERS} containers…`)
    const ids = []
    for (let batch = 0; batch < CONTAINERS; batch += 10) {
      ids.push(...await Promise.all(Array.from({ length: Math.min(10, CONTAINERS - batch) }, async (_, i) => {
        const route = { socket: engine.socketPath, agent: undefined }
        const id = await createContainer(route, { Image: 'busybox', Cmd: ['sleep', '3600'], Labels: { 'libswarm.bench': 'ps' }, HostConfig: { NetworkMode: 'none' } }, `bench-ps-${batch + i}`)
        await ok(route.socket, undefined, 'POST', `${API}/containers/${id}/start`)
        return id
      })))
    }
    // Both routes must answer the same list before anything is timed.
    const listed = { direct: await ok(routes.direct.socket, routes.direct.agent, 'GET', `${API}/containers/json`), swarmd: await ok(routes.swarmd.socket, routes.swarmd.agent, 'GET', `${API}/containers/json`) }
    const counts = Object.fromEntries(Object.entries(listed).map(([name, result]) => [name, JSON.parse(result.text).length]))
    if (counts.direct !== CONTAINERS || counts.swarmd !== CONTAINERS) throw new Error(`ps lists ${JSON.stringify(counts)}, expected ${CONTAINERS} each`)
    for (let i = 0; i < 30; i++) {
      for (const route of Object.values(routes)) await ok(route.socket, route.agent, 'GET', `${API}/containers/json`)
    }

    log('timing ps, inspect, create+start+wait+remove…')
    const ps = await compare(routes, 300 * ROUNDS, 25, async (route) => (await ok(route.socket, route.agent, 'GET', `${API}/containers/json`)).ms)
    rows.push({ what: `ps (${CONTAINERS} running), ms`, ...ps, target: '<= 1.10x' })
    const inspect = await compare(routes, 500 * ROUNDS, 50, async (route) => (await ok(route.socket, route.agent, 'GET', `${API}/containers/${ids[0]}/json`)).ms)
    rows.push({ what: 'container inspect, ms', ...inspect, target: '<= 1.10x' })
    const roundTrip = await compare(routes, 20 * ROUNDS, 5, async (route) => {
      const started = process.hrtime.bigint()
      const id = await createContainer(route, { Image: 'busybox', Cmd: ['true'], HostConfig: { NetworkMode: 'none' } })
      await ok(route.socket, route.agent, 'POST', `${API}/containers/${id}/start`)
      const waited = await ok(route.socket, route.agent, 'POST', `${API}/containers/${id}/wait`)
      if (JSON.parse(waited.text).StatusCode !== 0) throw new Error(`wait: ${waited.text}`)
      await ok(route.socket, route.agent, 'DELETE', `${API}/containers/${id}`)
      return Number(process.hrtime.bigint() - started) / 1e6
    })
    rows.push({ what: 'create+start+wait+remove, ms', ...roundTrip, target: '<= 1.10x' })
    log('removing the ps containers…')
    for (let batch = 0; batch < ids.length; batch += 10) {
      await Promise.all(ids.slice(batch, batch + 10).map(async (id) => await call(engine.socketPath, undefined, 'DELETE', `${API}/containers/${id}?force=1`)))
    }

    log(`writing ${LOG_MB} MB of logs…`)
    const line = 'libswarm bench log line: the quick brown fox jumps over the lazy dog 0123456789 abcdefghijklmnopq'
    const producer = await createContainer({ socket: engine.socketPath }, { Image: 'busybox', Cmd: ['sh', '-c', `yes '${line}' | head -c ${LOG_MB * 1_000_000}`], HostConfig: { NetworkMode: 'none' } }, 'bench-logs')
    const writeStarted = Date.now()
    await ok(engine.socketPath, undefined, 'POST', `${API}/containers/${producer}/start`)
    await ok(engine.socketPath, undefined, 'POST', `${API}/containers/${producer}/wait`, { timeoutMs: 600_000 })
    log(`  written in ${((Date.now() - writeStarted) / 1000).toFixed(1)} s`)
    const logsPath = `${API}/containers/${producer}/logs?stdout=1&stderr=1`
    const reads = { direct: [], swarmd: [] }
    let bytes
    for (let i = 0; i < 3; i++) {
      for (const name of ['direct', 'swarmd']) {
        const result = await ok(routes[name].socket, routes[name].agent, 'GET', logsPath, { keepBody: false, timeoutMs: 600_000 })
        if (bytes !== undefined && result.bytes !== bytes) throw new Error(`logs: ${name} read ${result.bytes} bytes, expected ${bytes}`)
        bytes = result.bytes
        reads[name].push(result.bytes / 1e6 / (result.ms / 1000))
      }
    }
    const median = (list) => [...list].sort((a, b) => a - b)[Math.floor(list.length / 2)]
    rows.push({ what: `logs of ${LOG_MB} MB (${(bytes / 1e6).toFixed(0)} MB framed), MB/s`, direct: { mean: median(reads.direct) }, swarmd: { mean: median(reads.swarmd) }, target: '>= 0.90x', higherIsBetter: true })

    log(`streaming ${STREAM_MB} MB of logs through swarmd for its memory…`)
    await new Promise((resolve) => setTimeout(resolve, 1000))
    const before = residentKb(swarmd.pid)
    let peak = before
    const sampler = setInterval(() => { peak = Math.max(peak, residentKb(swarmd.pid)) }, 50)
    let streamed = 0
    while (streamed < STREAM_MB * 1e6) {
      streamed += (await ok(socket, routes.swarmd.agent, 'GET', logsPath, { keepBody: false, timeoutMs: 600_000 })).bytes
    }
    clearInterval(sampler)
    await new Promise((resolve) => setTimeout(resolve, 2000))
    const after = residentKb(swarmd.pid)
    rows.push({ what: `swarmd RSS around ${(streamed / 1e6).toFixed(0)} MB of logs, MB`, memory: { before: before / 1024, peak: peak / 1024, after: after / 1024 }, target: 'growth <= 20 MB' })
    await call(engine.socketPath, undefined, 'DELETE', `${API}/containers/${producer}?force=1`)
  } finally {
    const exit = await swarmd.close()
    if (exit.code !== 0) log(`swarmd exited ${exit.code ?? exit.signal}:\n${swarmd.stderr()}`)
    for (const route of Object.values(routes)) route.agent.destroy()
    await engine.close()
    rmSync(work, { recursive: true, force: true })
  }
  print(rows)
}

function print (rows) {
  const fmt = (value) => value === undefined ? '' : value >= 100 ? value.toFixed(0) : value >= 10 ? value.toFixed(1) : value.toFixed(2)
  const lines = ['| measure | direct mean / p50 / p99 | swarmd mean / p50 / p99 | ratio | target | met |', '| --- | --- | --- | --- | --- | --- |']
  const results = []
  for (const row of rows) {
    if (row.memory !== undefined) {
      const growth = row.memory.after - row.memory.before
      const met = growth <= 20
      lines.push(`| ${row.what} | | before ${fmt(row.memory.before)}, peak ${fmt(row.memory.peak)}, after ${fmt(row.memory.after)} | growth ${fmt(growth)} MB | ${row.target} | ${met ? 'yes' : 'NO'} |`)
      results.push({ what: row.what, ...row.memory, growth, met })
      continue
    }
    const ratio = row.swarmd.mean / row.direct.mean
    const met = row.higherIsBetter === true ? ratio >= 0.9 : ratio <= 1.1
    const cell = (s) => s.p50 === undefined ? fmt(s.mean) : `${fmt(s.mean)} / ${fmt(s.p50)} / ${fmt(s.p99)}`
    lines.push(`| ${row.what} | ${cell(row.direct)} | ${cell(row.swarmd)} | ${ratio.toFixed(2)}x | ${row.target} | ${met ? 'yes' : 'NO'} |`)
    results.push({ what: row.what, direct: row.direct, swarmd: row.swarmd, ratio, met })
  }
  console.log(lines.join('\n'))
  console.log(JSON.stringify({ date: new Date().toISOString(), node: process.version, results }))
}

await main()
