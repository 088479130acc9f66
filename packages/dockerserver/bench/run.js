// `pnpm --filter @libswarm/dockerserver bench`: dockerserver (HTTP -> messages -> HTTP) against
// bare node:http serving the same answers. Servers in a child process, clients here.
import { fork } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import http from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

const REQUESTS = Number(process.env.BENCH_REQUESTS ?? 20_000)
const CONCURRENCY = 32
const STREAM_BYTES = Number(process.env.BENCH_STREAM_BYTES ?? 512 * 1024 * 1024)

const dir = mkdtempSync(join(tmpdir(), 'dockerserver-bench-'))
const frontPath = join(dir, 'front.sock')
const barePath = join(dir, 'bare.sock')
const child = fork(new URL('./servers.js', import.meta.url), [frontPath, barePath], { env: { ...process.env, BENCH_STREAM_BYTES: String(STREAM_BYTES) } })
await new Promise((resolve) => child.once('message', resolve))

function get (agent, socketPath, path) {
  return new Promise((resolve, reject) => {
    const req = http.get({ agent, socketPath, path }, (res) => {
      let bytes = 0
      res.on('data', (chunk) => { bytes += chunk.length })
      res.on('end', () => resolve(bytes))
    })
    req.on('error', reject)
  })
}

async function requestsPerSecond (socketPath) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: CONCURRENCY })
  let next = 0
  const started = process.hrtime.bigint()
  await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
    while (next++ < REQUESTS) await get(agent, socketPath, '/v1.41/containers/json')
  }))
  const seconds = Number(process.hrtime.bigint() - started) / 1e9
  agent.destroy()
  return Math.round(REQUESTS / seconds)
}

async function streamMiBps (socketPath) {
  const agent = new http.Agent({ keepAlive: false })
  const started = process.hrtime.bigint()
  const bytes = await get(agent, socketPath, '/v1.41/containers/x/export')
  const seconds = Number(process.hrtime.bigint() - started) / 1e9
  if (bytes !== STREAM_BYTES) throw new Error(`streamed ${bytes} of ${STREAM_BYTES} bytes`)
  return Math.round(bytes / 1024 / 1024 / seconds)
}

const results = {}
for (const [name, path] of [['dockerserver', frontPath], ['node:http', barePath]]) {
  await requestsPerSecond(path) // warm-up
  results[name] = { 'GET /containers/json req/s': await requestsPerSecond(path), 'export stream MiB/s': await streamMiBps(path) }
}
console.log(`${REQUESTS} requests, ${CONCURRENCY} concurrent, keep-alive; ${STREAM_BYTES / 1024 / 1024} MiB streamed in 64 KiB chunks`)
console.table(results)
child.send('close')
await new Promise((resolve) => child.once('exit', resolve))
rmSync(dir, { recursive: true, force: true })
