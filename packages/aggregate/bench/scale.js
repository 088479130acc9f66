// Scale measurement of aggregate, after Docker's 2015 test of classic Swarm 1.0 (one manager,
// 1,000 engines, 30,000 containers): swarmd (`dockerserver` -> `aggregate` over ENGINES
// simulated engines) runs as a child process; this process is the load generator, an HTTP
// client (node:http, keep-alive) of swarmd's Docker API. It fills CONTAINERS containers
// through the front (create + start, the latency measured), then measures `docker info`
// (GET /info), `docker ps -a` (GET /containers/json?all=1) and swarmd's memory.
//
//   node bench/scale.js [--engines 1000] [--containers 30000] [--mode in-process|tcp|both]
//                       [--servers 4] [--concurrency 1] [--info-samples 300] [--ps-samples 5] [--inspect-samples 8000] [--idle 35]
//                       [--aggregate-args='--strategy binpack'] [--aggregate-module FILE]
//                       [--swarmd-node-options='--max-semi-space-size=64']
//                       [--cpu-prof DIR] [--json FILE] [--check]
//
// in-process: `aggregate "simulator --name sim-0" ... "simulator --name sim-999"`, the engines
//   in swarmd's own process (its memory includes theirs).
// tcp: SERVERS processes (packages/simulator/bench/serve-many.js) each serve ENGINES/SERVERS
//   `dockerserver tcp://127.0.0.1:PORT` -> `simulator` chains; swarmd reaches each through
//   `dockerclient tcp://127.0.0.1:PORT`.
// --check exits non-zero when a target is missed (the targets are ten times classic Swarm's).
// --aggregate-module measures another build of aggregate (a candidate fix) in place of ../dist.
import { execFileSync, spawn } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { cpus, loadavg } from 'node:os'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { httpClient } from './http-client.js'

const { values } = parseArgs({
  options: {
    engines: { type: 'string', default: '1000' },
    containers: { type: 'string', default: '30000' },
    mode: { type: 'string', default: 'both' },
    servers: { type: 'string', default: '4' },
    concurrency: { type: 'string', default: '1' },
    'info-samples': { type: 'string', default: '300' },
    'ps-samples': { type: 'string', default: '5' },
    'inspect-samples': { type: 'string', default: '8000' },
    idle: { type: 'string', default: '35' },
    'aggregate-args': { type: 'string', default: '' },
    'aggregate-module': { type: 'string' },
    'swarmd-node-options': { type: 'string', default: '' },
    'cpu-prof': { type: 'string' },
    json: { type: 'string' },
    check: { type: 'boolean', default: false }
  }
})
const ENGINES = Number(values.engines)
const CONTAINERS = Number(values.containers)
const SERVERS = Math.min(Number(values.servers), ENGINES)
const CONCURRENCY = Number(values.concurrency)
const INFO_SAMPLES = Number(values['info-samples'])
const PS_SAMPLES = Number(values['ps-samples'])
const IDLE_SECONDS = Number(values.idle)
const INSPECT_SAMPLES = Number(values['inspect-samples'])
const MODES = values.mode === 'both' ? ['in-process', 'tcp'] : [values.mode]
for (const mode of MODES) if (mode !== 'in-process' && mode !== 'tcp') throw new Error(`--mode is in-process, tcp or both, not ${mode}`)

/** Ten times better than classic Swarm 1.0's published figures. */
const TARGETS = { infoP99: 36, createP99: 40, psAllMs: 1500, rssBytes: 1024 ** 3 }
const CLASSIC = { infoP50: 150, infoP99: 360, runP50: 230, runP99: 400 }

// The body docker CLI 28 sends for `docker run -d busybox sleep 3600`, less its empty fields.
const CREATE_BODY = JSON.stringify({
  Hostname: '', Domainname: '', User: '', AttachStdin: false, AttachStdout: false, AttachStderr: false, Tty: false, OpenStdin: false, StdinOnce: false,
  Env: null, Cmd: ['sleep', '3600'], Image: 'busybox', Volumes: {}, WorkingDir: '', Entrypoint: null, OnBuild: null, Labels: {},
  HostConfig: {
    Binds: null, ContainerIDFile: '', LogConfig: { Type: '', Config: {} }, NetworkMode: 'default', PortBindings: {}, RestartPolicy: { Name: 'no', MaximumRetryCount: 0 },
    AutoRemove: false, VolumeDriver: '', VolumesFrom: null, ConsoleSize: [0, 0], CapAdd: null, CapDrop: null, CgroupnsMode: '', Dns: [], DnsOptions: [], DnsSearch: [],
    ExtraHosts: null, GroupAdd: null, IpcMode: '', Cgroup: '', Links: null, OomScoreAdj: 0, PidMode: '', Privileged: false, PublishAllPorts: false, ReadonlyRootfs: false,
    SecurityOpt: null, UTSMode: '', UsernsMode: '', ShmSize: 0, Isolation: '', CpuShares: 0, Memory: 0, NanoCpus: 0, CgroupParent: '', BlkioWeight: 0,
    CpuPeriod: 0, CpuQuota: 0, CpusetCpus: '', CpusetMems: '', Devices: [], MemoryReservation: 0, MemorySwap: 0, OomKillDisable: false, PidsLimit: null, Ulimits: null
  },
  NetworkingConfig: { EndpointsConfig: {} }
})

