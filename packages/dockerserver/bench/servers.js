// Child process of run.js: serves the same answers two ways on unix sockets, dockerserver in
// front of an in-process backend (the libswarm path) and bare node:http (the ceiling).
import http from 'node:http'
import { createServer } from '@libswarm/core'
import { decodeDockerRequest, encodeDockerReply } from '@libswarm/docker-api'
import { createDockerServer } from '../dist/index.js'

const [frontPath, barePath] = process.argv.slice(2)
const LIST = JSON.stringify(Array.from({ length: 10 }, (_, index) => ({ Id: String(index).repeat(64), Names: [`/c${index}`], Image: 'busybox', State: 'running', Status: 'Up' })))
const CHUNK = Buffer.alloc(64 * 1024, 7)
const STREAM_BYTES = Number(process.env.BENCH_STREAM_BYTES)

async function * chunks () {
  for (let sent = 0; sent < STREAM_BYTES; sent += CHUNK.length) yield CHUNK
}

const backend = createServer({
  default: (message) => {
    const request = decodeDockerRequest(message)
    if (request.operation === 'ContainerExport') return encodeDockerReply({ status: 200, headers: { 'Content-Type': 'application/x-tar' }, stream: chunks() })
    return encodeDockerReply({ status: 200, body: LIST, headers: { 'Content-Type': 'application/json' } })
  }
})
const front = createDockerServer({ addresses: [`unix://${frontPath}`], next: backend })
await front.start()

const bare = http.createServer(async (req, res) => {
  if (req.url.endsWith('/export')) {
    res.writeHead(200, { 'Content-Type': 'application/x-tar' })
    for await (const chunk of chunks()) {
      if (!res.write(chunk)) await new Promise((resolve) => res.once('drain', resolve))
    }
    res.end()
    return
  }
  res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(LIST) })
  res.end(LIST)
})
await new Promise((resolve) => bare.listen(barePath, resolve))
process.send('ready')
process.on('message', async () => {
  await front.close()
  bare.close()
  process.exit(0)
})
