// Serves many simulated engines over loopback TCP from one process, each as its own chain
// `dockerserver tcp://127.0.0.1:PORT` -> `simulator --name NAME`, as swarmd would run it.
// Used by aggregate's scale benchmark (packages/aggregate/bench/scale.js) to put 1,000
// engines behind real TCP connections with a few processes.
//
//   node bench/serve-many.js --first-port 41000 --count 250 [--first-index 0] [--prefix sim-]
//
// Prints one JSON line {"ready":true,"ports":[...]} once every engine listens, then serves
// until stdin closes or SIGTERM/SIGINT, and closes every chain before exiting.
import { parseArgs } from 'node:util'
import { spawnChain } from '@libswarm/core'
import { dockerserver } from '@libswarm/dockerserver'
import { simulator } from '../dist/index.js'

const { values } = parseArgs({
  options: {
    'first-port': { type: 'string' },
    count: { type: 'string', default: '250' },
    'first-index': { type: 'string', default: '0' },
    prefix: { type: 'string', default: 'sim-' },
    'event-history': { type: 'string' }
  }
})
const firstPort = Number(values['first-port'])
const count = Number(values.count)
const firstIndex = Number(values['first-index'])
if (!Number.isInteger(firstPort) || firstPort <= 0 || !Number.isInteger(count) || count <= 0) {
  console.error('usage: serve-many.js --first-port PORT --count N [--first-index I] [--prefix sim-] [--event-history N]')
  process.exit(2)
}

const services = { dockerserver, simulator }
const resolve = (name) => services[name]
const chains = []
let stopping
const stop = async (code) => {
  stopping ??= (async () => {
    // close the fronts in parallel: 250 graceful closes one after the other take long
    await Promise.allSettled(chains.map(async (chain) => { await chain.close() }))
    process.exit(code)
  })()
  await stopping
}
process.on('SIGTERM', () => { void stop(0) })
process.on('SIGINT', () => { void stop(0) })
process.stdin.on('end', () => { void stop(0) })
process.stdin.resume()

try {
  const ports = []
  for (let offset = 0; offset < count; offset++) {
    const port = firstPort + offset
    const index = firstIndex + offset
    const chain = await spawnChain([
      // an idle connection stays open, as dockerd keeps it (no idle timeout): a client pinging
      // every 10 s reuses its connection instead of connecting again each time
      `dockerserver tcp://127.0.0.1:${port} --keep-alive-timeout 0`,
      `simulator --name ${values.prefix}${index} --seed ${index}${values['event-history'] === undefined ? '' : ` --event-history ${values['event-history']}`}`
    ], { resolve })
    chains.push(chain)
    ports.push(port)
  }
  process.stdout.write(JSON.stringify({ ready: true, ports }) + '\n')
} catch (error) {
  process.stdout.write(JSON.stringify({ ready: false, error: String(error?.message ?? error) }) + '\n')
  await stop(1)
}
