// Chain overhead: the Docker API through swarmd (`dockerserver | dockerclient`) vs straight
// to the same private engine. Two peers run alongside: `wire`, the same chain cut in two
// swarmd processes joined by serve/remote, and `node proxy`, a bare node:http proxy
// (floor-proxy.js): the floor that any extra Node hop costs.
// Run with `pnpm --filter @libswarm/swarmd bench` after a build.
//
// Environment: BENCH_LOG_MB (default 200) size of the log and of the file read;
// BENCH_LINE_BYTES (default 1000) log line length; BENCH_STREAM_MB (default 1000) how much
// log streams through swarmd for the memory figure; BENCH_ROUNDS (default 1) scales the
// number of samples; BENCH_CPU_PROF=<dir> runs swarmd with --cpu-prof into <dir>.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { startEngine } from '@libswarm/test-engine'
import { agentFor, call, ok, residentKb, startSwarmd, summarise } from './http-timing.js'

const HERE = dirname(fileURLToPath(import.meta.url))
const CLI = join(HERE, '..', 'dist', 'cli.js')
const API = '/v1.41'
const LOG_MB = Number(process.env.BENCH_LOG_MB ?? 200)
const LINE_BYTES = Number(process.env.BENCH_LINE_BYTES ?? 1000)
const STREAM_MB = Number(process.env.BENCH_STREAM_MB ?? 1000)
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 1)
const CONTAINERS = 100
const ROUTES = ['direct', 'swarmd', 'wire', 'node proxy']

const log = (text) => process.stderr.write(`${text}\n`)
const median = (list) => [...list].sort((a, b) => a - b)[Math.floor(list.length / 2)]

/** Samples `fn` on every route, alternating blocks so that machine noise hits all alike. */
async function latency (routes, samples, block, fn) {
  const times = Object.fromEntries(ROUTES.map((name) => [name, []]))
  while (times.direct.length < samples) {
    for (const name of ROUTES) {
      for (let i = 0; i < block; i++) times[name].push(await fn(routes[name]))
    }
  }
  return Object.fromEntries(ROUTES.map((name) => [name, summarise(times[name])]))
}

/** MB/s of reading `path` on every route, the median of `reads` alternating reads; all routes must read the same bytes. */
async function throughput (routes, path, reads) {
  const rates = Object.fromEntries(ROUTES.map((name) => [name, []]))
  let bytes
  for (let i = 0; i < reads; i++) {
    for (const name of ROUTES) {
      const result = await ok(routes[name].socket, routes[name].agent, 'GET', path, { keepBody: false, timeoutMs: 600_000 })
      if (bytes !== undefined && result.bytes !== bytes) throw new Error(`${path}: ${name} read ${result.bytes} bytes, expected ${bytes}`)
      bytes = result.bytes
      rates[name].push(result.bytes / 1e6 / (result.ms / 1000))
    }
  }
  return { bytes, ...Object.fromEntries(ROUTES.map((name) => [name, { mean: median(rates[name]) }])) }
}

/** RSS of `pid` (MB) before, after the first read, at its peak and after streaming STREAM_MB of `path` through `route`. */
async function memory (pid, route, path) {
  await new Promise((resolve) => setTimeout(resolve, 1000))
  const before = residentKb(pid)
  let peak = before
  let firstRead
  const sampler = setInterval(() => { peak = Math.max(peak, residentKb(pid)) }, 50)
  let streamed = 0
  try {
    while (streamed < STREAM_MB * 1e6) {
      streamed += (await ok(route.socket, route.agent, 'GET', path, { keepBody: false, timeoutMs: 600_000 })).bytes
      firstRead ??= residentKb(pid)
    }
  } finally {
    clearInterval(sampler)
  }
  await new Promise((resolve) => setTimeout(resolve, 2000))
  return { streamed, before: before / 1024, firstRead: firstRead / 1024, peak: peak / 1024, after: residentKb(pid) / 1024 }
}

async function createContainer (route, body, name) {
  const path = `${API}/containers/create${name === undefined ? '' : `?name=${name}`}`
  const created = await ok(route.socket, route.agent, 'POST', path, { body: JSON.stringify(body) })
  return JSON.parse(created.text).Id
}

async function runToEnd (engine, body, name) {
  const route = { socket: engine.socketPath }
  const id = await createContainer(route, body, name)
  await ok(route.socket, undefined, 'POST', `${API}/containers/${id}/start`)
  await ok(route.socket, undefined, 'POST', `${API}/containers/${id}/wait`, { timeoutMs: 600_000 })
  return id
}

