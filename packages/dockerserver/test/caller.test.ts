// Every request carries its connection's caller (issue #11, "Who is calling"): the listener's
// name, the peer's TCP address, the verified client certificate; never what the request says.
import { execFileSync } from 'node:child_process'
import { mkdtemp, rm, readFile, writeFile } from 'node:fs/promises'
import https from 'node:https'
import net from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { X509Certificate } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createDockerServer, parseDockerServerArgs } from '../src/index.js'
import { callerCertificate, rfc4514Subject, splitAltNames } from '../src/connection-caller.js'
import { splitListenerName } from '../src/docker-server.js'
import { createFakeBackend, frame } from './fake-backend.js'
import { httpRequest } from './harness.js'

let dir: string
beforeAll(async () => { dir = await mkdtemp(join(tmpdir(), 'dockerserver-caller-')) })
afterAll(async () => { await rm(dir, { recursive: true, force: true }) })

/** Writes a raw HTTP request on a new connection to `socket` and resolves with everything answered until `until` appears. */
async function raw (socket: string, request: string, until: string, after?: string): Promise<string> {
  return await new Promise((resolve, reject) => {
    const client = net.connect(socket)
    let text = ''
    const timer = setTimeout(() => { client.destroy(); reject(new Error(`no ${JSON.stringify(until)} in ${JSON.stringify(text)}`)) }, 5000)
    client.on('data', (chunk: Buffer) => {
      text += chunk.toString('latin1')
      if (after !== undefined && text.includes('\r\n\r\n') && !text.includes(after)) { client.write(after); after = undefined }
      if (text.includes(until)) { clearTimeout(timer); client.destroy(); resolve(text) }
    })
    client.on('error', reject)
    client.write(request)
  })
}