const here = (path) => fileURLToPath(new URL(path, import.meta.url))
const children = new Set()
process.on('exit', () => { for (const child of children) child.kill('SIGKILL') })
process.on('SIGINT', () => { process.exit(130) })

function log (text) { process.stderr.write(`[scale] ${text}\n`) }

/** Starts a node script and resolves with its first JSON line once it says ready. */
async function startChild (script, args, { cwd, execArgv = [], timeoutMs = 600_000 } = {}) {
  const child = spawn(process.execPath, [...execArgv, script, ...args], { cwd, stdio: ['pipe', 'pipe', 'inherit'] })
  children.add(child)
  child.once('exit', () => { children.delete(child) })
  const lines = createInterface({ input: child.stdout })
  const pending = []
  lines.on('line', (line) => { pending.shift()?.(JSON.parse(line)) })
  const next = () => new Promise((resolve, reject) => {
    const timer = setTimeout(() => { reject(new Error(`${script}: no answer in ${timeoutMs} ms`)) }, timeoutMs)
    child.once('exit', (code) => { clearTimeout(timer); reject(new Error(`${script} exited with ${code}`)) })
    pending.push((value) => { clearTimeout(timer); resolve(value) })
  })
  const ready = await next()
  if (ready.ready !== true) throw new Error(`${script} failed: ${ready.error ?? JSON.stringify(ready)}`)
  const stop = async () => {
    if (child.exitCode !== null) return
    const exited = new Promise((resolve) => child.once('exit', resolve))
    child.stdin.end()
    const timer = setTimeout(() => { child.kill('SIGTERM') }, 15_000)
    const hard = setTimeout(() => { child.kill('SIGKILL') }, 25_000)
    await exited
    clearTimeout(timer)
    clearTimeout(hard)
  }
  const ask = async (line) => { const answer = next(); child.stdin.write(line + '\n'); return await answer }
  return { child, ready, stop, ask }
}

async function portsFree (first, count) {
  for (let port = first; port < first + count; port++) {
    const free = await new Promise((resolve) => {
      const server = createServer()
      server.once('error', () => { resolve(false) })
      server.listen(port, '127.0.0.1', () => { server.close(() => { resolve(true) }) })
    })
    if (!free) return false
  }
  return true
}

async function freeRange (count) {
  for (let attempt = 0; attempt < 20; attempt++) {
    const first = 20000 + Math.floor(Math.random() * (40000 - count))
    if (await portsFree(first, count)) return first
  }
  throw new Error(`no ${count} consecutive free ports found`)
}

function percentile (sorted, q) {
  if (sorted.length === 0) return Number.NaN
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]
}

function stats (samples) {
  const sorted = [...samples].sort((a, b) => a - b)
  return { n: sorted.length, p50: percentile(sorted, 0.5), p90: percentile(sorted, 0.9), p99: percentile(sorted, 0.99), max: sorted[sorted.length - 1] }
}

