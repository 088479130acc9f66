import net from 'node:net'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { jsonLogger } from '@libswarm/core'
import { DOCKER_OPERATIONS, operationUrl } from '@libswarm/docker-api'
import { httpRequest, startHarness, type Harness } from './harness.js'

let harness: Harness
const logged: string[] = []
beforeAll(async () => { harness = await startHarness({ log: jsonLogger({ level: 'warn', write: (line) => { logged.push(line) } }) }) })
afterAll(async () => { await harness.close() })

/** A small deterministic generator, so that a failure can be replayed. */
function generator (seed: number): () => number {
  let state = seed >>> 0
  return () => {
    state = (state * 1664525 + 1013904223) >>> 0
    return state / 2 ** 32
  }
}

const specs = [...DOCKER_OPERATIONS.values()]
const TARGETS = ['abc', 'nosuch', 'localhost:5000/a/b:tag', '%zz', '..', 'a%2Fb', '', 'x'.repeat(300), '\u00e9t\u00e9', '{id}']
const VERSIONS = ['', '/v1.41', '/v1.11', '/v9.99', '/v1', '/v', '/v1..2', '/v1.41/v1.41']
const BODIES = ['', '{}', '{"Tty":true}', '{"Image":', 'null', '[1,2]', '\u0000\u0001\u0002binary', '{"a":"' + 'b'.repeat(5000) + '"}']

function randomRequest (random: () => number): string {
  const pick = <T> (items: readonly T[]): T => items[Math.floor(random() * items.length)] as T
  const spec = pick(specs)
  let path = pick(VERSIONS) + operationUrl(spec, 'T').replace('T', pick(TARGETS))
  if (random() < 0.3) path += '?' + pick(['filters=%zz', 'a=1&a=2', '&&&', 'stream=1&stdin=1', 'x=%', 'filters={"a":1}'])
  if (random() < 0.1) path = pick(['*', '/%', 'http://host/_ping', '//', '/\u0000'])
  const method = random() < 0.85 ? spec.method : pick(['GET', 'POST', 'PUT', 'DELETE', 'HEAD', 'OPTIONS', 'PATCH'])
  const body = pick(BODIES)
  const lines = [`${method} ${path} HTTP/1.1`, 'Host: docker']
  if (random() < 0.4) lines.push('Connection: Upgrade', `Upgrade: ${pick(['tcp', 'h2c', 'websocket', ''])}`)
  if (random() < 0.5) lines.push(`Content-Type: ${pick(['application/json', 'application/x-tar', 'text/plain'])}`)
  const length = Buffer.byteLength(body)
  const declared = random() < 0.8 ? length : pick([0, length + 10, Math.max(0, length - 3)])
  if (random() < 0.15) lines.push('Transfer-Encoding: chunked')
  else if (body !== '' || random() < 0.5) lines.push(`Content-Length: ${declared}`)
  return lines.join('\r\n') + '\r\n\r\n' + body + (random() < 0.3 ? 'trailing stdin bytes' : '')
}

async function exchange (text: string, endEarly: boolean): Promise<string> {
  return await new Promise((resolve) => {
    const socket = net.connect(harness.socket)
    let received = ''
    socket.on('data', (chunk: Buffer) => { received += chunk.toString('latin1') })
    socket.on('error', () => {})
    const timer = setTimeout(() => socket.destroy(), 1000)
    socket.on('close', () => { clearTimeout(timer); resolve(received) })
    if (endEarly) socket.end(text)
    else socket.write(text)
  })
}

it('answers or closes on 300 random requests and keeps serving', async () => {
  const random = generator(20261126)
  const answers: string[] = []
  for (let batch = 0; batch < 6; batch++) {
    const requests = Array.from({ length: 50 }, () => randomRequest(random))
    answers.push(...await Promise.all(requests.map(async (text, index) => await exchange(text, index % 5 !== 0))))
  }
  for (const answer of answers) {
    if (answer !== '') expect(answer).toMatch(/^HTTP\/1\.1 \d{3} /)
  }
  expect(answers.filter((answer) => answer.startsWith('HTTP/1.1 ')).length).toBeGreaterThan(200)
  expect(logged.filter((line) => line.includes('request failed'))).toEqual([])
  const ping = await httpRequest({ socket: harness.socket }, 'GET', '/_ping')
  expect(ping.status).toBe(200)
}, 120_000)
