// The server side of one benchmark subject, in its own process: `node servers.js SUBJECT DIR`.
import { createServer, listen, message } from '../dist/index.js'
import { startGrpcServer, startH2StreamServer, startRawRpcServer, startRawSinkServer } from './peers.js'

const [subject, dir] = process.argv.slice(2)

function wireService () {
  let oneWay = 0
  return createServer({
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
}

const starters = {
  wire: async () => [await listen(`unix://${dir}/wire.sock`, { service: wireService() })],
  grpc: async () => [await startGrpcServer(`${dir}/grpc.sock`)],
  raw: async () => [await startRawRpcServer(`${dir}/rpc.sock`), await startRawSinkServer(`${dir}/sink.sock`)],
  h2: async () => [await startH2StreamServer(`${dir}/h2.sock`)]
}
const closers = await starters[subject]()
process.send?.('ready')
process.on('disconnect', async () => {
  for (const closer of closers) await closer.close()
  process.exit(0)
})
