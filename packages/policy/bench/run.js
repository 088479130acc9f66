// `pnpm --filter @libswarm/policy bench`: what policy costs. `docker ps` and `docker inspect` as raw
// Engine API requests (keep-alive, concurrency 8) through dockerserver | policy | dockerclient against
// the same chain without policy, both in this process, on one private dockerd 20.10 (the containers
// listed are all the client's own, and the chain without policy asks with the same owner filter, so both
// chains answer the same list from the same engine work); and policy decisions per
// second on a 50-rule policy. BENCH_REQUESTS (default 2000 per round) and BENCH_ROUNDS (default 3);
// BENCH_DECISIONS_ONLY=1 stops after the decisions.
import { request as httpRequest, Agent } from 'node:http'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { cpus, loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { request, silentLogger } from '@libswarm/core'
import { encodeDockerRequest, jsonReply } from '@libswarm/docker-api'
import { createDockerClient } from '@libswarm/dockerclient'
import { createDockerServer } from '@libswarm/dockerserver'
import { startEngine } from '@libswarm/test-engine'
import { compilePolicy, createPolicy, decide } from '../dist/index.js'
import { canonicalBody } from '../dist/canonical-body.js'

const REQUESTS = Number(process.env.BENCH_REQUESTS ?? 2000)
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3)
const CONCURRENCY = 8
const CONTAINERS = 20

/** Calls per second of `call` over one second, after 20,000 calls of warm-up. */
function loopRate (call) {
  for (let index = 0; index < 20_000; index++) call()
  let count = 0
  const started = process.hrtime.bigint()
  let elapsed = 0
  while (elapsed < 1e9) {
    for (let index = 0; index < 1000; index++) call()
    count += 1000
    elapsed = Number(process.hrtime.bigint() - started)
  }
  return count / (elapsed / 1e9)
}

function decisionsPerSecond () {
  const rules = []
  for (let index = 0; index < 49; index++) {
    rules.push(index % 2 === 0
      ? `  - name: other-${index}\n    clients: [other]\n    allow: [containers, exec]\n    limits: { privileged: false }\n`
      : `  - name: deny-${index}\n    deny: [PluginPull, SwarmInit, ImageLoad]\n`)
  }
  rules.push('  - name: ci\n    clients: [ci]\n    allow: [containers, exec, images:pull, build, networks, volumes]\n    ownOnly: true\n' +
    '    limits:\n      images: ["docker.io/library/*"]\n      privileged: false\n      capabilities: []\n      devices: false\n      hostNamespaces: false\n' +
    '      hostPaths: { allow: [/srv/ci], readOnly: true }\n      memory: { max: 2g }\n    rewrite: { memory: 1g, noNewPrivileges: true }\n')
  const policy = compilePolicy(`version: 1\nclients:\n  other: { listener: other }\n  ci: { listener: ci }\nrules:\n${rules.join('')}`, 'bench.yaml')
  const body = { Image: 'busybox', Cmd: ['sh', '-c', 'make test'], Env: ['CI=1'], Labels: { job: '42' }, HostConfig: { Binds: ['/srv/ci/cache:/cache:ro'], Memory: 536870912, NetworkMode: 'bridge' } }
  const caller = { listener: 'ci' }
  const decideOnce = () => {
    const request = { operation: 'ContainerCreate', target: '', body: canonicalBody('ContainerCreate', body) }
    if (decide(policy, caller, request).effect !== 'allow') throw new Error('the bench request must be allowed')
  }
  // the peer: what any hop pays for the same request anyway, its parameters parsed and written once
  const params = JSON.stringify({ body, version: '1.41' })
  const roundTrip = () => JSON.stringify(JSON.parse(params))
  const rounds = { decide: 0, peer: 0 }
  for (let round = 0; round < 3; round++) {
    rounds.decide = Math.max(rounds.decide, loopRate(decideOnce))
    rounds.peer = Math.max(rounds.peer, loopRate(roundTrip))
  }
  return { rules: policy.rules.length, perSecond: rounds.decide, peer: rounds.peer }
}

const agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY })
function get (socketPath, path) {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ socketPath, path, agent }, (res) => {
      let size = 0
      res.on('data', (chunk) => { size += chunk.length })
      res.on('end', () => { res.statusCode === 200 ? resolve(size) : reject(new Error(`${path}: ${res.statusCode}`)) })
    })
    req.on('error', reject)
    req.end()
  })
}

async function rate (socketPath, path) {
  const perWorker = Math.ceil(REQUESTS / CONCURRENCY)
  const started = process.hrtime.bigint()
  await Promise.all(Array.from({ length: CONCURRENCY }, async () => { for (let i = 0; i < perWorker; i++) await get(socketPath, path) }))
  return perWorker * CONCURRENCY / (Number(process.hrtime.bigint() - started) / 1e9)
}

const decisions = decisionsPerSecond()
console.log(`node ${process.version}, ${cpus().length} cores, load average ${loadavg().map((load) => load.toFixed(1)).join(' ')}; ${REQUESTS} requests per round at concurrency ${CONCURRENCY}, best of ${ROUNDS} rounds\n`)
console.log(`policy decisions (ContainerCreate, canonical body + decide, ${decisions.rules} rules): ${Math.round(decisions.perSecond).toLocaleString('en-US')} /s (target >= 100,000 /s);` +
  ` ${(decisions.perSecond / decisions.peer).toFixed(2)}x a JSON parse+stringify of the same request (${Math.round(decisions.peer).toLocaleString('en-US')} /s)\n`)

/**
 * Policy's own time per request, in process: the same message sent to an end of chain that answers at
 * once (with a 7 kB inspect), directly and through policy (ownOnly: ps gets its filter, inspect's
 * answer is parsed for its owner). The difference is what policy adds to every request.
 */
async function hopCost () {
  const hopDir = mkdtempSync(join(tmpdir(), 'policy-hop-'))
  writeFileSync(join(hopDir, 'policy.yaml'), 'version: 1\nclients:\n  ci: { listener: ci }\nrules:\n  - name: ci\n    clients: [ci]\n    allow: [containers]\n    ownOnly: true\n')
  const inspected = { Id: 'abc', Config: { Labels: { 'com.libswarm.policy.owner': 'ci' }, Env: Array.from({ length: 40 }, (_, index) => `VARIABLE_${index}=${'x'.repeat(40)}`) }, HostConfig: { Binds: [] }, State: { Running: true } }
  const end = { send: async (message) => { await message.ret.send(jsonReply(inspected)); await message.ret.close() }, close: async () => {} }
  const hop = await createPolicy({ file: join(hopDir, 'policy.yaml'), watch: false }, { next: end, log: silentLogger })
  // the message as dockerserver's `ci=` listener hands it on, caller included
  const stamped = { send: (message, options) => hop.send({ ...message, caller: { listener: 'ci' } }, options), close: async () => {} }
  const micros = {}
  for (const [name, docker] of [['ps', { operation: 'ContainerList', target: '', query: { all: '1' }, version: '1.41' }], ['inspect', { operation: 'ContainerInspect', target: 'abc', version: '1.41' }]]) {
    const message = encodeDockerRequest(docker)
    const timed = async (target) => {
      for (let index = 0; index < 5000; index++) await request(target, message.verb, message.args)
      const started = process.hrtime.bigint()
      for (let index = 0; index < 20_000; index++) await request(target, message.verb, message.args)
      return Number(process.hrtime.bigint() - started) / 1e3 / 20_000
    }
    micros[name] = Math.max(0, await timed(stamped) - await timed(end))
  }
  await hop.close()
  rmSync(hopDir, { recursive: true, force: true })
  return micros
}

const hop = await hopCost()
console.log(`policy's own time per request (in process): ps ${hop.ps.toFixed(1)} us, inspect ${hop.inspect.toFixed(1)} us\n`)