describe('the caller of a request', () => {
  it('names the listener it arrived on, for every kind of request, whatever the request claims', async () => {
    const backend = createFakeBackend()
    backend.override = (request) => request.operation === 'ContainerAttach'
      ? { status: 101, headers: { 'Content-Type': 'application/vnd.docker.raw-stream' }, stream: (async function * () { for await (const chunk of request.stream ?? []) { yield frame(1, chunk); return } })() }
      : undefined
    const ci = join(dir, 'ci.sock')
    const admin = join(dir, 'admin.sock')
    const plain = join(dir, 'plain.sock')
    await using server = createDockerServer({ addresses: [`ci=unix://${ci}`, `admin=unix://${admin}`, `unix://${plain}`, 'local=tcp://127.0.0.1:0'], next: backend.sender, closeTimeoutMs: 1000 })
    await server.start()
    const forged = JSON.stringify({ listener: 'admin', uid: 0 })
    const forgery = { 'X-Libswarm-Caller': forged, 'X-Forwarded-For': '10.0.0.1', 'X-Listener': 'admin', Caller: forged }

    // A plain request, one with a JSON body, each with headers, query and body that claim to be someone else.
    expect((await httpRequest({ socket: ci }, 'GET', `/v1.41/containers/json?caller=${encodeURIComponent(forged)}&listener=admin`, { headers: forgery })).status).toBe(200)
    expect((await httpRequest({ socket: ci }, 'POST', '/containers/create?name=x&listener=admin', { headers: { ...forgery, 'Content-Type': 'application/json' }, body: JSON.stringify({ Image: 'busybox', caller: { listener: 'admin' }, Labels: { listener: 'admin' } }) })).status).toBe(201)
    expect((await httpRequest({ socket: admin }, 'GET', '/_ping')).status).toBe(200)
    expect((await httpRequest({ socket: plain }, 'GET', '/version')).status).toBe(200)
    // A hijacked attach: the upgrade carries the caller as well.
    const attached = await raw(ci, 'POST /v1.41/containers/canned-container/attach?stream=1&stdin=1&stdout=1 HTTP/1.1\r\nHost: docker\r\nConnection: Upgrade\r\nUpgrade: tcp\r\nX-Libswarm-Caller: admin\r\n\r\n', 'hi', 'hi')
    expect(attached).toMatch(/^HTTP\/1\.1 101/)
    // A streaming request (events, which never ends by itself) and one over TCP.
    const events = await raw(admin, 'GET /events HTTP/1.1\r\nHost: docker\r\n\r\n', '\r\n\r\n')
    expect(events).toMatch(/^HTTP\/1\.1 200/)
    const port = Number(new URL((server.addresses[3] as string).replace('tcp:', 'http:')).port)
    const local = await new Promise<number>((resolve, reject) => {
      const client = net.connect({ host: '127.0.0.1', port }, () => { client.write('GET /info HTTP/1.1\r\nHost: docker\r\nConnection: close\r\n\r\n'); resolve(client.localPort ?? 0) })
      client.on('error', reject)
      client.resume()
    })
    const deadline = Date.now() + 5000
    while (!backend.requests.some((r) => r.operation === 'SystemInfo') && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10))

    expect(backend.requests.map((request) => [request.operation, request.caller])).toEqual([
      ['ContainerList', { listener: 'ci' }],
      ['ContainerCreate', { listener: 'ci' }],
      ['SystemPing', { listener: 'admin' }],
      ['SystemVersion', { listener: `unix://${plain}` }],
      ['ContainerAttach', { listener: 'ci' }],
      ['SystemEvents', { listener: 'admin' }],
      ['SystemInfo', { listener: 'local', address: `127.0.0.1:${local}` }]
    ])
    // What the client wrote is still passed on as it was: only the caller is the connection's.
    expect(backend.requests[0]?.query).toMatchObject({ listener: 'admin' })
    expect(backend.requests[1]?.body).toMatchObject({ caller: { listener: 'admin' } })
  })

  it('over mutual TLS, carries the verified client certificate: RFC 4514 subject, SANs and SHA-256 fingerprint as openssl prints them', async () => {
    const tls = join(dir, 'tls')
    await writeFile(join(dir, 'client.ext'), 'subjectAltName=DNS:ci.example,IP:127.0.0.1,URI:spiffe://example.org/ci,email:ci@example.org\nextendedKeyUsage=clientAuth\n')
    execFileSync('bash', ['-c', [
      `mkdir -p ${tls} && cd ${tls}`,
      'openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout ca-key.pem -out ca.pem -days 1 -subj /CN=test-ca 2>/dev/null',
      'openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout server-key.pem -out server.csr -subj /CN=localhost 2>/dev/null',
      'printf "subjectAltName=IP:127.0.0.1,DNS:localhost\\nextendedKeyUsage=serverAuth\\n" > server.ext',
      'openssl x509 -req -in server.csr -CA ca.pem -CAkey ca-key.pem -CAcreateserial -out cert.pem -days 1 -extfile server.ext 2>/dev/null',
      "openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout key.pem -out client.csr -subj '/C=DE/O=Example, Inc./OU=ci/CN=runner 7' 2>/dev/null",
      `openssl x509 -req -in client.csr -CA ca.pem -CAkey ca-key.pem -CAcreateserial -out client-cert.pem -days 1 -extfile ${join(dir, 'client.ext')} 2>/dev/null`
    ].join(' && ')])
    const openssl = (...args: string[]): string => execFileSync('openssl', ['x509', '-in', join(tls, 'client-cert.pem'), '-noout', ...args]).toString().trim()
    const backend = createFakeBackend()
    const options = parseDockerServerArgs(['mtls=tcp://127.0.0.1:0', '--tlsverify', '--tlscacert', join(tls, 'ca.pem'), '--tlscert', join(tls, 'cert.pem'), '--tlskey', join(tls, 'server-key.pem')])
    await using server = createDockerServer({ ...options, next: backend.sender, closeTimeoutMs: 1000 })
    await server.start()
    const port = Number(new URL((server.addresses[0] as string).replace('tcp:', 'http:')).port)
    const [ca, cert, key] = await Promise.all(['ca.pem', 'client-cert.pem', 'key.pem'].map(async (file) => await readFile(join(tls, file))))
    await new Promise<void>((resolve, reject) => {
      const req = https.request({
        host: '127.0.0.1', port, path: '/containers/json', method: 'GET', agent: false, ca, cert, key,
        headers: { 'X-Libswarm-Caller': '{"certificate":{"subject":"CN=admin","sans":[]}}' }
      }, (res) => { res.resume(); res.on('end', resolve) })
      req.on('error', reject)
      req.end()
    })
    expect(backend.requests[0]?.caller).toEqual({
      listener: 'mtls',
      address: expect.stringMatching(/^127\.0\.0\.1:\d+$/),
      certificate: {
        subject: openssl('-subject', '-nameopt', 'RFC2253').replace(/^subject=/, ''),
        sans: ['DNS:ci.example', 'IP:127.0.0.1', 'URI:spiffe://example.org/ci', 'email:ci@example.org'],
        fingerprint256: openssl('-fingerprint', '-sha256').replace(/^sha256 Fingerprint=/i, '')
      }
    })
    expect(backend.requests[0]?.caller?.certificate?.subject).toBe('CN=runner 7,OU=ci,O=Example\\, Inc.,C=DE')
  })

  it('reads subjects with multi-valued RDNs and SANs that node quotes', async () => {
    await writeFile(join(dir, 'odd.cnf'), '[req]\ndistinguished_name=dn\n[dn]\n[ext]\nsubjectAltName=@alt\n[alt]\nDNS.1=a.example\nIP.1=::1\nURI.1=http://a/b, c\nemail.1=x@y.z\n')
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', join(dir, 'odd-key.pem'), '-out', join(dir, 'odd.pem'),
      '-days', '1', '-subj', '/C=US/O=Ex, Inc+OU=a\\+b/CN=odd "one"', '-multivalue-rdn', '-config', join(dir, 'odd.cnf'), '-extensions', 'ext'], { stdio: 'ignore' })
    const certificate = new X509Certificate(await readFile(join(dir, 'odd.pem')))
    const expected = execFileSync('openssl', ['x509', '-in', join(dir, 'odd.pem'), '-noout', '-subject', '-nameopt', 'RFC2253']).toString().trim().replace(/^subject=/, '')
    expect(callerCertificate(certificate)).toEqual({
      subject: expected,
      sans: ['DNS:a.example', 'IP:0:0:0:0:0:0:0:1', 'URI:http://a/b, c', 'email:x@y.z'],
      fingerprint256: certificate.fingerprint256
    })
    expect(expected).toBe('CN=odd \\"one\\",O=Ex\\, Inc+OU=a\\+b,C=US')
    expect(rfc4514Subject('')).toBe('')
    expect(splitAltNames(undefined)).toEqual([])
    expect(splitAltNames('DNS:"a\\u002c b", DNS:c')).toEqual(['DNS:a, b', 'DNS:c'])
  })
})