async function runMode (mode) {
  const engineServers = []
  let front
  try {
    let frontArgs = ['--mode', mode, '--engines', String(ENGINES), `--aggregate-args=${values['aggregate-args']}`]
    const began = performance.now()
    if (mode === 'tcp') {
      const first = await freeRange(ENGINES)
      const per = Math.ceil(ENGINES / SERVERS)
      const ranges = []
      const starting = []
      for (let server = 0; server < SERVERS; server++) {
        const offset = server * per
        const count = Math.min(per, ENGINES - offset)
        if (count <= 0) break
        ranges.push(`${first + offset}-${first + offset + count - 1}`)
        const execArgv = values['cpu-prof'] === undefined ? [] : ['--cpu-prof', '--cpu-prof-dir', values['cpu-prof'], '--cpu-prof-name', `serve-many-${server}-${Date.now()}.cpuprofile`]
        starting.push(startChild(here('../../simulator/bench/serve-many.js'), ['--first-port', String(first + offset), '--count', String(count), '--first-index', String(offset)], { cwd: here('../../simulator'), execArgv }))
      }
      engineServers.push(...await Promise.all(starting))
      log(`${ENGINES} engines listening on 127.0.0.1:${first}-${first + ENGINES - 1} in ${engineServers.length} processes after ${Math.round(performance.now() - began)} ms`)
      frontArgs = ['--mode', 'tcp', '--ports', ranges.join(','), `--aggregate-args=${values['aggregate-args']}`]
    }
    if (values['aggregate-module'] !== undefined) frontArgs.push(`--aggregate-module=${values['aggregate-module']}`)
    const execArgv = values['swarmd-node-options'].split(' ').filter((arg) => arg !== '')
    if (values['cpu-prof'] !== undefined) execArgv.push('--cpu-prof', '--cpu-prof-dir', values['cpu-prof'], '--cpu-prof-name', `swarm-front-${mode}-${Date.now()}.cpuprofile`)
    front = await startChild(here('./swarm-front.js'), frontArgs, { execArgv })
    const { port, startupMs, healthyMs, healthy, pid } = front.ready
    log(`${mode}: swarmd (pid ${pid}) on 127.0.0.1:${port} after ${Math.round(startupMs)} ms, ${healthy}/${ENGINES} nodes healthy after ${Math.round(healthyMs)} ms`)
    if (healthy !== ENGINES) throw new Error(`only ${healthy} of ${ENGINES} nodes are healthy`)
    // swarmd's own upkeep (health pings, refreshes, event streams) while nobody calls it
    const idleBefore = await front.ask('stats')
    await new Promise((resolve) => setTimeout(resolve, IDLE_SECONDS * 1000))
    const idleAfter = await front.ask('stats')
    const rssIdle = idleAfter.rss
    const idleCpu = IDLE_SECONDS === 0 ? Number.NaN : (idleAfter.cpuUserMs + idleAfter.cpuSystemMs - idleBefore.cpuUserMs - idleBefore.cpuSystemMs) / (IDLE_SECONDS * 1000)

    const client = httpClient(port, Math.max(1, CONCURRENCY))
    const createStart = new Array(CONTAINERS)
    const createOnly = new Array(CONTAINERS)
    const ids = new Array(CONTAINERS)
    let nextIndex = 0
    let failures = 0
    const fillBegan = performance.now()
    const loads = [loadavg()[0]]
    const sampler = setInterval(() => { loads.push(loadavg()[0]) }, 5000)
    const worker = async () => {
      while (nextIndex < CONTAINERS) {
        const index = nextIndex++
        const t0 = performance.now()
        const created = await client.call('POST', `/containers/create?name=scale-${index}`, CREATE_BODY)
        const t1 = performance.now()
        if (created.status !== 201) { failures++; log(`create ${index}: ${created.status} ${created.body}`); if (failures > 10) throw new Error('too many failed creates'); continue }
        const { Id } = JSON.parse(created.body)
        ids[index] = Id
        const started = await client.call('POST', `/containers/${Id}/start`)
        const t2 = performance.now()
        if (started.status !== 204) { failures++; log(`start ${index}: ${started.status} ${started.body}`); if (failures > 10) throw new Error('too many failed starts'); continue }
        createOnly[index] = t1 - t0
        createStart[index] = t2 - t0
        if ((index + 1) % Math.max(1, Math.floor(CONTAINERS / 10)) === 0) log(`${mode}: ${index + 1} containers, ${Math.round((index + 1) / ((performance.now() - fillBegan) / 1000))}/s`)
      }
    }
    await Promise.all(Array.from({ length: Math.max(1, CONCURRENCY) }, worker))
    const fillMs = performance.now() - fillBegan
    const afterFill = await front.ask('stats')

    const infoMs = []
    let infoBytes = 0
    let infoContainers = 0
    for (let sample = 0; sample < INFO_SAMPLES; sample++) {
      const t0 = performance.now()
      const reply = await client.call('GET', '/info')
      infoMs.push(performance.now() - t0)
      if (reply.status !== 200) throw new Error(`GET /info: ${reply.status}`)
      infoBytes = reply.body.length
      if (sample === 0) infoContainers = JSON.parse(reply.body).Containers
    }
    const psMs = []
    let psRows = 0
    let psBytes = 0
    for (let sample = 0; sample < PS_SAMPLES; sample++) {
      const t0 = performance.now()
      const reply = await client.call('GET', '/containers/json?all=1')
      psMs.push(performance.now() - t0)
      if (reply.status !== 200) throw new Error(`GET /containers/json: ${reply.status}`)
      psBytes = reply.body.length
      if (sample === 0) psRows = JSON.parse(reply.body).length
    }
    // docker inspect: containers never inspected (asked of their node), then the most recent of them
    // again (answered from aggregate's inspect cache)
    const chosen = ids.filter((id) => id !== undefined).sort(() => Math.random() - 0.5).slice(0, INSPECT_SAMPLES)
    const inspectOnce = async (id) => {
      const t0 = performance.now()
      const reply = await client.call('GET', `/containers/${id}/json`)
      if (reply.status !== 200) throw new Error(`GET /containers/${id}/json: ${reply.status}`)
      return performance.now() - t0
    }
    const inspectMiss = []
    for (const id of chosen) inspectMiss.push(await inspectOnce(id))
    const inspectHit = []
    for (const id of chosen.slice(-Math.min(2000, chosen.length))) inspectHit.push(await inspectOnce(id))
    const end = await front.ask('stats')
    clearInterval(sampler)
    client.close()
    const done = createStart.filter((value) => value !== undefined)
    const head = createStart.slice(0, Math.min(1000, Math.floor(CONTAINERS / 2))).filter((value) => value !== undefined)
    const tail = createStart.slice(Math.max(CONTAINERS - 1000, Math.ceil(CONTAINERS / 2))).filter((value) => value !== undefined)
    return {
      mode,
      engines: ENGINES,
      containers: CONTAINERS,
      concurrency: CONCURRENCY,
      startupMs,
      healthyMs,
      fillMs,
      fillRate: done.length / (fillMs / 1000),
      failures,
      createStart: stats(done),
      create: stats(createOnly.filter((value) => value !== undefined)),
      firstThousand: stats(head),
      lastThousand: stats(tail),
      info: { ...stats(infoMs), bytes: infoBytes, containers: infoContainers },
      ps: { ...stats(psMs), rows: psRows, bytes: psBytes },
      inspectMiss: stats(inspectMiss),
      inspectHit: stats(inspectHit),
      idleCpu,
      load: loads.reduce((sum, value) => sum + value, 0) / loads.length,
      gc: { fillCount: afterFill.gc.count - idleAfter.gc.count, fillTotalMs: afterFill.gc.totalMs - idleAfter.gc.totalMs, maxMs: end.gc.maxMs, major: end.gc.major, majorMaxMs: end.gc.majorMaxMs },
      rss: { idle: rssIdle, afterFill: afterFill.rss, end: end.rss, heapUsed: end.heapUsed, cpuUserMs: end.cpuUserMs, cpuSystemMs: end.cpuSystemMs }
    }
  } finally {
    await front?.stop()
    await Promise.all(engineServers.map(async (server) => { await server.stop() }))
  }
}

