// `pnpm --filter @libswarm/dockerclient bench`: the cost of going through dockerclient, against
// dockerode and plain node:http talking to the same fake engine (another process, unix socket).
import { fork } from 'node:child_process'
import { request as httpRequest, Agent } from 'node:http'
import { mkdtempSync, rmSync } from 'node:fs'
import { cpus, tmpdir } from 'node:os'
import { join } from 'node:path'
import Dockerode from 'dockerode'
import { request } from '@libswarm/core'
import { decodeDockerReply, encodeDockerRequest } from '@libswarm/docker-api'
import { createDockerClient } from '../dist/index.js'

const REQUESTS = Number(process.env.BENCH_REQUESTS ?? 20_000)
const CONCURRENCY = 16
const STREAM_BYTES = Number(process.env.BENCH_STREAM_BYTES ?? 512 * 1024 * 1024)

const dir = mkdtempSync(join(tmpdir(), 'dockerclient-bench-'))
const socketPath = join(dir, 'engine.sock')
const engine = fork(new URL('./fake-engine.js', import.meta.url), [socketPath], { stdio: 'inherit' })
await new Promise((resolve) => engine.once('message', resolve))
console.log(`node ${process.version}, ${cpus().length} cores, ${REQUESTS} requests at concurrency ${CONCURRENCY}, ${STREAM_BYTES / 2 ** 20} MiB stream\n`)

async function rate (name, call) {
  for (let i = 0; i < 500; i++) await call()
  const perWorker = Math.ceil(REQUESTS / CONCURRENCY)
  const started = process.hrtime.bigint()
  await Promise.all(Array.from({ length: CONCURRENCY }, async () => { for (let i = 0; i < perWorker; i++) await call() }))
  const seconds = Number(process.hrtime.bigint() - started) / 1e9
  console.log(`${name.padEnd(48)} ${Math.round(perWorker * CONCURRENCY / seconds).toLocaleString('en-US').padStart(8)} /s`)
}

async function throughput (name, read) {
  const started = process.hrtime.bigint()
  const bytes = await read()
  const seconds = Number(process.hrtime.bigint() - started) / 1e9
  console.log(`${name.padEnd(48)} ${(bytes / seconds / 1e6).toFixed(0).padStart(8)} MB/s`)
}

const agent = new Agent({ keepAlive: true })
function plain (path) {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ socketPath, path, agent }, (res) => {
      const chunks = []
      res.on('data', (c) => chunks.push(c))
      res.on('end', () => resolve(Buffer.concat(chunks).toString()))
      res.on('error', reject)
    })
    req.on('error', reject)
    req.end()
  })
}

const client = createDockerClient({ address: `unix://${socketPath}` })
async function viaClient (docker) {
  const message = encodeDockerRequest(docker)
  return decodeDockerReply(await request(client, message.verb, message.args, { stream: message.stream }))
}
const dockerode = new Dockerode({ socketPath })

try {
  await rate('ContainerList, node:http keep-alive (floor)', () => plain('/v1.41/containers/json'))
  await rate('ContainerList, dockerode listContainers', () => dockerode.listContainers())
  await rate('ContainerList, dockerclient (message in, Ack out)', () => viaClient({ operation: 'ContainerList', target: '', version: '1.41' }))
  await rate('SystemPing, dockerclient', () => viaClient({ operation: 'SystemPing', target: '' }))

  await throughput('image save stream, node:http', () => new Promise((resolve, reject) => {
    httpRequest({ socketPath, path: `/images/get?bytes=${STREAM_BYTES}`, agent }, (res) => {
      let bytes = 0
      res.on('data', (c) => { bytes += c.length })
      res.on('end', () => resolve(bytes))
      res.on('error', reject)
    }).end()
  }))
  await throughput('image save stream, dockerclient (pulled)', async () => {
    const reply = await viaClient({ operation: 'ImageGetAll', target: '', query: { bytes: String(STREAM_BYTES) } })
    let bytes = 0
    for await (const chunk of reply.stream) bytes += chunk.length
    return bytes
  })
} finally {
  await client.close()
  agent.destroy()
  engine.kill()
  rmSync(dir, { recursive: true, force: true })
}