async function main () {
  const work = mkdtempSync(join(tmpdir(), 'swarmd-bench-'))
  const engine = await startEngine()
  const sock = (name) => join(work, `${name}.sock`)
  const nodeArgs = process.env.BENCH_CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_CPU_PROF}`] : []
  const processes = []
  const routes = { direct: { socket: engine.socketPath, agent: agentFor() } }
  const rows = []
  let swarmd
  try {
    swarmd = await startSwarmd(CLI, [`dockerserver unix://${sock('swarmd')}`, `dockerclient ${engine.host}`], sock('swarmd'), { nodeArgs })
    processes.push(swarmd)
    routes.swarmd = { socket: sock('swarmd'), agent: agentFor() }
    // `serve` answers no Docker ping: its own readiness is the front's, which dials it
    const back = await startSwarmd(CLI, [`serve unix://${sock('wire')}`, `dockerclient ${engine.host}`], sock('wire'), { ready: 'socket' })
    processes.push(back)
    processes.push(await startSwarmd(CLI, [`dockerserver unix://${sock('front')}`, `remote unix://${sock('wire')}`], sock('front')))
    routes.wire = { socket: sock('front'), agent: agentFor() }
    const floor = await startSwarmd(join(HERE, 'floor-proxy.js'), [sock('floor'), engine.socketPath], sock('floor'))
    processes.push(floor)
    routes['node proxy'] = { socket: sock('floor'), agent: agentFor() }

    log(`engine ${engine.host}, swarmd pid ${swarmd.pid}; starting ${CONTAINERS} containers…`)
    const ids = []
    for (let batch = 0; batch < CONTAINERS; batch += 10) {
      ids.push(...await Promise.all(Array.from({ length: Math.min(10, CONTAINERS - batch) }, async (_, i) => {
        const route = { socket: engine.socketPath }
        const id = await createContainer(route, { Image: 'busybox', Cmd: ['sleep', '3600'], Labels: { 'libswarm.bench': 'ps' }, HostConfig: { NetworkMode: 'none' } }, `bench-ps-${batch + i}`)
        await ok(route.socket, undefined, 'POST', `${API}/containers/${id}/start`)
        return id
      })))
    }
    // Every route must list the same containers before anything is timed.
    for (const name of ROUTES) {
      const listed = JSON.parse((await ok(routes[name].socket, routes[name].agent, 'GET', `${API}/containers/json`)).text)
      if (listed.length !== CONTAINERS) throw new Error(`ps through ${name} lists ${listed.length} containers, expected ${CONTAINERS}`)
    }
    for (let i = 0; i < 30; i++) {
      for (const name of ROUTES) await ok(routes[name].socket, routes[name].agent, 'GET', `${API}/containers/json`)
    }

    log('timing ps, inspect, create+start+wait+remove…')
    rows.push({ what: `ps (${CONTAINERS} running), ms`, ...await latency(routes, 300 * ROUNDS, 25, async (route) => (await ok(route.socket, route.agent, 'GET', `${API}/containers/json`)).ms), target: 1.1 })
    rows.push({ what: 'container inspect, ms', ...await latency(routes, 500 * ROUNDS, 50, async (route) => (await ok(route.socket, route.agent, 'GET', `${API}/containers/${ids[0]}/json`)).ms), target: 1.1 })
    rows.push({
      what: 'create+start+wait+remove, ms',
      ...await latency(routes, 20 * ROUNDS, 5, async (route) => {
        const started = process.hrtime.bigint()
        const id = await createContainer(route, { Image: 'busybox', Cmd: ['true'], HostConfig: { NetworkMode: 'none' } })
        await ok(route.socket, route.agent, 'POST', `${API}/containers/${id}/start`)
        const waited = await ok(route.socket, route.agent, 'POST', `${API}/containers/${id}/wait`)
        if (JSON.parse(waited.text).StatusCode !== 0) throw new Error(`wait: ${waited.text}`)
        await ok(route.socket, route.agent, 'DELETE', `${API}/containers/${id}`)
        return Number(process.hrtime.bigint() - started) / 1e6
      }),
      target: 1.1
    })
    log('removing the ps containers…')
    for (let batch = 0; batch < ids.length; batch += 10) {
      await Promise.all(ids.slice(batch, batch + 10).map(async (id) => await call(engine.socketPath, undefined, 'DELETE', `${API}/containers/${id}?force=1`)))
    }

    log(`writing ${LOG_MB} MB of logs and a ${LOG_MB} MB file…`)
    // dockerd decodes its json-file line by line: long lines keep the engine from being the only bottleneck.
    const line = 'libswarm bench log line: the quick brown fox jumps over the lazy dog 0123456789 '.repeat(20).slice(0, LINE_BYTES - 1)
    const producer = await runToEnd(engine, { Image: 'busybox', Cmd: ['sh', '-c', `yes '${line}' | head -c ${LOG_MB * 1_000_000}`], HostConfig: { NetworkMode: 'none' } }, 'bench-logs')
    const holder = await runToEnd(engine, { Image: 'busybox', Cmd: ['sh', '-c', `head -c ${LOG_MB * 1_000_000} /dev/urandom > /big`], HostConfig: { NetworkMode: 'none' } }, 'bench-archive')
    const logsPath = `${API}/containers/${producer}/logs?stdout=1&stderr=1`
    log('timing logs and archive reads…')
    const logs = await throughput(routes, logsPath, 3)
    rows.push({ what: `logs, ${LOG_MB} MB in ${LINE_BYTES}-byte lines (${(logs.bytes / 1e6).toFixed(0)} MB framed), MB/s`, ...logs, target: 0.9, higherIsBetter: true })
    const archive = await throughput(routes, `${API}/containers/${holder}/archive?path=/big`, 3)
    rows.push({ what: `archive (tar) of a ${LOG_MB} MB file, MB/s`, ...archive, target: 0.9, higherIsBetter: true })

    log(`streaming ${STREAM_MB} MB of logs through swarmd, then through the node proxy, for their memory…`)
    rows.push({ what: 'RSS around 1 GB of logs, MB', memory: { swarmd: await memory(swarmd.pid, routes.swarmd, logsPath), 'node proxy': await memory(floor.pid, routes['node proxy'], logsPath) } })
    for (const id of [producer, holder]) await call(engine.socketPath, undefined, 'DELETE', `${API}/containers/${id}?force=1`)
  } finally {
    for (const child of processes.reverse()) {
      const exit = await child.close()
      if (exit.code !== 0) log(`a bench process exited ${exit.code ?? exit.signal}:\n${child.stderr()}`)
    }
    for (const route of Object.values(routes)) route.agent.destroy()
    await engine.close()
    rmSync(work, { recursive: true, force: true })
  }
  print(rows)
}

