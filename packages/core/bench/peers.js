// Peers the wire is measured against: @grpc/grpc-js unary, a minimal raw-socket RPC
// (length-prefixed msgpackr frames with request ids on one socket) and a raw socket stream
// (the ceilings), and one bare node:http2 stream each way (the multiplexer's own ceiling).
import http2 from 'node:http2'
import net from 'node:net'
import grpc from '@grpc/grpc-js'
import { pack, unpack } from 'msgpackr'

const echoMethod = {
  echo: {
    path: '/libswarm.bench.Bench/Echo',
    requestStream: false,
    responseStream: false,
    requestSerialize: (value) => pack(value),
    requestDeserialize: (bytes) => unpack(bytes),
    responseSerialize: (value) => pack(value),
    responseDeserialize: (bytes) => unpack(bytes)
  }
}

export async function startGrpcServer (path) {
  const server = new grpc.Server()
  server.addService(echoMethod, { echo: (call, callback) => { callback(null, call.request) } })
  await new Promise((resolve, reject) => {
    server.bindAsync(`unix://${path}`, grpc.ServerCredentials.createInsecure(), (error) => { error ? reject(error) : resolve() })
  })
  return { close: () => new Promise((resolve) => { server.tryShutdown(() => resolve()) }) }
}

export function grpcClient (path) {
  const Client = grpc.makeGenericClientConstructor(echoMethod, 'Bench')
  const client = new Client(`unix://${path}`, grpc.credentials.createInsecure())
  return {
    call: (value) => new Promise((resolve, reject) => { client.echo(value, (error, reply) => { error ? reject(error) : resolve(reply) }) }),
    close: () => { client.close() }
  }
}

/** Frames: u32 length of (id + payload), u32 request id, msgpackr payload. */
function frameReader (onFrame) {
  let pending = null
  return (chunk) => {
    let data = pending === null ? chunk : Buffer.concat([pending, chunk])
    let offset = 0
    while (data.length - offset >= 4) {
      const length = data.readUInt32BE(offset)
      if (data.length - offset - 4 < length) break
      onFrame(data.readUInt32BE(offset + 4), data.subarray(offset + 8, offset + 4 + length))
      offset += 4 + length
    }
    pending = offset < data.length ? data.subarray(offset) : null
  }
}

function frame (id, payload) {
  const out = Buffer.allocUnsafe(8 + payload.length)
  out.writeUInt32BE(4 + payload.length, 0)
  out.writeUInt32BE(id, 4)
  payload.copy(out, 8)
  return out
}

export async function startRawRpcServer (path) {
  const server = net.createServer((socket) => {
    socket.on('error', () => {})
    socket.on('data', frameReader((id, payload) => { socket.write(frame(id, pack(unpack(payload)))) }))
  })
  await new Promise((resolve) => server.listen(path, resolve))
  return { close: () => new Promise((resolve) => server.close(() => resolve())) }
}

export async function rawRpcClient (path) {
  const socket = net.connect(path)
  await new Promise((resolve, reject) => { socket.once('connect', resolve); socket.once('error', reject) })
  const waiting = new Map()
  let nextId = 1
  socket.on('data', frameReader((id, payload) => {
    const resolve = waiting.get(id)
    waiting.delete(id)
    resolve(unpack(payload))
  }))
  return {
    call: (value) => new Promise((resolve) => {
      const id = nextId++
      waiting.set(id, resolve)
      socket.write(frame(id, pack(value)))
    }),
    close: () => { socket.destroy() }
  }
}

/** Counts the bytes of each connection and answers the count once the client ends. */
export async function startRawSinkServer (path) {
  const server = net.createServer((socket) => {
    let bytes = 0
    socket.on('data', (chunk) => { bytes += chunk.length })
    socket.on('end', () => { socket.end(String(bytes)) })
    socket.on('error', () => {})
  })
  await new Promise((resolve) => server.listen(path, resolve))
  return { close: () => new Promise((resolve) => server.close(() => resolve())) }
}

export async function rawStream (path, total, chunk) {
  const socket = net.connect(path)
  await new Promise((resolve, reject) => { socket.once('connect', resolve); socket.once('error', reject) })
  let answer = ''
  socket.on('data', (data) => { answer += data })
  const ended = new Promise((resolve) => socket.on('end', resolve))
  for (let sent = 0; sent < total; sent += chunk.length) {
    if (!socket.write(chunk)) await new Promise((resolve) => socket.once('drain', resolve))
  }
  socket.end()
  await ended
  return Number(answer)
}

const H2_SETTINGS = { initialWindowSize: 16 * 1024 * 1024, maxFrameSize: 16 * 1024 * 1024 - 1 }

/** A bare node:http2 server with the wire's window settings: POST bodies are counted, GET /N answers N bytes. */
export async function startH2StreamServer (path) {
  const server = http2.createServer({ settings: H2_SETTINGS, maxSessionMemory: 512 })
  server.on('session', (session) => { session.setLocalWindowSize(H2_SETTINGS.initialWindowSize) })
  server.on('stream', async (stream, headers) => {
    stream.on('error', () => {})
    if (headers[':method'] === 'POST') {
      let bytes = 0
      stream.on('data', (chunk) => { bytes += chunk.length })
      stream.on('end', () => { stream.respond({ ':status': 200 }); stream.end(String(bytes)) })
      return
    }
    stream.respond({ ':status': 200 })
    const total = Number(headers[':path'].slice(1))
    const chunk = Buffer.alloc(64 * 1024, 7)
    for (let sent = 0; sent < total; sent += chunk.length) {
      stream.write(chunk)
      if (stream.writableLength >= 1024 * 1024) await new Promise((resolve) => stream.once('drain', resolve))
    }
    stream.end()
  })
  await new Promise((resolve) => server.listen(path, resolve))
  return { close: () => new Promise((resolve) => { server.close(() => resolve()) }) }
}

/** One bare HTTP/2 stream each way, `total` bytes: resolves with [bytes up, seconds up, bytes down, seconds down]. */
export async function h2Streams (path, total, chunk) {
  const session = http2.connect('http://localhost', { settings: H2_SETTINGS, maxSessionMemory: 512, createConnection: () => net.connect(path) })
  await new Promise((resolve, reject) => { session.once('connect', resolve); session.once('error', reject) })
  session.setLocalWindowSize(H2_SETTINGS.initialWindowSize)
  try {
    let started = process.hrtime.bigint()
    const upload = session.request({ ':method': 'POST', ':path': '/' })
    let answer = ''
    upload.on('data', (data) => { answer += data })
    const uploaded = new Promise((resolve, reject) => { upload.once('end', resolve); upload.once('error', reject) })
    for (let sent = 0; sent < total; sent += chunk.length) {
      if (!upload.write(chunk) && upload.writableLength >= 1024 * 1024) await new Promise((resolve) => upload.once('drain', resolve))
    }
    upload.end()
    await uploaded
    const upSeconds = Number(process.hrtime.bigint() - started) / 1e9
    started = process.hrtime.bigint()
    const download = session.request({ ':method': 'GET', ':path': `/${total}` })
    let down = 0
    for await (const data of download) down += data.length
    return [Number(answer), upSeconds, down, Number(process.hrtime.bigint() - started) / 1e9]
  } finally {
    session.close()
  }
}
