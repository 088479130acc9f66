/**
 * A local stand-in for the EC2 Query API, written from AWS's API reference (form-encoded
 * `Action=` POSTs signed with SigV4, XML answers in the 2016-11-15 namespace, error documents
 * `<Response><Errors><Error>`), so that the real `@aws-sdk/client-ec2` runs against it unchanged.
 * Its instances are real: on boot, it decodes the instance's cloud-init user data, takes the TLS
 * material and port the drop-in gives dockerd, and starts a private dockerd with `--tlsverify` on
 * the instance's own loopback address (127.X.0.N).
 */
import { createHash, createHmac, randomBytes, randomUUID } from 'node:crypto'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { SignatureV4 } from '@smithy/signature-v4'
import { startEngine, startSshd, type Engine, type Sshd } from '@libswarm/test-engine'
import { XMLBuilder } from 'fast-xml-parser'
import { parse as parseYaml } from 'yaml'

const NAMESPACE = 'http://ec2.amazonaws.com/doc/2016-11-15/'
const STATE = {
  pending: { code: 0, name: 'pending' },
  running: { code: 16, name: 'running' },
  'shutting-down': { code: 32, name: 'shutting-down' },
  terminated: { code: 48, name: 'terminated' },
  stopping: { code: 64, name: 'stopping' },
  stopped: { code: 80, name: 'stopped' }
} as const
type StateName = keyof typeof STATE

/** What goes wrong with the next instances booted, in order. */
export type BootFault = 'terminate' | 'no-engine' | 'stay-pending'

export interface StandInImage { id: string, name: string, created: string, owner?: string }

export interface StandInInstance {
  readonly id: string
  state: StateName
  readonly ip: string
  readonly tags: Map<string, string>
  readonly userData: string
  readonly instanceType: string
  readonly imageId: string
  readonly zone: string
  readonly spot: boolean
  readonly launchTime: Date
  stateReason?: { code: string, message: string }
  engine?: Engine
  /** The instance's sshd, when its user data asks for a Docker host reached over ssh. */
  sshd?: Sshd
  /** From RunInstances to its engine answering: the stand-in's own boot time. */
  bootMs?: number
  /** The engine's start, or its failure. */
  booting?: Promise<void>
  bootError?: Error
}

export interface StandInOptions {
  /** Access key id to secret; default one pair, {@link STAND_IN_KEY}. */
  accessKeys?: Record<string, string>
  regions?: string[]
  images?: StandInImage[]
  instanceTypes?: string[]
  /** Instances pending or running at once; more get InsufficientInstanceCapacity. */
  capacity?: number
  /** From RunInstances to `running`. */
  bootDelayMs?: number
  /**
   * The image's sshd port (default 22) and the login keys baked into the image (public key
   * lines, let in as root): an instance whose user data sets an ssh host key (`ssh_keys`)
   * gets a real sshd with that host key, reaching its engine, instead of a TLS listener.
   */
  sshPort?: number
  authorizedKeys?: string[]
  /** Load busybox into each instance's engine (default true). */
  busybox?: boolean
}

export interface Ec2StandIn extends AsyncDisposable {
  readonly endpoint: string
  readonly instances: Map<string, StandInInstance>
  /** Every request: its action and the answer's status and error code. */
  readonly calls: Array<{ action: string, status: number, code?: string, at?: number }>
  readonly faults: {
    /** Answer RequestLimitExceeded to the next N calls of an action. */
    throttle: Map<string, number>
    /** Faults for the next instances that boot, first first. */
    boots: BootFault[]
  }
  /** Instances pending or running. */
  alive: () => StandInInstance[]
  /** Waits until every engine started or failed, and every termination finished. */
  settled: () => Promise<void>
  close: () => Promise<void>
}

export const STAND_IN_KEY = { accessKeyId: 'AKIASTANDIN000000001', secretAccessKey: 'stand-in-secret-key-0123456789abcdefghij' }

class Ec2Error extends Error {
  constructor (readonly status: number, readonly code: string, message: string) { super(message) }
}

class NodeSha256 {
  private readonly hash
  constructor (secret?: string | ArrayBuffer | ArrayBufferView) {
    this.hash = secret === undefined ? createHash('sha256') : createHmac('sha256', bytes(secret))
  }