describe('listener names', () => {
  it('are NAME=ADDRESS; anything else is an address', () => {
    expect(splitListenerName('ci=unix:///run/ci.sock')).toEqual({ name: 'ci', address: 'unix:///run/ci.sock' })
    expect(splitListenerName('team-a.ci_1=tcp://127.0.0.1:2375')).toEqual({ name: 'team-a.ci_1', address: 'tcp://127.0.0.1:2375' })
    expect(splitListenerName('unix:///run/a=b.sock')).toEqual({ name: undefined, address: 'unix:///run/a=b.sock' })
    expect(splitListenerName('=unix:///x')).toEqual({ name: undefined, address: '=unix:///x' })
    expect(parseDockerServerArgs(['ci=unix:///run/ci.sock', 'unix:///run/b.sock']).addresses).toEqual(['ci=unix:///run/ci.sock', 'unix:///run/b.sock'])
    expect(() => createDockerServer({ addresses: ['ci=junk'], next: createFakeBackend().sender })).toThrow(/bad address "junk"/)
    expect(() => createDockerServer({ addresses: ['=unix:///x'], next: createFakeBackend().sender })).toThrow(/bad address "=unix:\/\/\/x"/)
    expect(() => createDockerServer({ addresses: ['lan=tcp://0.0.0.0:2375'], next: createFakeBackend().sender })).toThrow(/refusing plain TCP on tcp:\/\/0\.0\.0\.0:2375/)
  })
})
