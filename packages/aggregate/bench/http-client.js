import { Agent, request as httpRequest } from 'node:http'

/** An HTTP client of swarmd's front, keeping its connections alive as the docker CLI does. */
export function httpClient (port, sockets) {
  const agent = new Agent({ keepAlive: true, maxSockets: sockets })
  const call = (method, path, body) => new Promise((resolve, reject) => {
    const headers = body === undefined ? {} : { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) }
    const req = httpRequest({ host: '127.0.0.1', port, method, path: `/v1.41${path}`, agent, headers }, (res) => {
      const chunks = []
      res.on('data', (chunk) => { chunks.push(chunk) })
      res.on('end', () => { resolve({ status: res.statusCode, body: Buffer.concat(chunks) }) })
      res.on('error', reject)
    })
    req.setTimeout(120_000, () => { req.destroy(new Error(`${method} ${path} timed out`)) })
    req.on('error', reject)
    req.end(body)
  })
  return { call, close: () => { agent.destroy() } }
}