if (process.env.BENCH_DECISIONS_ONLY === '1') process.exit(0)

const dir = mkdtempSync(join(tmpdir(), 'policy-bench-'))
const engine = await startEngine({ name: 'policy-bench' })
const client = createDockerClient({ address: engine.host, env: {} })
writeFileSync(join(dir, 'policy.yaml'), 'version: 1\nclients:\n  ci: { listener: ci }\nrules:\n  - name: ci\n    clients: [ci]\n    allow: [containers, system:read]\n    ownOnly: true\n    limits: { privileged: false, hostPaths: false }\n')
const policy = await createPolicy({ file: join(dir, 'policy.yaml'), watch: false }, { next: client, log: silentLogger })
const bare = createDockerServer({ addresses: [`unix://${join(dir, 'bare.sock')}`], next: client, closeTimeoutMs: 2000 })
const policed = createDockerServer({ addresses: [`ci=unix://${join(dir, 'policed.sock')}`], next: policy, closeTimeoutMs: 2000 })
await bare.start()
await policed.start()
try {
  const ids = []
  for (let index = 0; index < CONTAINERS; index++) {
    const created = await new Promise((resolve, reject) => {
      const req = httpRequest({ socketPath: join(dir, 'policed.sock'), method: 'POST', path: '/v1.41/containers/create', headers: { 'Content-Type': 'application/json' } }, (res) => {
        let text = ''
        res.setEncoding('utf8').on('data', (chunk) => { text += chunk }).on('end', () => { res.statusCode === 201 ? resolve(JSON.parse(text).Id) : reject(new Error(text)) })
      })
      req.on('error', reject)
      req.end(JSON.stringify({ Image: 'busybox', Cmd: ['true'], Labels: { n: String(index) } }))
    })
    ids.push(created)
  }
  // the chain without policy is asked the very question policy puts to the engine (its owner label
  // filter added), so that the difference is policy's own work
  const owned = `&filters=${encodeURIComponent(JSON.stringify({ label: ['com.libswarm.policy.owner=ci'] }))}`
  const cases = [['docker ps -a', '/v1.41/containers/json?all=1', owned], ['docker inspect', `/v1.41/containers/${ids[0].slice(0, 12)}/json`, '']]
  for (const [name, policedPath, bareExtra] of cases) {
    const barePath = policedPath + bareExtra
    const best = { bare: 0, policed: 0 }
    await rate(join(dir, 'bare.sock'), barePath)
    await rate(join(dir, 'policed.sock'), policedPath)
    // each round swaps which chain goes first, so that a drift of the machine's load favours neither
    for (let round = 0; round < ROUNDS; round++) {
      const measure = [
        async () => { best.bare = Math.max(best.bare, await rate(join(dir, 'bare.sock'), barePath)) },
        async () => { best.policed = Math.max(best.policed, await rate(join(dir, 'policed.sock'), policedPath)) }
      ]
      if (round % 2 === 1) measure.reverse()
      for (const run of measure) await run()
    }
    const slower = (1 - best.policed / best.bare) * 100
    console.log(`${name.padEnd(16)} dockerserver|dockerclient ${Math.round(best.bare).toLocaleString('en-US').padStart(6)} /s   dockerserver|policy|dockerclient ${Math.round(best.policed).toLocaleString('en-US').padStart(6)} /s   ${slower >= 0 ? `${slower.toFixed(1)}% slower` : `${(-slower).toFixed(1)}% faster`} (target <= 5% slower)`)
    // policy's own time against the bare chain's time per request (concurrency 8 in flight)
    const share = (hop[name === 'docker ps -a' ? 'ps' : 'inspect'] / 1e6) / (CONCURRENCY / best.bare) * 100
    console.log(`${' '.repeat(16)} policy's own time is ${share.toFixed(1)}% of a request's time through the bare chain`)
  }
} finally {
  agent.destroy()
  await policed.close()
  await bare.close()
  await policy.close()
  await client.close()
  await engine.close()
  rmSync(dir, { recursive: true, force: true })
}
