// The client side of one benchmark subject, in its own process: `node clients.js SUBJECT DIR`.
// Sends its figures ({ name: value }) to the parent.
import { createServer, dial, message, request } from '../dist/index.js'
import { grpcClient, h2Streams, rawRpcClient, rawStream } from './peers.js'

const [subject, dir] = process.argv.slice(2)
const CONCURRENCY = 64
const REQUESTS = Number(process.env.BENCH_REQUESTS ?? 100_000)
const STREAM_BYTES = Number(process.env.BENCH_STREAM_BYTES ?? 1024 * 1024 * 1024)
const CHUNK = Buffer.alloc(64 * 1024, 7)
const ARGS = ['container', '3f2a9c', '{"all":true,"size":false}']
const PAYLOAD = { verb: 'Get', args: ARGS }
const results = {}

async function concurrently (perWorker, call) {
  await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
    for (let i = 0; i < perWorker; i++) await call()
  }))
}

/** Calls per second at CONCURRENCY, after a warm-up of a fifth as many calls the same way (JIT). */
async function rate (name, total, call) {
  const perWorker = Math.ceil(total / CONCURRENCY)
  await concurrently(Math.ceil(perWorker / 5), call)
  const started = process.hrtime.bigint()
  await concurrently(perWorker, call)
  results[name] = (perWorker * CONCURRENCY) / seconds(started)
}

function seconds (started) {
  return Number(process.hrtime.bigint() - started) / 1e9
}

async function * chunks (total) {
  for (let sent = 0; sent < total; sent += CHUNK.length) yield CHUNK
}

const subjects = {
  'in-process': async () => {
    const local = createServer({ Get: (m) => message('Ack', m.args) })
    await rate('in-process request/reply (createServer)', REQUESTS * 5, () => request(local, 'Get', ARGS))
  },
  wire: async () => {
    const connection = await dial(`unix://${dir}/wire.sock`)
    await rate('wire request/reply, unix socket', REQUESTS, () => request(connection.remote, 'Get', ARGS))

    const log = message('Log', ARGS)
    let started = process.hrtime.bigint()
    for (let i = 0; i < REQUESTS * 3; i++) await connection.remote.send(log)
    const count = await request(connection.remote, 'Stop')
    if (Number(count.args[0]) !== REQUESTS * 3) throw new Error(`one-way: ${count.args[0]} of ${REQUESTS * 3} arrived`)
    results['wire one-way messages, one channel'] = REQUESTS * 3 / seconds(started)

    started = process.hrtime.bigint()
    const up = await request(connection.remote, 'Set', [], { stream: chunks(STREAM_BYTES) })
    if (Number(up.args[0]) < STREAM_BYTES) throw new Error(`upload: ${up.args[0]} bytes arrived`)
    results['wire byte stream client->server, unix socket'] = STREAM_BYTES / seconds(started) / 1e6

    started = process.hrtime.bigint()
    const reply = await request(connection.remote, 'File', [String(STREAM_BYTES)])
    let down = 0
    for await (const chunk of reply.stream) down += chunk.length
    if (down < STREAM_BYTES) throw new Error(`download: ${down} bytes arrived`)
    results['wire byte stream server->client, unix socket'] = STREAM_BYTES / seconds(started) / 1e6
    await connection.close()
  },
  grpc: async () => {
    const grpc = grpcClient(`${dir}/grpc.sock`)
    await rate('grpc-js unary echo, unix socket', Math.min(REQUESTS, 20_000), () => grpc.call(PAYLOAD))
    grpc.close()
  },
  raw: async () => {
    const raw = await rawRpcClient(`${dir}/rpc.sock`)
    await rate('raw-socket RPC (msgpackr frames), unix socket', REQUESTS, () => raw.call(PAYLOAD))
    raw.close()
    const started = process.hrtime.bigint()
    const bytes = await rawStream(`${dir}/sink.sock`, STREAM_BYTES, CHUNK)
    if (bytes < STREAM_BYTES) throw new Error(`raw stream: ${bytes} bytes arrived`)
    results['raw socket byte stream, unix socket'] = STREAM_BYTES / seconds(started) / 1e6
  },
  h2: async () => {
    const [up, upSeconds, down, downSeconds] = await h2Streams(`${dir}/h2.sock`, STREAM_BYTES, CHUNK)
    if (up < STREAM_BYTES || down < STREAM_BYTES) throw new Error(`bare http2: ${up} bytes up, ${down} down`)
    results['bare node:http2 stream client->server'] = STREAM_BYTES / upSeconds / 1e6
    results['bare node:http2 stream server->client'] = STREAM_BYTES / downSeconds / 1e6
  }
}

await subjects[subject]()
process.send(results)
process.disconnect()
