// `pnpm --filter @libswarm/policy bench`: what policy costs. `docker ps` and `docker inspect` as raw
// Engine API requests (keep-alive, concurrency 8) through dockerserver | policy | dockerclient against
// the same chain without policy, both in this process, on one private dockerd 20.10 (the containers
// listed are all the client's own, so both chains answer the same list); and policy decisions per
// second on a 50-rule policy. BENCH_REQUESTS (default 2000 per round) and BENCH_ROUNDS (default 3).
import { request as httpRequest, Agent } from 'node:http'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { cpus, tmpdir } from 'node:os'
import { join } from 'node:path'
import { silentLogger } from '@libswarm/core'
import { createDockerClient } from '@libswarm/dockerclient'
import { createDockerServer } from '@libswarm/dockerserver'
import { startEngine } from '@libswarm/test-engine'
import { compilePolicy, createPolicy, decide } from '../dist/index.js'
import { canonicalBody } from '../dist/canonical-body.js'

const REQUESTS = Number(process.env.BENCH_REQUESTS ?? 2000)
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3)
const CONCURRENCY = 8
const CONTAINERS = 20

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
  let count = 0
  const started = process.hrtime.bigint()
  let elapsed = 0
  while (elapsed < 1e9) {
    for (let index = 0; index < 1000; index++) {
      const request = { operation: 'ContainerCreate', target: '', body: canonicalBody('ContainerCreate', body) }
      if (decide(policy, caller, request).effect !== 'allow') throw new Error('the bench request must be allowed')
    }
    count += 1000
    elapsed = Number(process.hrtime.bigint() - started)
  }
  return { rules: policy.rules.length, perSecond: count / (elapsed / 1e9) }
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
console.log(`node ${process.version}, ${cpus().length} cores; ${REQUESTS} requests per round at concurrency ${CONCURRENCY}, best of ${ROUNDS} rounds\n`)
console.log(`policy decisions (ContainerCreate, canonical body + decide, ${decisions.rules} rules): ${Math.round(decisions.perSecond).toLocaleString('en-US')} /s (target >= 100,000 /s)\n`)

const dir = mkdtempSync(join(tmpdir(), 'policy-bench-'))
const engine = await startEngine({ name: 'policy-bench' })
const client = createDockerClient({ address: engine.host, env: {} })
writeFileSync(join(dir, 'policy.yaml'), 'version: 1\nclients:\n  ci: { listener: ci }\nrules:\n  - name: ci\n    clients: [ci]\n    allow: [containers, system:read]\n    ownOnly: true\n    limits: { privileged: false, hostPaths: false }\n')
const policy = await createPolicy({ file: join(dir, 'policy.yaml'), watch: false }, { next: client, log: silentLogger })
const stamped = { send: (message, options) => policy.send({ ...message, caller: { listener: 'ci' } }, options), close: async () => {} }
const bare = createDockerServer({ addresses: [`unix://${join(dir, 'bare.sock')}`], next: client, closeTimeoutMs: 2000 })
const policed = createDockerServer({ addresses: [`unix://${join(dir, 'policed.sock')}`], next: stamped, closeTimeoutMs: 2000 })
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
  const cases = [['docker ps -a', '/v1.41/containers/json?all=1'], ['docker inspect', `/v1.41/containers/${ids[0].slice(0, 12)}/json`]]
  for (const [name, path] of cases) {
    const best = { bare: 0, policed: 0 }
    await rate(join(dir, 'bare.sock'), path)
    await rate(join(dir, 'policed.sock'), path)
    for (let round = 0; round < ROUNDS; round++) {
      best.bare = Math.max(best.bare, await rate(join(dir, 'bare.sock'), path))
      best.policed = Math.max(best.policed, await rate(join(dir, 'policed.sock'), path))
    }
    const slower = (1 - best.policed / best.bare) * 100
    console.log(`${name.padEnd(16)} dockerserver|dockerclient ${Math.round(best.bare).toLocaleString('en-US').padStart(6)} /s   dockerserver|policy|dockerclient ${Math.round(best.policed).toLocaleString('en-US').padStart(6)} /s   ${slower >= 0 ? `${slower.toFixed(1)}% slower` : `${(-slower).toFixed(1)}% faster`} (target <= 5% slower)`)
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
