// The floor any Node proxy pays: a bare node:http reverse proxy from one unix socket to
// another (keep-alive to the engine, bodies piped, no hijack support). The benchmark runs
// it as a named peer, so swarmd's overhead can be told apart from the cost of one more hop.
// Usage: node floor-proxy.js LISTEN_SOCKET ENGINE_SOCKET
import { Agent, createServer, request } from 'node:http'
import { rmSync } from 'node:fs'

const [listen, engine] = process.argv.slice(2)
const agent = new Agent({ keepAlive: true })
const server = createServer((req, res) => {
  const upstream = request({ socketPath: engine, agent, method: req.method, path: req.url, headers: req.headers }, (reply) => {
    res.writeHead(reply.statusCode ?? 502, reply.headers)
    reply.pipe(res)
  })
  upstream.on('error', (error) => {
    res.writeHead(502)
    res.end(String(error))
  })
  req.pipe(upstream)
})
rmSync(listen, { force: true })
server.listen(listen)
process.on('SIGTERM', () => {
  server.close()
  agent.destroy()
  process.exit(0)
})
