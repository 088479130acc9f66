// Chain overhead: the Docker API through swarmd (`dockerserver | dockerclient`) vs straight
// to the same private engine, with a bare node:http proxy (floor-proxy.js) as the floor
// that any extra Node hop costs. Run with `pnpm --filter @libswarm/swarmd bench` after a build.
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
const LINE_BYTES = Number(process.env.BENCH_LINE_BYTES ?? 1000)
const CONTAINERS = 100

const log = (text) => process.stderr.write(`${text}\n`)

/** Samples `fn` on both routes, alternating blocks so that machine noise hits both alike. */
async function compare (routes, samples, block, fn) {
  const times = { direct: [], swarmd: [], floor: [] }
  while (times.direct.length < samples) {
    for (const name of ['direct', 'swarmd', 'floor']) {
      for (let i = 0; i < block; i++) times[name].push(await fn(routes[name]))
    }
  }
  return { direct: summarise(times.direct), swarmd: summarise(times.swarmd), floor: summarise(times.floor) }
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
  const floorSocket = join(work, 'floor.sock')
  const floor = await startSwarmd(join(dirname(fileURLToPath(import.meta.url)), 'floor-proxy.js'), [floorSocket, engine.socketPath], floorSocket)
  const routes = {
    direct: { socket: engine.socketPath, agent: agentFor() },
    swarmd: { socket, agent: agentFor() },
    floor: { socket: floorSocket, agent: agentFor() }
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
    // dockerd decodes its json-file line by line: long lines keep the engine from being the only bottleneck.
    const line = 'libswarm bench log line: the quick brown fox jumps over the lazy dog 0123456789 '.repeat(20).slice(0, LINE_BYTES - 1)
    const producer = await createContainer({ socket: engine.socketPath }, { Image: 'busybox', Cmd: ['sh', '-c', `yes '${line}' | head -c ${LOG_MB * 1_000_000}`], HostConfig: { NetworkMode: 'none' } }, 'bench-logs')
    const writeStarted = Date.now()
    await ok(engine.socketPath, undefined, 'POST', `${API}/containers/${producer}/start`)
    await ok(engine.socketPath, undefined, 'POST', `${API}/containers/${producer}/wait`, { timeoutMs: 600_000 })
    log(`  written in ${((Date.now() - writeStarted) / 1000).toFixed(1)} s`)
    const logsPath = `${API}/containers/${producer}/logs?stdout=1&stderr=1`
    const reads = { direct: [], swarmd: [], floor: [] }
    let bytes
    for (let i = 0; i < 3; i++) {
      for (const name of ['direct', 'swarmd', 'floor']) {
        const result = await ok(routes[name].socket, routes[name].agent, 'GET', logsPath, { keepBody: false, timeoutMs: 600_000 })
        if (bytes !== undefined && result.bytes !== bytes) throw new Error(`logs: ${name} read ${result.bytes} bytes, expected ${bytes}`)
        bytes = result.bytes
        reads[name].push(result.bytes / 1e6 / (result.ms / 1000))
      }
    }
    const median = (list) => [...list].sort((a, b) => a - b)[Math.floor(list.length / 2)]
    rows.push({ what: `logs of ${LOG_MB} MB in ${LINE_BYTES}-byte lines (${(bytes / 1e6).toFixed(0)} MB framed), MB/s`, direct: { mean: median(reads.direct) }, swarmd: { mean: median(reads.swarmd) }, floor: { mean: median(reads.floor) }, target: '>= 0.90x', higherIsBetter: true })

    log('timing a raw byte stream (GET /containers/{id}/archive of a file)…')
    const holder = await createContainer({ socket: engine.socketPath }, { Image: 'busybox', Cmd: ['sh', '-c', `head -c ${LOG_MB * 1_000_000} /dev/urandom > /big`], HostConfig: { NetworkMode: 'none' } }, 'bench-archive')
    await ok(engine.socketPath, undefined, 'POST', `${API}/containers/${holder}/start`)
    await ok(engine.socketPath, undefined, 'POST', `${API}/containers/${holder}/wait`, { timeoutMs: 600_000 })
    const archive = { direct: [], swarmd: [], floor: [] }
    for (let i = 0; i < 3; i++) {
      for (const name of ['direct', 'swarmd', 'floor']) {
        const result = await ok(routes[name].socket, routes[name].agent, 'GET', `${API}/containers/${holder}/archive?path=/big`, { keepBody: false, timeoutMs: 600_000 })
        archive[name].push(result.bytes / 1e6 / (result.ms / 1000))
      }
    }
    rows.push({ what: `archive (tar) of a ${LOG_MB} MB file, MB/s`, direct: { mean: median(archive.direct) }, swarmd: { mean: median(archive.swarmd) }, floor: { mean: median(archive.floor) }, target: '>= 0.90x', higherIsBetter: true })
    await call(engine.socketPath, undefined, 'DELETE', `${API}/containers/${holder}?force=1`)

    log(`streaming ${STREAM_MB} MB of logs through swarmd, then through the bare proxy, for their memory…`)
    const memory = async (pid, route) => {
      await new Promise((resolve) => setTimeout(resolve, 1000))
      const before = residentKb(pid)
      let peak = before
      let firstPass
      const sampler = setInterval(() => { peak = Math.max(peak, residentKb(pid)) }, 50)
      let streamed = 0
      while (streamed < STREAM_MB * 1e6) {
        streamed += (await ok(route.socket, route.agent, 'GET', logsPath, { keepBody: false, timeoutMs: 600_000 })).bytes
        firstPass ??= residentKb(pid)
      }
      clearInterval(sampler)
      await new Promise((resolve) => setTimeout(resolve, 2000))
      return { streamed, before: before / 1024, firstPass: firstPass / 1024, peak: peak / 1024, after: residentKb(pid) / 1024 }
    }
    const swarmdMemory = await memory(swarmd.pid, routes.swarmd)
    const floorMemory = await memory(floor.pid, routes.floor)
    rows.push({ what: `RSS around ${(swarmdMemory.streamed / 1e6).toFixed(0)} MB of logs, MB`, memory: swarmdMemory, floorMemory, target: 'growth <= 20 MB' })
    await call(engine.socketPath, undefined, 'DELETE', `${API}/containers/${producer}?force=1`)
  } finally {
    await floor.close()
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
  const lines = ['| measure | direct mean / p50 / p99 | swarmd mean / p50 / p99 | ratio | target | met | bare node proxy (floor) | floor ratio |', '| --- | --- | --- | --- | --- | --- | --- | --- |']
  const results = []
  for (const row of rows) {
    if (row.memory !== undefined) {
      // growth: after - before (the target); drift: after - after the first log read (a leak shows here)
      const describe = (m) => `before ${fmt(m.before)}, after 1st read ${fmt(m.firstPass)}, peak ${fmt(m.peak)}, after ${fmt(m.after)}`
      const growth = row.memory.after - row.memory.before
      const drift = row.memory.after - row.memory.firstPass
      const floorGrowth = row.floorMemory.after - row.floorMemory.before
      const met = growth <= 20
      lines.push(`| ${row.what} | | ${describe(row.memory)} | growth ${fmt(growth)} MB (drift after 1st read ${fmt(drift)}) | ${row.target} | ${met ? 'yes' : 'NO'} | ${describe(row.floorMemory)} | growth ${fmt(floorGrowth)} MB |`)
      results.push({ what: row.what, swarmd: row.memory, floor: row.floorMemory, growth, drift, floorGrowth, met })
      continue
    }
    const ratio = row.swarmd.mean / row.direct.mean
    const met = row.higherIsBetter === true ? ratio >= 0.9 : ratio <= 1.1
    const cell = (s) => s.p50 === undefined ? fmt(s.mean) : `${fmt(s.mean)} / ${fmt(s.p50)} / ${fmt(s.p99)}`
    const floorRatio = row.floor.mean / row.direct.mean
    lines.push(`| ${row.what} | ${cell(row.direct)} | ${cell(row.swarmd)} | ${ratio.toFixed(2)}x | ${row.target} | ${met ? 'yes' : 'NO'} | ${cell(row.floor)} | ${floorRatio.toFixed(2)}x |`)
    results.push({ what: row.what, direct: row.direct, swarmd: row.swarmd, floor: row.floor, ratio, floorRatio, met })
  }
  console.log(lines.join('\n'))
  console.log(JSON.stringify({ date: new Date().toISOString(), node: process.version, results }))
}

await main()