function print (rows) {
  const fmt = (value) => value >= 100 ? value.toFixed(0) : value >= 10 ? value.toFixed(1) : value.toFixed(2)
  const lines = ['| measure | route | mean | p50 | p99 | vs direct | target |', '| --- | --- | --- | --- | --- | --- | --- |']
  for (const row of rows) {
    if (row.memory !== undefined) {
      for (const [name, m] of Object.entries(row.memory)) {
        const growth = m.after - m.before
        const verdict = name === 'swarmd' ? (growth <= 20 ? 'growth <= 20 MB: met' : 'growth <= 20 MB: MISSED') : ''
        lines.push(`| RSS around ${(m.streamed / 1e6).toFixed(0)} MB of logs, MB | ${name} | before ${fmt(m.before)}, after 1st read ${fmt(m.firstRead)}, peak ${fmt(m.peak)}, after ${fmt(m.after)} | | | growth ${fmt(growth)}, drift after 1st read ${fmt(m.after - m.firstRead)} | ${verdict} |`)
      }
      continue
    }
    for (const name of ROUTES) {
      const s = row[name]
      const ratio = s.mean / row.direct.mean
      let verdict = ''
      if (name === 'swarmd') {
        const met = row.higherIsBetter === true ? ratio >= row.target : ratio <= row.target
        verdict = `${row.higherIsBetter === true ? '>=' : '<='} ${row.target.toFixed(2)}x: ${met ? 'met' : 'MISSED'}`
      }
      lines.push(`| ${row.what} | ${name} | ${fmt(s.mean)} | ${s.p50 === undefined ? '' : fmt(s.p50)} | ${s.p99 === undefined ? '' : fmt(s.p99)} | ${name === 'direct' ? '' : `${ratio.toFixed(2)}x`} | ${verdict} |`)
    }
  }
  console.log(lines.join('\n'))
  console.log(JSON.stringify({ date: new Date().toISOString(), node: process.version, logMb: LOG_MB, lineBytes: LINE_BYTES, streamMb: STREAM_MB, rows }))
}

await main()
