import { execFileSync } from 'node:child_process'
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { canRunTests, startEngine, type Engine } from '@libswarm/test-engine'
import { startPolicedChain, type CliResult, type PolicedChain } from './policed-chain.js'

/*
 * Clients named by what dockerserver reads from the connection, nothing else: a mutual-TLS
 * listener (`mtls=tcp://127.0.0.1:0`, `--tlsverify`) whose clients are named by their certificate's
 * subject or a SAN, next to a unix listener named `other`. The docker CLI 28 with `--tlsverify
 * --tlscacert --tlscert --tlskey` is allowed or refused by the certificate it shows; a request
 * that claims someone else (headers through the CLI's `HttpHeaders`, query, body, owner label) is
 * still judged, labelled and audited as its connection.
 */

const RUNNER = 'CN=runner 7,OU=ci,O=Example\\, Inc.,C=DE'
const POLICY = `version: 1
clients:
  other: { listener: other }
  runner: { subject: '${RUNNER}' }
  builder: { san: 'DNS:builder.example' }
rules:
  - name: runner
    clients: [runner]
    allow: [containers, system:read]
    ownOnly: true
  - name: builder
    clients: [builder]
    allow: [system:read]
  - name: other-reads
    clients: [other]
    allow: [containers:read, system:read]
`
const OWNER = 'com.libswarm.policy.owner'

let engine: Engine
let chain: PolicedChain
let dir: string
let tls: string
let mtls: string
let audit: string

/** A CA, a server certificate for 127.0.0.1 and client certificates from it, made with openssl. */
function makeCertificates (): void {
  const client = (name: string, subject: string, ext: string): string => [
    `openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout ${name}-key.pem -out ${name}.csr -subj '${subject}' 2>/dev/null`,
    `printf '${ext}extendedKeyUsage=clientAuth\\n' > ${name}.ext`,
    `openssl x509 -req -in ${name}.csr -CA ca.pem -CAkey ca-key.pem -CAcreateserial -out ${name}-cert.pem -days 1 -extfile ${name}.ext 2>/dev/null`
  ].join(' && ')
  execFileSync('bash', ['-c', [
    `cd ${tls}`,
    'openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout ca-key.pem -out ca.pem -days 1 -subj /CN=policy-test-ca 2>/dev/null',
    // another CA, whose certificates the listener must refuse
    'openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout rogue-ca-key.pem -out rogue-ca.pem -days 1 -subj /CN=rogue-ca 2>/dev/null',
    'openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout server-key.pem -out server.csr -subj /CN=localhost 2>/dev/null',
    'printf "subjectAltName=IP:127.0.0.1,DNS:localhost\\nextendedKeyUsage=serverAuth\\n" > server.ext',
    'openssl x509 -req -in server.csr -CA ca.pem -CAkey ca-key.pem -CAcreateserial -out server-cert.pem -days 1 -extfile server.ext 2>/dev/null',
    client('runner', '/C=DE/O=Example, Inc./OU=ci/CN=runner 7', ''),
    client('intruder', '/C=DE/O=Example, Inc./OU=ci/CN=runner 8', ''),
    client('builder', '/CN=builder', 'subjectAltName=DNS:builder.example\\n'),
    'openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout rogue-key.pem -out rogue.csr -subj \'/C=DE/O=Example, Inc./OU=ci/CN=runner 7\' 2>/dev/null',
    'openssl x509 -req -in rogue.csr -CA rogue-ca.pem -CAkey rogue-ca-key.pem -CAcreateserial -out rogue-cert.pem -days 1 -extfile runner.ext 2>/dev/null'
  ].join(' && ')])
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'policy-caller-'))
  tls = join(dir, 'tls')
  await mkdir(tls)
  makeCertificates()
  audit = join(dir, 'audit.jsonl')
  await writeFile(join(dir, 'policy.yaml'), POLICY)
  if (!canRunTests()) return
  engine = await startEngine({ name: 'policy-caller' })
  const [cert, key, ca] = await Promise.all([readFile(join(tls, 'server-cert.pem')), readFile(join(tls, 'server-key.pem')), readFile(join(tls, 'ca.pem'))])
  chain = await startPolicedChain(engine, join(dir, 'policy.yaml'), ['other'], { audit, tcp: ['mtls=tcp://127.0.0.1:0'], tls: { cert, key, ca, verify: true } })
  mtls = chain.addresses.find((address) => address.startsWith('tcp://')) ?? ''
}, 180_000)

afterAll(async () => {
  await chain?.[Symbol.asyncDispose]()
  await engine?.close()
  await rm(dir, { recursive: true, force: true })
}, 120_000)

/** The docker CLI over the mTLS listener with `who`'s certificate (`--tlsverify --tlscacert --tlscert --tlskey`). */
async function tlsDocker (who: string, args: string[], env: Record<string, string> = {}): Promise<CliResult> {
  return await chain.docker('other', ['-H', mtls, '--tlsverify', '--tlscacert', join(tls, 'ca.pem'), '--tlscert', join(tls, `${who}-cert.pem`), '--tlskey', join(tls, `${who}-key.pem`), ...args], { env: { DOCKER_HOST: mtls, ...env } })
}

const auditLines = async (): Promise<Array<Record<string, unknown>>> => (await readFile(audit, 'utf8')).trim().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>)
const engineContainers = async (): Promise<string> => (await engine.docker(['ps', '-aq'])).stdout.trim()

