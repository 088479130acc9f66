// `pnpm --filter @libswarm/core bench`: the wire against its peers, in one run.
// The servers run in a child process, the clients here: two processes, as in production.
import { fork } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { cpus, tmpdir } from 'node:os'
import { join } from 'node:path'
import { createServer, dial, message, request } from '../dist/index.js'
import { grpcClient, rawRpcClient, rawStream } from './peers.js'

const CONCURRENCY = 64
const REQUESTS = Number(process.env.BENCH_REQUESTS ?? 100_000)
const STREAM_BYTES = Number(process.env.BENCH_STREAM_BYTES ?? 1024 * 1024 * 1024)
const CHUNK = Buffer.alloc(64 * 1024, 7)
const ARGS_NOTE = 'args: 3 short strings (~45 bytes of msgpack)'
const ARGS = ['container', '3f2a9c', '{"all":true,"size":false}']
const results = {}

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3)

function record (name, value) {
  results[name] = Math.max(results[name] ?? 0, value)
}

async function rate (name, total, concurrency, call) {
  const perWorker = Math.ceil(total / concurrency)
  for (let i = 0; i < 2_000; i++) await call()
  const started = process.hrtime.bigint()
  await Promise.all(Array.from({ length: concurrency }, async () => {
    for (let i = 0; i < perWorker; i++) await call()
  }))
  record(name, (perWorker * concurrency) / (Number(process.hrtime.bigint() - started) / 1e9))
}

async function timed (body) {
  const started = process.hrtime.bigint()
  const value = await body()
  return [value, Number(process.hrtime.bigint() - started) / 1e9]
}

async function * chunks (total) {
  for (let sent = 0; sent < total; sent += CHUNK.length) yield CHUNK
}

const dir = mkdtempSync(join(tmpdir(), 'libswarm-bench-'))
const servers = fork(new URL('./servers.js', import.meta.url), [dir], { stdio: 'inherit' })
await new Promise((resolve) => servers.once('message', resolve))
console.log(`${ARGS_NOTE}; node ${process.version}, ${cpus().length} cores (${cpus()[0]?.model ?? 'unknown'}), ${REQUESTS} requests at concurrency ${CONCURRENCY}, ${STREAM_BYTES / 2 ** 20} MiB streams\n`)

const UNITS = {}
try {
  const local = createServer({ Get: (m) => message('Ack', m.args) })
  const payload = { verb: 'Get', args: ARGS }
  const log = message('Log', ARGS)
  for (let round = 1; round <= ROUNDS; round++) {
    process.stdout.write(`round ${round}/${ROUNDS}\n`)
    await rate('in-process request/reply (createServer)', REQUESTS * 5, CONCURRENCY, () => request(local, 'Get', ARGS))

    const connection = await dial(`unix://${dir}/wire.sock`)
    await rate('wire request/reply, unix socket', REQUESTS, CONCURRENCY, () => request(connection.remote, 'Get', ARGS))

    const grpc = grpcClient(`${dir}/grpc.sock`)
    await rate('grpc-js unary echo, unix socket', Math.min(REQUESTS, 20_000), CONCURRENCY, () => grpc.call(payload))
    grpc.close()

    const raw = await rawRpcClient(`${dir}/rpc.sock`)
    await rate('raw-socket RPC (msgpackr frames), unix socket', REQUESTS, CONCURRENCY, () => raw.call(payload))
    raw.close()

    const [, oneWaySeconds] = await timed(async () => {
      for (let i = 0; i < REQUESTS * 3; i++) await connection.remote.send(log)
      const reply = await request(connection.remote, 'Stop')
      if (Number(reply.args[0]) !== REQUESTS * 3) throw new Error(`one-way: ${reply.args[0]} of ${REQUESTS * 3} arrived`)
    })
    record('wire one-way messages, one channel', REQUESTS * 3 / oneWaySeconds)

    const [up, upSeconds] = await timed(() => request(connection.remote, 'Set', [], { stream: chunks(STREAM_BYTES) }))
    if (Number(up.args[0]) < STREAM_BYTES) throw new Error(`upload: ${up.args[0]} bytes arrived`)
    record('wire byte stream client->server, unix socket', STREAM_BYTES / upSeconds / 1e6)

    const [down, downSeconds] = await timed(async () => {
      const reply = await request(connection.remote, 'File', [String(STREAM_BYTES)])
      let bytes = 0
      for await (const chunk of reply.stream) bytes += chunk.length
      return bytes
    })
    if (down < STREAM_BYTES) throw new Error(`download: ${down} bytes arrived`)
    record('wire byte stream server->client, unix socket', STREAM_BYTES / downSeconds / 1e6)
    await connection.close()

    const [rawBytes, rawSeconds] = await timed(() => rawStream(`${dir}/sink.sock`, STREAM_BYTES, CHUNK))
    if (rawBytes < STREAM_BYTES) throw new Error(`raw stream: ${rawBytes} bytes arrived`)
    record('raw socket byte stream, unix socket', STREAM_BYTES / rawSeconds / 1e6)
  }
  for (const name of Object.keys(results)) UNITS[name] = name.includes('byte stream') ? 'MB/s' : '/s'
  console.log(`\nbest of ${ROUNDS} rounds`)
  for (const [name, value] of Object.entries(results)) {
    const shown = UNITS[name] === 'MB/s' ? value.toFixed(0) : Math.round(value).toLocaleString('en-US')
    console.log(`  ${name.padEnd(46)} ${shown.padStart(12)} ${UNITS[name]}`)
  }

  const wireRate = results['wire request/reply, unix socket']
  const stream = Math.min(results['wire byte stream client->server, unix socket'], results['wire byte stream server->client, unix socket'])
  console.log('\nratios (targets)')
  console.log(`  wire / grpc-js request/reply      ${(wireRate / results['grpc-js unary echo, unix socket']).toFixed(1)}x   (>= 10x)`)
  console.log(`  wire / raw RPC request/reply      ${(wireRate / results['raw-socket RPC (msgpackr frames), unix socket']).toFixed(2)}x  (>= 0.5x)`)
  console.log(`  wire / raw socket byte stream     ${(stream / results['raw socket byte stream, unix socket'] * 100).toFixed(0)}%    (>= 60%)`)
  console.log(`  in-process request/reply          ${Math.round(results['in-process request/reply (createServer)']).toLocaleString('en-US')}/s (>= 500,000/s)`)
} finally {
  servers.disconnect()
  await new Promise((resolve) => servers.once('exit', resolve))
  rmSync(dir, { recursive: true, force: true })
}
