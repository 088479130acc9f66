// A minimal engine for the benchmark, in its own process: ping, a container list, a byte stream.
import { createServer } from 'node:http'

const socketPath = process.argv[2]
const list = JSON.stringify(Array.from({ length: 10 }, (_, i) => ({
  Id: `${i}`.repeat(64).slice(0, 64), Names: [`/c${i}`], Image: 'busybox', Command: 'sh', Created: 1700000000, State: 'running', Status: 'Up', Labels: {}
})))
const chunk = Buffer.alloc(64 * 1024, 7)
const headers = { 'Api-Version': '1.41', Ostype: 'linux', Server: 'Docker/20.10.24 (linux)', 'Docker-Experimental': 'false' }

createServer((req, res) => {
  if (req.url.endsWith('/_ping')) { res.writeHead(200, { ...headers, 'Content-Type': 'text/plain' }).end('OK'); return }
  if (req.url.includes('/containers/json')) { res.writeHead(200, { ...headers, 'Content-Type': 'application/json' }).end(list); return }
  if (req.url.includes('/images/get')) {
    const total = Number(new URL(req.url, 'http://x').searchParams.get('bytes'))
    res.writeHead(200, { ...headers, 'Content-Type': 'application/x-tar' })
    let sent = 0
    const pump = () => {
      while (sent < total) {
        sent += chunk.length
        if (!res.write(chunk)) { res.once('drain', pump); return }
      }
      res.end()
    }
    pump()
    return
  }
  res.writeHead(404, { 'Content-Type': 'application/json' }).end('{"message":"not found"}')
}).listen(socketPath, () => process.send('ready'))