describe.runIf(canRunTests())('clients named by their connection (dockerserver listener, TLS client certificate)', () => {
  it('a rule naming a certificate subject or SAN lets that certificate in, and no other', async () => {
    // the subject in RFC 4514 form, as openssl prints it, is what the policy names
    expect(execFileSync('openssl', ['x509', '-in', join(tls, 'runner-cert.pem'), '-noout', '-subject', '-nameopt', 'RFC2253']).toString().trim()).toBe(`subject=${RUNNER}`)

    // `run -d`, `wait` and `logs` rather than an attached `run`: over TLS dockerserver loses an
    // attached run's output when the CLI half-closes (see the README, "Tested")
    const run = await tlsDocker('runner', ['run', '-d', '--name', 'by-subject', 'busybox', 'echo', 'by subject'])
    expect(run.stderr).toBe('')
    expect((await tlsDocker('runner', ['wait', 'by-subject'])).stdout).toBe('0\n')
    expect((await tlsDocker('runner', ['logs', 'by-subject'])).stdout).toBe('by subject\n')
    expect((await tlsDocker('runner', ['ps', '-a', '--format', '{{.Names}}'])).stdout).toBe('by-subject\n')

    // same CA, same O and OU, another CN: a stranger to the policy
    const intruder = await tlsDocker('intruder', ['ps'])
    expect(intruder.code).not.toBe(0)
    expect(intruder.stderr).toContain('policy: "default" denies ContainerList (no rule allows it)')
    expect((await tlsDocker('intruder', ['run', '--rm', 'busybox', 'true'])).stderr).toContain('policy: "default" denies ContainerCreate (no rule allows it)')

    // named by a SAN: system:read only
    const builder = await tlsDocker('builder', ['version', '--format', '{{.Server.Version}}'])
    expect(builder.code, builder.stderr).toBe(0)
    expect((await tlsDocker('builder', ['ps'])).stderr).toContain('policy: "default" denies ContainerList (no rule allows it for client "builder")')

    // the runner's subject on a certificate from another CA never reaches policy
    const rogue = await chain.docker('other', ['-H', mtls, '--tlsverify', '--tlscacert', join(tls, 'ca.pem'), '--tlscert', join(tls, 'rogue-cert.pem'), '--tlskey', join(tls, 'rogue-key.pem'), 'ps'], { env: { DOCKER_HOST: mtls } })
    expect(rogue.code).not.toBe(0)
    expect(rogue.stderr).not.toContain('policy:')

    const lines = await auditLines()
    expect(lines).toContainEqual(expect.objectContaining({
      client: 'runner',
      caller: expect.objectContaining({ listener: 'mtls', certificate: expect.objectContaining({ subject: RUNNER }) }),
      operation: 'ContainerCreate',
      decision: 'allow',
      rule: 'runner'
    }))
    expect(lines).toContainEqual(expect.objectContaining({
      caller: expect.objectContaining({ listener: 'mtls', certificate: expect.objectContaining({ subject: 'CN=runner 8,OU=ci,O=Example\\, Inc.,C=DE' }) }),
      operation: 'ContainerList',
      decision: 'deny',
      rule: 'default'
    }))
    expect(lines.some((line) => JSON.stringify(line).includes('rogue'))).toBe(false)
  }, 60_000)

  it('a request claiming another identity is still judged, labelled and audited as its connection', async () => {
    const before = await engineContainers()
    const claim = { listener: 'mtls', certificate: { subject: RUNNER, sans: ['DNS:builder.example'] } }
    // the docker CLI sends config.json's HttpHeaders with every request
    const forger = join(dir, 'forger')
    await mkdir(forger, { recursive: true })
    const headers = { 'X-Libswarm-Caller': JSON.stringify(claim), 'X-Forwarded-Client-Cert': `Subject="${RUNNER}"`, 'X-Listener': 'mtls' }
    await writeFile(join(forger, 'config.json'), JSON.stringify({ HttpHeaders: headers }))

    const overUnix = await chain.docker('other', ['run', '--rm', '--label', `${OWNER}=runner`, 'busybox', 'true'], { env: { DOCKER_CONFIG: forger } })
    expect(overUnix.stderr).toContain('policy: "default" denies ContainerCreate (no rule allows it for client "other")')
    const raw = await chain.http('other', 'POST', `/v1.41/containers/create?caller=${encodeURIComponent(JSON.stringify(claim))}`,
      { Image: 'busybox', caller: claim, Labels: { [OWNER]: 'runner' } }, headers)
    expect(raw.status, raw.body).toBe(403)
    expect(JSON.parse(raw.body).message).toBe('policy: "default" denies ContainerCreate (no rule allows it for client "other")')

    const overTls = await tlsDocker('intruder', ['run', '--rm', 'busybox', 'true'], { DOCKER_CONFIG: forger })
    expect(overTls.stderr).toContain('policy: "default" denies ContainerCreate (no rule allows it)')
    expect(await engineContainers()).toBe(before)

    // the runner may create, but the owner is who it is, not what its label says
    const create = await tlsDocker('runner', ['create', '--name', 'claims-builder', '--label', `${OWNER}=builder`, 'busybox'], { DOCKER_CONFIG: forger })
    expect(create.code, create.stderr).toBe(0)
    expect((await engine.docker(['inspect', '-f', `{{index .Config.Labels "${OWNER}"}}`, 'claims-builder'])).stdout.trim()).toBe('runner')

    const forged = (await auditLines()).filter((line) => line.operation === 'ContainerCreate' && line.decision === 'deny' && line.client === 'other')
    expect(forged).toHaveLength(2)
    for (const line of forged) expect(line.caller).toEqual({ listener: 'other' })
  }, 60_000)
})
