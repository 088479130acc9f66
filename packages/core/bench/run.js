// `pnpm --filter @libswarm/core bench`: the wire against its peers, in one run.
// Each subject (in-process, wire, grpc-js, raw socket, bare node:http2) runs in a client process and a server
// process of its own, as in production: measured in one process, the peers measured first
// slowed what came after them (the wire's upload ran ~30% slower after grpc-js's http2 calls).
import { fork } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { cpus, loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'

const REQUESTS = Number(process.env.BENCH_REQUESTS ?? 100_000)
const STREAM_BYTES = Number(process.env.BENCH_STREAM_BYTES ?? 1024 * 1024 * 1024)
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3)
const SUBJECTS = (process.env.BENCH_SUBJECTS ?? 'in-process,wire,grpc,raw,h2').split(',')
const results = {}

function child (script, args) {
  return fork(new URL(script, import.meta.url), args, { stdio: 'inherit' })
}

function exited (process) {
  return new Promise((resolve) => {
    if (process.exitCode !== null || process.signalCode !== null) resolve()
    else process.once('exit', resolve)
  })
}

async function measure (subject, dir) {
  let server
  if (subject !== 'in-process') {
    server = child('./servers.js', [subject, dir])
    await new Promise((resolve, reject) => {
      server.once('message', resolve)
      server.once('exit', (code) => { reject(new Error(`${subject} server exited with ${code}`)) })
    })
  }
  try {
    const client = child('./clients.js', [subject, dir])
    const figures = await new Promise((resolve, reject) => {
      client.once('message', resolve)
      client.once('exit', (code) => { reject(new Error(`${subject} client exited with ${code}`)) })
    })
    await exited(client)
    for (const [name, value] of Object.entries(figures)) results[name] = Math.max(results[name] ?? 0, value)
  } finally {
    if (server !== undefined) {
      server.disconnect()
      await exited(server)
    }
  }
}

const dir = mkdtempSync(join(tmpdir(), 'libswarm-bench-'))
console.log(`args: 3 short strings (~45 bytes of msgpack); node ${process.version}, ${cpus().length} cores (${cpus()[0]?.model ?? 'unknown'}), load average ${loadavg()[0].toFixed(2)}, ${REQUESTS} requests at concurrency 64, ${STREAM_BYTES / 2 ** 20} MiB streams\n`)
try {
  for (let round = 1; round <= ROUNDS; round++) {
    process.stdout.write(`round ${round}/${ROUNDS}\n`)
    for (const subject of SUBJECTS) await measure(subject, dir)
  }
} finally {
  rmSync(dir, { recursive: true, force: true })
}

const ORDER = [
  'in-process request/reply (createServer)',
  'wire request/reply, unix socket',
  'grpc-js unary echo, unix socket',
  'raw-socket RPC (msgpackr frames), unix socket',
  'wire one-way messages, one channel',
  'wire byte stream client->server, unix socket',
  'wire byte stream server->client, unix socket',
  'raw socket byte stream, unix socket',
  'bare node:http2 stream client->server',
  'bare node:http2 stream server->client'
]
console.log(`\nbest of ${ROUNDS} rounds`)
for (const name of ORDER) {
  const value = results[name] ?? NaN
  const stream = name.includes('stream')
  const shown = stream ? value.toFixed(0) : Math.round(value).toLocaleString('en-US')
  console.log(`  ${name.padEnd(46)} ${shown.padStart(12)} ${stream ? 'MB/s' : '/s'}`)
}

const wireRate = results['wire request/reply, unix socket']
const rawStreamRate = results['raw socket byte stream, unix socket']
const up = results['wire byte stream client->server, unix socket']
const down = results['wire byte stream server->client, unix socket']
console.log(`\nload average at the end ${loadavg()[0].toFixed(2)}`)
console.log('ratios (targets)')
console.log(`  wire / grpc-js request/reply      ${(wireRate / results['grpc-js unary echo, unix socket']).toFixed(1)}x   (>= 10x)`)
console.log(`  wire / raw RPC request/reply      ${(wireRate / results['raw-socket RPC (msgpackr frames), unix socket']).toFixed(2)}x  (>= 0.5x)`)
console.log(`  wire / raw socket byte stream     ${(Math.min(up, down) / rawStreamRate * 100).toFixed(0)}%    (>= 60%; up ${(up / rawStreamRate * 100).toFixed(0)}%, down ${(down / rawStreamRate * 100).toFixed(0)}%)`)
console.log(`  in-process request/reply          ${Math.round(results['in-process request/reply (createServer)']).toLocaleString('en-US')}/s (>= 500,000/s)`)
const bareUp = results['bare node:http2 stream client->server']
const bareDown = results['bare node:http2 stream server->client']
console.log(`  wire / bare node:http2 stream     up ${(up / bareUp * 100).toFixed(0)}%, down ${(down / bareDown * 100).toFixed(0)}% (the multiplexer's own ceiling)`)