const ms = (value) => Number.isNaN(value) ? '-' : value < 10 ? value.toFixed(2) : value < 100 ? value.toFixed(1) : value.toFixed(0)
const mib = (bytes) => `${Math.round(bytes / 1024 / 1024)} MiB`

function table (results) {
  const rows = [['', ...results.map((result) => result.mode), 'target', 'classic Swarm 1.0']]
  const add = (label, pick, target = '', classic = '') => rows.push([label, ...results.map(pick), target, classic])
  add('engines / containers', (r) => `${r.engines} / ${r.containers}`, '', '1,000 / 30,000')
  add('swarmd serving / all nodes healthy', (r) => `${ms(r.startupMs)} / ${ms(r.healthyMs)} ms`)
  add('docker info p50 / p90 / p99', (r) => `${ms(r.info.p50)} / ${ms(r.info.p90)} / ${ms(r.info.p99)} ms`, `p99 <= ${TARGETS.infoP99} ms`, `${CLASSIC.infoP50} / - / ${CLASSIC.infoP99} ms`)
  add('create+start p50 / p90 / p99', (r) => `${ms(r.createStart.p50)} / ${ms(r.createStart.p90)} / ${ms(r.createStart.p99)} ms`, `p99 <= ${TARGETS.createP99} ms`, `${CLASSIC.runP50} / - / ${CLASSIC.runP99} ms (run -d)`)
  add('  create alone p50 / p99', (r) => `${ms(r.create.p50)} / ${ms(r.create.p99)} ms`)
  add('  first 1,000 (or half): p50 / p99', (r) => `${ms(r.firstThousand.p50)} / ${ms(r.firstThousand.p99)} ms`, 'no slowdown')
  add('  last 1,000 (or half): p50 / p99', (r) => `${ms(r.lastThousand.p50)} / ${ms(r.lastThousand.p99)} ms`, 'no slowdown')
  add('fill rate (create+start)', (r) => `${Math.round(r.fillRate)}/s (${(r.fillMs / 1000).toFixed(0)} s, ${r.failures} failed)`)
  add('docker ps -a p50 / max', (r) => `${ms(r.ps.p50)} / ${ms(r.ps.max)} ms (${r.ps.rows} rows, ${mib(r.ps.bytes)})`, `<= ${TARGETS.psAllMs} ms`)
  add('docker inspect p50 / p99: first time / again', (r) => `${ms(r.inspectMiss.p50)} / ${ms(r.inspectMiss.p99)} ms (${r.inspectMiss.n}) / ${ms(r.inspectHit.p50)} / ${ms(r.inspectHit.p99)} ms`)
  add('swarmd RSS idle / filled / end', (r) => `${mib(r.rss.idle)} / ${mib(r.rss.afterFill)} / ${mib(r.rss.end)}`, `<= ${mib(TARGETS.rssBytes)}`)
  add('swarmd CPU user + sys', (r) => `${((r.rss.cpuUserMs + r.rss.cpuSystemMs) / 1000).toFixed(0)} s`)
  add(`swarmd CPU when idle (${IDLE_SECONDS} s)`, (r) => Number.isNaN(r.idleCpu) ? '-' : `${(r.idleCpu * 100).toFixed(0)} % of a CPU`)
  add('GC pauses: longest / major GCs', (r) => `${ms(r.gc.maxMs)} ms / ${r.gc.major} (longest ${ms(r.gc.majorMaxMs)} ms)`)
  add('GC time during the fill', (r) => `${(r.gc.fillTotalMs / 1000).toFixed(1)} s in ${r.gc.fillCount} pauses`)
  add('machine load average (mean)', (r) => `${r.load.toFixed(1)} on ${cpus().length} CPUs`)
  const widths = rows[0].map((_, column) => Math.max(...rows.map((row) => String(row[column]).length)))
  return rows.map((row) => row.map((cell, column) => String(cell).padEnd(widths[column])).join('  ')).join('\n')
}