  update (data: string | ArrayBuffer | ArrayBufferView): void { this.hash.update(bytes(data)) }
  async digest (): Promise<Uint8Array> { return this.hash.digest() }
}

function bytes (data: string | ArrayBuffer | ArrayBufferView): string | Uint8Array {
  if (typeof data === 'string') return data
  if (data instanceof ArrayBuffer) return new Uint8Array(data)
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength)
}

const builder = new XMLBuilder({ ignoreAttributes: false, suppressEmptyNode: false })

/** Starts the stand-in on 127.0.0.1 at a free port. */
export async function startEc2StandIn (options: StandInOptions = {}): Promise<Ec2StandIn> {
  const keys = options.accessKeys ?? { [STAND_IN_KEY.accessKeyId]: STAND_IN_KEY.secretAccessKey }
  const regions = new Set(options.regions ?? ['us-east-1', 'eu-west-1'])
  const images = options.images ?? [
    { id: 'ami-0aaaaaaaaaaaaaaa1', name: 'ubuntu/images/hvm-ssd/ubuntu-noble-24.04-amd64-server-20250101', created: '2025-01-01T00:00:00.000Z', owner: '099720109477' },
    { id: 'ami-0aaaaaaaaaaaaaaa2', name: 'ubuntu/images/hvm-ssd/ubuntu-noble-24.04-amd64-server-20250601', created: '2025-06-01T00:00:00.000Z', owner: '099720109477' },
    { id: 'ami-0bbbbbbbbbbbbbbb1', name: 'debian-12-amd64-20250601', created: '2025-06-02T00:00:00.000Z', owner: '136693071363' }
  ]
  const types = new Set(options.instanceTypes ?? ['t3.micro', 't3.small', 't3.medium', 'm5.large'])
  const capacity = options.capacity ?? 3
  const bootDelayMs = options.bootDelayMs ?? 300
  const instances = new Map<string, StandInInstance>()
  const tokens = new Map<string, string>()
  const calls: Ec2StandIn['calls'] = []
  const faults: Ec2StandIn['faults'] = { throttle: new Map(), boots: [] }
  const work = new Set<Promise<void>>()
  const timers = new Set<NodeJS.Timeout>()
  const octet = 20 + Math.floor(Math.random() * 230)
  let serial = 0
  let closed = false
  const track = (promise: Promise<void>): void => {
    work.add(promise)
    void promise.finally(() => { work.delete(promise) })
  }
  const later = (ms: number, run: () => void): void => {
    const timer = setTimeout(() => { timers.delete(timer); if (!closed) run() }, ms)
    timers.add(timer)
  }
  const alive = (): StandInInstance[] => [...instances.values()].filter((instance) => instance.state === 'pending' || instance.state === 'running')

  async function authenticate (request: IncomingMessage, body: string): Promise<void> {
    const header = request.headers.authorization ?? ''
    const match = /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, ?SignedHeaders=([^,]+), ?Signature=([0-9a-f]{64})$/.exec(header)
    if (match === null) throw new Ec2Error(401, 'AuthFailure', 'AWS was not able to validate the provided access credentials')
    const [, keyId, , region, service, signedHeaders, signature] = match as unknown as string[]
    const secret = keys[keyId as string]
    if (secret === undefined) throw new Ec2Error(401, 'AuthFailure', 'AWS was not able to validate the provided access credentials')
    if (!regions.has(region as string)) throw new Ec2Error(401, 'AuthFailure', `Credential should be scoped to a valid region, not '${region as string}'.`)
    if (service !== 'ec2') throw new Ec2Error(401, 'AuthFailure', `Credential should be scoped to correct service: 'ec2'.`)
    const amzDate = String(request.headers['x-amz-date'] ?? '')
    const when = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(amzDate)
    if (when === null) throw new Ec2Error(401, 'AuthFailure', 'X-Amz-Date is missing or malformed')
    const signingDate = new Date(`${when[1]}-${when[2]}-${when[3]}T${when[4]}:${when[5]}:${when[6]}Z`)
    const headers: Record<string, string> = {}
    const signed = (signedHeaders as string).split(';')
    for (const name of signed) headers[name] = String(request.headers[name] ?? '')
    const url = new URL(request.url ?? '/', `http://${request.headers.host ?? '127.0.0.1'}`)
    const signer = new SignatureV4({ credentials: { accessKeyId: keyId as string, secretAccessKey: secret }, region: region as string, service: 'ec2', sha256: NodeSha256 })
    const resigned = await signer.sign({
      method: request.method ?? 'POST', protocol: 'http:', hostname: url.hostname, port: Number(url.port), path: url.pathname,
      query: Object.fromEntries(url.searchParams), headers, body
    }, { signingDate, signableHeaders: new Set(signed) })
    const expected = /Signature=([0-9a-f]{64})/.exec(String(resigned.headers.authorization ?? resigned.headers.Authorization ?? ''))?.[1]
    if (expected !== signature) throw new Ec2Error(401, 'AuthFailure', 'AWS was not able to validate the provided access credentials')
  }

  function instanceXml (instance: StandInInstance): Record<string, unknown> {
    const running = instance.state === 'running'
    return {
      instanceId: instance.id,
      imageId: instance.imageId,
      instanceState: STATE[instance.state],
      privateDnsName: '',
      dnsName: '',
      reason: instance.stateReason?.message ?? '',
      amiLaunchIndex: 0,
      instanceType: instance.instanceType,
      launchTime: instance.launchTime.toISOString(),
      placement: { availabilityZone: instance.zone, tenancy: 'default' },
      ...(instance.state !== 'terminated' ? { privateIpAddress: instance.ip } : {}),
      ...(running ? { ipAddress: instance.ip } : {}),
      ...(instance.stateReason !== undefined ? { stateReason: instance.stateReason } : {}),
      ...(instance.spot ? { instanceLifecycle: 'spot' } : {}),
      tagSet: instance.tags.size === 0 ? '' : { item: [...instance.tags].map(([key, value]) => ({ key, value })) }
    }
  }

  function list (params: URLSearchParams, prefix: string): string[] {
    const values: string[] = []
    for (let index = 1; params.has(`${prefix}.${index}`); index++) values.push(params.get(`${prefix}.${index}`) as string)
    return values
  }

  function filters (params: URLSearchParams): Array<{ name: string, values: string[] }> {
    const result: Array<{ name: string, values: string[] }> = []
    for (let index = 1; params.has(`Filter.${index}.Name`); index++) result.push({ name: params.get(`Filter.${index}.Name`) as string, values: list(params, `Filter.${index}.Value`) })
    return result
  }

  function glob (pattern: string): RegExp {
    return new RegExp(`^${pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replaceAll('*', '.*').replaceAll('?', '.')}$`)
  }

  function setState (instance: StandInInstance, state: StateName): void {
    instance.state = state
  }

  async function boot (instance: StandInInstance, fault: BootFault | undefined): Promise<void> {
    if (fault === 'stay-pending') return
    if (fault === 'terminate') {
      instance.stateReason = { code: 'Server.InternalError', message: 'Server.InternalError: Internal error on launch' }
      setState(instance, 'shutting-down')
      later(100, () => { setState(instance, 'terminated') })
      return
    }
    setState(instance, 'running')
    if (fault === 'no-engine') return
    const text = Buffer.from(instance.userData, 'base64').toString('utf8')
    if (!text.startsWith('#cloud-config')) throw new Error(`${instance.id}: user data is not a cloud-config`)
    const config = parseYaml(text) as { write_files?: Array<{ path: string, content: string, permissions?: string }>, ssh_keys?: Record<string, string>, runcmd?: unknown[] }
    if (config.ssh_keys !== undefined) {
      await bootOverSsh(instance, config)
      return
    }
    const files = new Map((config.write_files ?? []).map((file) => [file.path, file]))
    const dropIn = [...files.values()].find((file) => file.path.startsWith('/etc/systemd/system/docker.service.d/'))
    const execStart = dropIn?.content.split('\n').filter((line) => line.startsWith('ExecStart=') && line.length > 'ExecStart='.length).pop()
    if (execStart === undefined) throw new Error(`${instance.id}: the user data starts no dockerd`)
    const flag = (name: string): string | undefined => new RegExp(`--${name}[= ]([^ ]+)`).exec(execStart)?.[1]
    const port = /-H tcp:\/\/0\.0\.0\.0:(\d+)/.exec(execStart)?.[1]
    const ca = files.get(flag('tlscacert') ?? '')
    const cert = files.get(flag('tlscert') ?? '')
    const key = files.get(flag('tlskey') ?? '')
    if (!execStart.includes('--tlsverify') || port === undefined || ca === undefined || cert === undefined || key === undefined) throw new Error(`${instance.id}: dockerd is not started with --tlsverify and its files`)
    if (key.permissions !== '0600') throw new Error(`${instance.id}: the server key would be readable by others (${key.permissions ?? 'default mode'})`)
    instance.engine = await startEngine({ name: instance.id, busybox: options.busybox ?? true, tls: { caCert: ca.content, cert: cert.content, key: key.content, host: instance.ip, port: Number(port) } })
    instance.bootMs = Date.now() - instance.launchTime.getTime()
    if (instance.state !== 'running') await instance.engine.close()
  }

  /** cloud-init's `ssh_keys` become sshd's host key; dockerd stays on its unix socket, as the user data says. */
  async function bootOverSsh (instance: StandInInstance, config: { write_files?: Array<{ path: string }>, ssh_keys?: Record<string, string>, runcmd?: unknown[] }): Promise<void> {
    const hostKey = config.ssh_keys?.ed25519_private
    if (hostKey === undefined) throw new Error(`${instance.id}: ssh_keys without ed25519_private`)
    const commands = JSON.stringify(config.runcmd ?? [])
    if (!commands.includes('"restart","docker"')) throw new Error(`${instance.id}: the user data does not start docker`)
    if ((config.write_files ?? []).some((file) => file.path.startsWith('/etc/systemd/system/docker.service.d/'))) throw new Error(`${instance.id}: an ssh host's dockerd should keep its default start (unix socket only)`)
    instance.engine = await startEngine({ name: instance.id, busybox: options.busybox ?? true })
    instance.sshd = await startSshd({ dockerHost: instance.engine.host, host: instance.ip, port: options.sshPort ?? 22, hostKey, authorizedKeys: options.authorizedKeys })
    instance.bootMs = Date.now() - instance.launchTime.getTime()
    if (instance.state !== 'running') {
      await instance.sshd.close()
      await instance.engine.close()
    }
  }

  const actions: Record<string, (params: URLSearchParams) => Record<string, unknown> | Promise<Record<string, unknown>>> = {
    RunInstances: (params) => {
      const imageId = params.get('ImageId') ?? ''
      const instanceType = params.get('InstanceType') ?? 'm1.small'
      if (!images.some((image) => image.id === imageId)) {
        if (!/^ami-[0-9a-f]{8,17}$/.test(imageId)) throw new Ec2Error(400, 'InvalidAMIID.Malformed', `Invalid id: "${imageId}" (expecting "ami-...")`)
        throw new Ec2Error(400, 'InvalidAMIID.NotFound', `The image id '[${imageId}]' does not exist`)
      }
      if (!types.has(instanceType)) throw new Ec2Error(400, 'InvalidParameterValue', `Invalid value '${instanceType}' for InstanceType.`)
      const min = Number(params.get('MinCount') ?? '1')
      const max = Number(params.get('MaxCount') ?? '1')
      if (min !== 1 || max !== 1) throw new Ec2Error(400, 'InvalidParameterValue', 'this stand-in launches one instance per call')
      if (params.get('DryRun') === 'true') throw new Ec2Error(412, 'DryRunOperation', 'Request would have succeeded, but DryRun flag is set.')
      const token = params.get('ClientToken') ?? undefined
      const known = token === undefined ? undefined : instances.get(tokens.get(token) ?? '')
      if (known !== undefined) return { reservationId: `r-${known.id.slice(2)}`, ownerId: '123456789012', groupSet: '', instancesSet: { item: [instanceXml(known)] } }
      if (alive().length >= capacity) throw new Ec2Error(500, 'InsufficientInstanceCapacity', `We currently do not have sufficient ${instanceType} capacity in the Availability Zone you requested. Our system will be working on provisioning additional capacity.`)
      const tags = new Map<string, string>()
      for (let index = 1; params.has(`TagSpecification.${index}.ResourceType`); index++) {
        if (params.get(`TagSpecification.${index}.ResourceType`) !== 'instance') continue
        for (let tag = 1; params.has(`TagSpecification.${index}.Tag.${tag}.Key`); tag++) tags.set(params.get(`TagSpecification.${index}.Tag.${tag}.Key`) as string, params.get(`TagSpecification.${index}.Tag.${tag}.Value`) ?? '')
      }
      serial++
      const instance: StandInInstance = {
        id: `i-${randomBytes(8).toString('hex').slice(0, 17)}`,
        state: 'pending',
        ip: `127.${octet}.${serial >> 8}.${serial & 255}`,
        tags,
        userData: params.get('UserData') ?? '',
        instanceType,
        imageId,
        zone: params.get('Placement.AvailabilityZone') ?? 'us-east-1a',
        spot: params.get('InstanceMarketOptions.MarketType') === 'spot',
        launchTime: new Date()
      }
      instances.set(instance.id, instance)
      if (token !== undefined) tokens.set(token, instance.id)
      const fault = faults.boots.shift()
      later(bootDelayMs, () => {
        if (instance.state !== 'pending') return
        const booting = boot(instance, fault).catch((error: Error) => { instance.bootError = error })
        instance.booting = booting
        track(booting)
      })
      return { reservationId: `r-${instance.id.slice(2)}`, ownerId: '123456789012', groupSet: '', instancesSet: { item: [instanceXml(instance)] } }
    },
    DescribeInstances: (params) => {
      const ids = list(params, 'InstanceId')
      for (const id of ids) if (!instances.has(id)) throw new Ec2Error(400, 'InvalidInstanceID.NotFound', `The instance ID '${id}' does not exist`)
      let chosen = [...instances.values()].filter((instance) => ids.length === 0 || ids.includes(instance.id))
      for (const { name, values } of filters(params)) {
        const test = (value: string | undefined): boolean => value !== undefined && values.some((wanted) => glob(wanted).test(value))
        if (name.startsWith('tag:')) chosen = chosen.filter((instance) => test(instance.tags.get(name.slice(4))))
        else if (name === 'tag-key') chosen = chosen.filter((instance) => [...instance.tags.keys()].some(test))
        else if (name === 'instance-state-name') chosen = chosen.filter((instance) => test(instance.state))
        else if (name === 'instance-state-code') chosen = chosen.filter((instance) => test(String(STATE[instance.state].code)))
        else if (name === 'instance-id') chosen = chosen.filter((instance) => test(instance.id))
        else throw new Ec2Error(400, 'InvalidParameterValue', `The filter '${name}' is invalid`)
      }
      return { reservationSet: chosen.length === 0 ? '' : { item: chosen.map((instance) => ({ reservationId: `r-${instance.id.slice(2)}`, ownerId: '123456789012', groupSet: '', instancesSet: { item: [instanceXml(instance)] } })) } }
    },
    DescribeImages: (params) => {
      const owners = list(params, 'Owner')
      const ids = list(params, 'ImageId')
      let chosen = images.filter((image) => (ids.length === 0 || ids.includes(image.id)) && (owners.length === 0 || owners.includes(image.owner ?? 'self')))
      for (const { name, values } of filters(params)) {
        if (name === 'name') chosen = chosen.filter((image) => values.some((wanted) => glob(wanted).test(image.name)))
        else if (name === 'state') chosen = chosen.filter(() => values.includes('available'))
        else if (name === 'image-id') chosen = chosen.filter((image) => values.includes(image.id))
        else throw new Ec2Error(400, 'InvalidParameterValue', `The filter '${name}' is invalid`)
      }
      return {
        imagesSet: chosen.length === 0 ? '' : {
          item: chosen.map((image) => ({ imageId: image.id, imageLocation: `${image.owner ?? 'self'}/${image.name}`, imageState: 'available', imageOwnerId: image.owner ?? '123456789012', creationDate: image.created, isPublic: true, architecture: 'x86_64', imageType: 'machine', name: image.name, rootDeviceType: 'ebs', virtualizationType: 'hvm' }))
        }
      }
    },
    CreateTags: (params) => {
      const ids = list(params, 'ResourceId')
      for (const id of ids) if (!instances.has(id)) throw new Ec2Error(400, 'InvalidID', `The ID '${id}' is not valid`)
      if (params.get('DryRun') === 'true') throw new Ec2Error(412, 'DryRunOperation', 'Request would have succeeded, but DryRun flag is set.')
      for (const id of ids) {
        for (let tag = 1; params.has(`Tag.${tag}.Key`); tag++) instances.get(id)?.tags.set(params.get(`Tag.${tag}.Key`) as string, params.get(`Tag.${tag}.Value`) ?? '')
      }
      return { return: true }
    },
    TerminateInstances: (params) => {
      const ids = list(params, 'InstanceId')
      if (ids.length === 0) throw new Ec2Error(400, 'MissingParameter', 'The request must contain the parameter InstanceId')
      for (const id of ids) if (!instances.has(id)) throw new Ec2Error(400, 'InvalidInstanceID.NotFound', `The instance ID '${id}' does not exist`)
      if (params.get('DryRun') === 'true') throw new Ec2Error(412, 'DryRunOperation', 'Request would have succeeded, but DryRun flag is set.')
      const items = ids.map((id) => {
        const instance = instances.get(id) as StandInInstance
        const previous = STATE[instance.state]
        if (instance.state !== 'terminated') {
          setState(instance, 'shutting-down')
          track((async () => {
            await instance.booting
            await instance.sshd?.close()
            await instance.engine?.close()
            setState(instance, 'terminated')
          })())
        }
        return { instanceId: id, currentState: STATE[instance.state], previousState: previous }
      })
      return { instancesSet: { item: items } }
    }
  }

  const server = createServer((request: IncomingMessage, response: ServerResponse) => {
    const chunks: Buffer[] = []
    request.on('data', (chunk: Buffer) => chunks.push(chunk))
    request.on('end', () => {
      void (async () => {
        const body = Buffer.concat(chunks).toString('utf8')
        const params = new URLSearchParams(body)
        const action = params.get('Action') ?? ''
        const at = Date.now()
        try {
          if (request.method !== 'POST') throw new Ec2Error(400, 'InvalidAction', 'The action is not valid for this web service (POST only here)')
          await authenticate(request, body)
          if (params.get('Version') !== '2016-11-15') throw new Ec2Error(400, 'InvalidParameterValue', `unsupported Version ${params.get('Version') ?? ''}`)
          const handler = actions[action]
          if (handler === undefined) throw new Ec2Error(400, 'InvalidAction', `The action ${action} is not valid for this web service.`)
          const throttled = faults.throttle.get(action) ?? 0
          if (throttled > 0) {
            faults.throttle.set(action, throttled - 1)
            throw new Ec2Error(503, 'RequestLimitExceeded', 'Request limit exceeded.')
          }
          const result = await handler(params)
          const xml = builder.build({ [`${action}Response`]: { '@_xmlns': NAMESPACE, requestId: randomUUID(), ...result } }) as string
          calls.push({ action, status: 200, at })
          response.writeHead(200, { 'Content-Type': 'text/xml;charset=UTF-8' }).end(`<?xml version="1.0" encoding="UTF-8"?>\n${xml}`)
        } catch (error) {
          const known = error instanceof Ec2Error ? error : new Ec2Error(500, 'InternalError', (error as Error).message)
          calls.push({ action, status: known.status, code: known.code, at })
          const xml = builder.build({ Response: { Errors: { Error: { Code: known.code, Message: known.message } }, RequestID: randomUUID() } }) as string
          response.writeHead(known.status, { 'Content-Type': 'text/xml;charset=UTF-8' }).end(`<?xml version="1.0" encoding="UTF-8"?>\n${xml}`)
        }
      })()
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as AddressInfo).port
  const settled = async (): Promise<void> => {
    for (let round = 0; round < 20 && work.size > 0; round++) await Promise.allSettled([...work])
  }
  const close = async (): Promise<void> => {
    if (closed) return
    await settled()
    closed = true
    for (const timer of timers) clearTimeout(timer)
    await new Promise<void>((resolve) => { server.close(() => { resolve() }); server.closeAllConnections() })
    await Promise.allSettled([...instances.values()].map(async (instance) => { await instance.sshd?.close(); await instance.engine?.close() }))
  }
  return { endpoint: `http://127.0.0.1:${port}`, instances, calls, faults, alive, settled, close, [Symbol.asyncDispose]: close }
}
