// The swarmd of the scale benchmark, run as its own process so that its memory is measured
// alone: `dockerserver tcp://127.0.0.1:0` in front of `aggregate CHILD...`, where each
// child is `simulator --name sim-I` (in-process engines) or `dockerclient tcp://127.0.0.1:P`
// (engines served by packages/simulator/bench/serve-many.js).
//
//   node bench/swarm-front.js --mode in-process --engines 1000 [--aggregate-args "--strategy spread"]
//   node bench/swarm-front.js --mode tcp --ports 41000-41249,41250-41499 [--aggregate-args ...]
//
// Prints {"ready":true,"port":P,"startupMs":MS,"healthyMs":MS,"healthy":N} once listening and
// every node is healthy (or --healthy-timeout seconds passed). On stdin, the
// line `stats` prints {"rss":...,"heapUsed":...,"cpuUserMs":...}; closing stdin (or SIGTERM)
// closes the chain and exits.
import { resolve as resolvePath } from 'node:path'
import { PerformanceObserver, constants as perfConstants } from 'node:perf_hooks'
import { createInterface } from 'node:readline'
import { pathToFileURL } from 'node:url'
import { parseArgs } from 'node:util'
import { request, spawnChain } from '@libswarm/core'
import { decodeDockerReply, encodeDockerRequest } from '@libswarm/docker-api'
import { dockerclient } from '@libswarm/dockerclient'
import { createDockerServer } from '@libswarm/dockerserver'
import { simulator } from '@libswarm/simulator'

const { values } = parseArgs({
  options: {
    mode: { type: 'string', default: 'in-process' },
    engines: { type: 'string', default: '1000' },
    ports: { type: 'string', default: '' },
    'aggregate-args': { type: 'string', default: '' },
    'healthy-timeout': { type: 'string', default: '600' },
    'aggregate-module': { type: 'string' }
  }
})
// another build of aggregate (a candidate fix) can be measured against dist with --aggregate-module
const { aggregate } = await import(values['aggregate-module'] === undefined ? '../dist/index.js' : pathToFileURL(resolvePath(values['aggregate-module'])).href)

function portsOf (text) {
  const ports = []
  for (const range of text.split(',').filter((part) => part !== '')) {
    const [low, high = low] = range.split('-').map(Number)
    for (let port = low; port <= high; port++) ports.push(port)
  }
  return ports
}

const specs = values.mode === 'tcp'
  ? portsOf(values.ports).map((port) => `"dockerclient tcp://127.0.0.1:${port}"`)
  : Array.from({ length: Number(values.engines) }, (_, index) => `"simulator --name sim-${index}"`)
const services = { aggregate, simulator, dockerclient }
// garbage-collection pauses, which make most of a latency tail once the cache is large
const gc = { count: 0, totalMs: 0, maxMs: 0, major: 0, majorMaxMs: 0 }
new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) {
    gc.count++
    gc.totalMs += entry.duration
    gc.maxMs = Math.max(gc.maxMs, entry.duration)
    if ((entry.detail?.kind ?? entry.kind) === perfConstants.NODE_PERFORMANCE_GC_MAJOR) {
      gc.major++
      gc.majorMaxMs = Math.max(gc.majorMaxMs, entry.duration)
    }
  }
}).observe({ entryTypes: ['gc'] })
const began = performance.now()
const chain = await spawnChain([`aggregate ${values['aggregate-args']} ${specs.join(' ')}`], { resolve: (name) => services[name] })
const server = createDockerServer({ addresses: ['tcp://127.0.0.1:0'], next: chain.head, closeTimeoutMs: 2000 })
await server.start()
const startupMs = performance.now() - began
// aggregate serves once its first syncs end or time out; nodes that timed out join later
let healthy = await healthyNodes()
while (healthy < specs.length && performance.now() - began < Number(values['healthy-timeout']) * 1000) {
  await new Promise((resolve) => setTimeout(resolve, 250))
  healthy = await healthyNodes()
}
const healthyMs = performance.now() - began
const port = Number(new URL(server.addresses[0].replace(/^tcp:/, 'http:')).port)
process.stdout.write(JSON.stringify({ ready: true, port, startupMs, healthyMs, healthy, nodes: specs.length, pid: process.pid }) + '\n')

async function healthyNodes () {
  const info = JSON.parse(decodeDockerReply(await request(chain.head, ...messageOf({ operation: 'SystemInfo', target: '' }))).body)
  return (info.SystemStatus ?? []).filter(([key, value]) => key === '  └ Status' && value === 'Healthy').length
}

function messageOf (dockerRequest) {
  const message = encodeDockerRequest(dockerRequest)
  return [message.verb, message.args]
}

let closing
async function close () {
  closing ??= (async () => {
    await server.close()
    await chain.close()
    process.exit(0)
  })()
  await closing
}
process.on('SIGTERM', () => { void close() })
createInterface({ input: process.stdin })
  .on('line', (line) => {
    if (line.trim() !== 'stats') return
    const memory = process.memoryUsage()
    const usage = process.resourceUsage()
    process.stdout.write(JSON.stringify({ rss: memory.rss, heapUsed: memory.heapUsed, external: memory.external, cpuUserMs: usage.userCPUTime / 1000, cpuSystemMs: usage.systemCPUTime / 1000, gc: { ...gc } }) + '\n')
  })
  .on('close', () => { void close() })
