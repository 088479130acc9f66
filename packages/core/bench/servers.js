// The server side of the benchmark, in its own process: a wire listener and the peers.
import { createServer, listen, message } from '../dist/index.js'
import { startGrpcServer, startRawRpcServer, startRawSinkServer } from './peers.js'

const dir = process.argv[2]
let oneWay = 0
const service = createServer({
  Get: (m) => message('Ack', m.args),
  Log: () => { oneWay++ },
  Stop: () => { const count = oneWay; oneWay = 0; return message('Ack', [String(count)]) },
  Set: async (m) => {
    let bytes = 0
    for await (const chunk of m.stream) bytes += chunk.length
    return message('Ack', [String(bytes)])
  },
  File: (m) => {
    const total = Number(m.args[0])
    const chunk = Buffer.alloc(64 * 1024, 7)
    return message('Ack', [], {
      stream: (async function * () { for (let sent = 0; sent < total; sent += chunk.length) yield chunk })()
    })
  }
})
const closers = [
  await listen(`unix://${dir}/wire.sock`, { service }),
  await startGrpcServer(`${dir}/grpc.sock`),
  await startRawRpcServer(`${dir}/rpc.sock`),
  await startRawSinkServer(`${dir}/sink.sock`)
]
process.send?.('ready')
process.on('disconnect', async () => {
  for (const closer of closers) await closer.close()
  process.exit(0)
})
