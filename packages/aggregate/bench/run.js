// Benchmarks of aggregate's hot paths over in-process simulators:
//   node bench/run.js [NODES] [CONTAINERS_PER_NODE]
// startup (first sync of every node), ps from the cache, info, inspect by name, and
// placement (ContainerCreate) throughput, with the default spread strategy.
import { request } from '@libswarm/core'
import { decodeDockerReply, encodeDockerRequest } from '@libswarm/docker-api'
import { createSimulator } from '@libswarm/simulator'
import { createAggregate } from '../dist/index.js'

const nodes = Number(process.argv[2] ?? 200)
const perNode = Number(process.argv[3] ?? 5)

// the reply body is left as text in the timed loops: parsing a megabyte of JSON is the client's cost, not aggregate's
async function raw (service, operation, target = '', extra = {}) {
  const message = encodeDockerRequest({ operation, target, ...extra })
  return decodeDockerReply(await request(service, message.verb, message.args)).body
}

async function call (service, operation, target = '', extra = {}) {
  const body = await raw(service, operation, target, extra)
  return body === undefined || body === '' ? undefined : JSON.parse(body)
}

let serial = 0
async function measure (label, iterations, body) {
  for (let index = 0; index < Math.min(5, iterations); index++) await body(serial++)
  const started = process.hrtime.bigint()
  for (let index = 0; index < iterations; index++) await body(serial++)
  const ms = Number(process.hrtime.bigint() - started) / 1e6
  console.log(`${label.padEnd(44)} ${(ms / iterations).toFixed(3).padStart(9)} ms/op  ${Math.round(iterations / (ms / 1000)).toString().padStart(7)} ops/s`)
}

const engines = Array.from({ length: nodes }, (_, index) => createSimulator({ name: `node-${index}`, seed: index, cpus: 8, memory: '32g', labels: { zone: `z${index % 4}` } }))
for (const engine of engines) {
  for (let index = 0; index < perNode; index++) {
    const created = await call(engine, 'ContainerCreate', '', { query: { name: `pre-${index}` }, body: { Image: 'busybox', Cmd: ['sleep', '1000'] } })
    await call(engine, 'ContainerStart', created.Id)
  }
}
const started = process.hrtime.bigint()
const swarm = await createAggregate({ children: engines.map((service) => ({ service })), healthIntervalMs: 60_000, refreshIntervalMs: 600_000 }, { spawn: async () => { throw new Error('unused') } })
console.log(`${nodes} nodes x ${perNode} containers; node ${process.version}`)
console.log(`${'startup (first sync of every node)'.padEnd(44)} ${(Number(process.hrtime.bigint() - started) / 1e6).toFixed(0).padStart(9)} ms`)
const total = (await call(swarm, 'ContainerList', '', { query: { all: '1' } })).length
if (total !== nodes * perNode) throw new Error(`expected ${nodes * perNode} containers, listed ${total}`)

await measure(`ps (${total} containers, from the cache)`, 50, async () => { await raw(swarm, 'ContainerList') })
await measure('ps --filter node=node-7', 200, async () => { await raw(swarm, 'ContainerList', '', { query: { filters: '{"node":["node-7"]}' } }) })
await measure('ps --filter name=^pre-[0-2]$ (a regexp)', 50, async () => { await raw(swarm, 'ContainerList', '', { query: { filters: '{"name":["^pre-[0-2]$"]}' } }) })
await measure('ps --filter node=/^node-1[0-9]$/', 200, async () => { await raw(swarm, 'ContainerList', '', { query: { filters: '{"node":["/^node-1[0-9]$/"]}' } }) })
await measure(`info (${nodes} node lines)`, 100, async () => { await raw(swarm, 'SystemInfo') })
await measure('inspect by NODE/NAME (from the cache)', 2000, async (index) => { await raw(swarm, 'ContainerInspect', `node-${index % nodes}/pre-0`) })
await measure('create, spread', 500, async (index) => { await call(swarm, 'ContainerCreate', '', { query: { name: `s-${index}` }, body: { Image: 'busybox', HostConfig: { Memory: 8 * 1024 * 1024 } } }) })
await measure('create, constraint:zone==z1 + port', 300, async (index) => {
  await call(swarm, 'ContainerCreate', '', { query: { name: `c-${index}` }, body: { Image: 'busybox', Env: ['constraint:zone==z1'], HostConfig: { PortBindings: { '80/tcp': [{ HostPort: String(20000 + index) }] } } } })
})
await measure('create, constraint:node==/^node-1[0-9]$/', 300, async (index) => {
  await call(swarm, 'ContainerCreate', '', { query: { name: `r-${index}` }, body: { Image: 'busybox', Env: ['constraint:node==/^node-1[0-9]$/'] } })
})
const concurrent = 200
const t0 = process.hrtime.bigint()
await Promise.all(Array.from({ length: concurrent }, async (_, index) => await call(swarm, 'ContainerCreate', '', { query: { name: `k-${index}` }, body: { Image: 'busybox' } })))
const ms = Number(process.hrtime.bigint() - t0) / 1e6
console.log(`${`${concurrent} concurrent creates`.padEnd(44)} ${ms.toFixed(0).padStart(9)} ms total`)
await swarm.close()
process.exit(0)