function misses (result) {
  const missed = []
  if (!(result.info.p99 <= TARGETS.infoP99)) missed.push(`${result.mode}: docker info p99 ${ms(result.info.p99)} ms > ${TARGETS.infoP99} ms`)
  if (!(result.createStart.p99 <= TARGETS.createP99)) missed.push(`${result.mode}: create+start p99 ${ms(result.createStart.p99)} ms > ${TARGETS.createP99} ms`)
  if (!(result.ps.max <= TARGETS.psAllMs)) missed.push(`${result.mode}: docker ps -a ${ms(result.ps.max)} ms > ${TARGETS.psAllMs} ms`)
  if (!(Math.max(result.rss.afterFill, result.rss.end) <= TARGETS.rssBytes)) missed.push(`${result.mode}: RSS ${mib(Math.max(result.rss.afterFill, result.rss.end))} > 1 GiB`)
  if (result.ps.rows !== result.containers || result.info.containers !== result.containers) missed.push(`${result.mode}: ps listed ${result.ps.rows} and info counted ${result.info.containers} of ${result.containers}`)
  return missed
}

const results = []
for (const mode of MODES) {
  log(`${mode}: ${ENGINES} engines, ${CONTAINERS} containers, concurrency ${CONCURRENCY}`)
  results.push(await runMode(mode))
}
let commit = 'unknown'
try { commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: here('.'), encoding: 'utf8' }).trim() } catch {}
console.log(`\naggregate at scale (${values['aggregate-module'] ?? 'dist'} at ${commit}${values['swarmd-node-options'] === '' ? '' : `, swarmd run with ${values['swarmd-node-options']}`}): node ${process.version}, ${cpus().length} CPUs; latencies seen by a node:http keep-alive client at swarmd's dockerserver`)
console.log(table(results))
console.log('classic Swarm 1.0 (Docker, 2015) measured real engines on their own hosts with a 4-CPU manager; ours are simulated engines (no engine time), all on this machine.')
if (values.json !== undefined) writeFileSync(values.json, JSON.stringify(results, null, 2))
const missed = results.flatMap(misses)
for (const line of missed) console.log(`MISSED ${line}`)
process.exit(values.check && missed.length > 0 ? 1 : 0)
