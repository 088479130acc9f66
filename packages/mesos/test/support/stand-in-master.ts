// A stand-in for a Mesos master's v1 scheduler HTTP API (JSON), written from Apache Mesos'
// docs/scheduler-http-api.md and the v1 scheduler.proto / mesos.proto: it offers the resources
// of a few agents, each a real private dockerd, launches accepted DOCKER tasks there as real
// containers, and sends status updates. Tests make it restart, drop the stream, stop its
// heartbeats, lose an agent, rescind offers or fail a launch. Test support only, not published.
import { randomBytes, randomUUID } from 'node:crypto'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import { createServer as createTlsServer } from 'node:https'
import type { Socket } from 'node:net'
import type { Sender } from '@libswarm/core'
import { callDocker, replyBody } from '../../src/docker-call.js'
import type { MesosCall, MesosOffer, MesosResource, MesosTaskInfo, MesosTaskStatus, TaskState } from '../../src/mesos-types.js'
import { TERMINAL_STATES, scalarResource } from '../../src/mesos-types.js'
import { encodeRecord } from '../../src/record-io.js'

export interface StandInAgent {
  hostname: string
  cpus: number
  /** MB */
  mem: number
  ports: Array<[number, number]>
  attributes?: Record<string, string>
  /** The agent's Docker engine (a dockerclient instance). */
  engine: Sender
}

export interface StandInOptions {
  port?: number
  heartbeatSeconds?: number
  /** How often agents with free resources are offered. Default 50 ms. */
  offerIntervalMs?: number
  /** Basic credentials the master demands, if any. */
  credentials?: { principal: string, secret: string }
  /** Serve https with this certificate. */
  tls?: { cert: string, key: string }
}

interface AgentState extends StandInAgent {
  id: string
  lost: boolean
  refusedUntil: number
}

interface TaskRecord {
  info: MesosTaskInfo
  agentId: string
  state: TaskState
  containerId?: string
  data?: string
  killed: boolean
  message?: string
}

interface Subscription {
  response: ServerResponse
  streamId: string
  heartbeat: ReturnType<typeof setInterval>
}

export class StandInMaster {
  readonly agents: AgentState[] = []
  readonly calls: MesosCall[] = []
  readonly tasks = new Map<string, TaskRecord>()
  readonly offers = new Map<string, { agentId: string, resources: MesosResource[] }>()
  private server: Server | undefined
  private readonly sockets = new Set<Socket>()
  private subscription: Subscription | undefined
  private frameworkId: string | undefined
  private failoverTimer: ReturnType<typeof setTimeout> | undefined
  private offerTimer: ReturnType<typeof setInterval> | undefined
  private suppressed = false
  private heartbeatsPaused = false
  private rescindOnAccept = 0
  private launchFailures: string[] = []
  private readonly unacked = new Map<string, MesosTaskStatus>()
  port = 0
  subscribes = 0
  acknowledged = 0

  constructor (agents: StandInAgent[], private readonly options: StandInOptions = {}) {
    agents.forEach((agent, index) => { this.agents.push({ ...agent, id: `S${index}-${randomBytes(4).toString('hex')}`, lost: false, refusedUntil: 0 }) })
  }

  get url (): string {
    return `${this.options.tls === undefined ? 'http' : 'https'}://127.0.0.1:${this.port}`
  }

  async start (): Promise<void> {
    const handler = (request: IncomingMessage, response: ServerResponse): void => { void this.handle(request, response) }
    const server = this.options.tls === undefined ? createServer(handler) : createTlsServer(this.options.tls, handler)
    server.on(this.options.tls === undefined ? 'connection' : 'secureConnection', (socket: Socket) => {
      this.sockets.add(socket)
      socket.on('close', () => { this.sockets.delete(socket) })
    })
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(this.port === 0 ? this.options.port ?? 0 : this.port, '127.0.0.1', () => { resolve() })
    })
    this.server = server
    this.port = (server.address() as { port: number }).port
    this.offerTimer = setInterval(() => { this.makeOffers() }, this.options.offerIntervalMs ?? 50)
  }

  /** Stops listening and cuts every connection; tasks and the framework are kept, as a failed-over master recovers them. */
  async stop (): Promise<void> {
    clearInterval(this.offerTimer)
    this.endSubscription()
    for (const socket of this.sockets) socket.destroy()
    await new Promise<void>((resolve) => { this.server?.close(() => { resolve() }) ?? resolve() })
    this.server = undefined
    // outstanding offers die with the master
    this.offers.clear()
  }

  /** A master restart: down for `downMs`, then back on the same port. */
  async restart (downMs = 200): Promise<void> {
    await this.stop()
    await new Promise((resolve) => setTimeout(resolve, downMs))
    await this.start()
  }

  /** Kills the tasks' containers and stops. */
  async close (): Promise<void> {
    clearTimeout(this.failoverTimer)
    await this.stop()
  }

  async [Symbol.asyncDispose] (): Promise<void> {
    await this.close()
  }

  /** Breaks the subscription connection (a network error). */
  dropStream (): void {
    const socket = this.subscription?.response.socket
    this.endSubscription()
    socket?.destroy()
  }

  /** Keeps the stream open but sends nothing: a network partition. */
  pauseHeartbeats (paused = true): void {
    this.heartbeatsPaused = paused
  }

  /** The next `count` ACCEPTs find their offers rescinded, as if the rescind crossed the accept. */
  rescindNextAccepts (count = 1): void {
    this.rescindOnAccept += count
  }

  /** The next launch fails on the agent with this message. */
  failNextLaunch (message: string): void {
    this.launchFailures.push(message)
  }

  /** The agent is removed: its tasks are LOST, its offers rescinded, a FAILURE event sent. */
  loseAgent (hostname: string): void {
    const agent = this.agents.find((each) => each.hostname === hostname)
    if (agent === undefined || agent.lost) return
    agent.lost = true
    for (const [id, offer] of this.offers) {
      if (offer.agentId !== agent.id) continue
      this.offers.delete(id)
      this.send({ type: 'RESCIND', rescind: { offer_id: { value: id } } })
    }
    for (const task of this.tasks.values()) {
      if (task.agentId === agent.id && !TERMINAL_STATES.has(task.state)) this.update(task, 'TASK_LOST', 'agent removed', 'REASON_AGENT_REMOVED', 'SOURCE_MASTER')
    }
    this.send({ type: 'FAILURE', failure: { agent_id: { value: agent.id } } })
  }

  callsOf (type: MesosCall['type']): MesosCall[] {
    return this.calls.filter((call) => call.type === type)
  }

  private async handle (request: IncomingMessage, response: ServerResponse): Promise<void> {
    if (request.method !== 'POST' || request.url !== '/api/v1/scheduler') {
      response.writeHead(404).end()
      return
    }
    const expected = this.options.credentials
    if (expected !== undefined && request.headers.authorization !== `Basic ${Buffer.from(`${expected.principal}:${expected.secret}`).toString('base64')}`) {
      response.writeHead(401, { 'WWW-Authenticate': 'Basic realm="mesos"' }).end('Unauthorized')
      return
    }
    let call: MesosCall
    try {
      let text = ''
      for await (const chunk of request as AsyncIterable<Buffer>) text += chunk.toString('utf8')
      if (request.headers['content-type'] !== 'application/json') throw new Error('Expecting \'Content-Type\' of application/json')
      call = JSON.parse(text) as MesosCall
    } catch (error) {
      response.writeHead(400).end(`Failed to parse body into Call: ${(error as Error).message}`)
      return
    }
    this.calls.push(call)
    if (call.type === 'SUBSCRIBE') {
      this.subscribe(call, response)
      return
    }
    if (this.subscription === undefined || call.framework_id?.value !== this.frameworkId) {
      response.writeHead(403).end('Framework is not subscribed')
      return
    }
    if (request.headers['mesos-stream-id'] !== this.subscription.streamId) {
      response.writeHead(400).end('The stream ID included in this request didn\'t match the stream ID currently associated with framework ID')
      return
    }
    response.writeHead(202).end()
    this.apply(call)
  }

  private subscribe (call: MesosCall, response: ServerResponse): void {
    const info = call.subscribe?.framework_info
    if (info === undefined || info.name === undefined || info.user === undefined) {
      response.writeHead(400).end('Expecting \'subscribe.framework_info\' with user and name')
      return
    }
    const asked = info.id?.value
    if (asked !== undefined && this.frameworkId !== undefined && asked !== this.frameworkId) {
      response.writeHead(403).end(`Framework ${asked} is not known (completed or torn down)`)
      return
    }
    this.endSubscription()
    clearTimeout(this.failoverTimer)
    this.frameworkId ??= asked ?? `${randomUUID()}-0000`
    this.failoverSeconds = info.failover_timeout ?? 0
    this.subscribes++
    const streamId = randomUUID()
    response.writeHead(200, { 'Content-Type': 'application/json', 'Mesos-Stream-Id': streamId })
    const heartbeatSeconds = this.options.heartbeatSeconds ?? 15
    const heartbeat = setInterval(() => { if (!this.heartbeatsPaused) this.send({ type: 'HEARTBEAT' }) }, heartbeatSeconds * 1000)
    this.subscription = { response, streamId, heartbeat }
    response.on('close', () => {
      if (this.subscription?.response === response) this.endSubscription()
    })
    this.send({ type: 'SUBSCRIBED', subscribed: { framework_id: { value: this.frameworkId }, heartbeat_interval_seconds: heartbeatSeconds } })
    this.suppressed = false
    // status updates nobody acknowledged are sent again, as agents retry them
    for (const status of this.unacked.values()) this.send({ type: 'UPDATE', update: { status } })
  }

  private failoverSeconds = 0

  private endSubscription (): void {
    const subscription = this.subscription
    if (subscription === undefined) return
    this.subscription = undefined
    clearInterval(subscription.heartbeat)
    subscription.response.end()
    for (const [id, offer] of this.offers) if (offer !== undefined) this.offers.delete(id)
    clearTimeout(this.failoverTimer)
    this.failoverTimer = setTimeout(() => { void this.teardown() }, this.failoverSeconds * 1000)
    this.failoverTimer.unref()
  }

  private send (event: Record<string, unknown>): void {
    const subscription = this.subscription
    if (subscription === undefined) return
    subscription.response.write(encodeRecord(JSON.stringify(event)))
  }

  private apply (call: MesosCall): void {
    switch (call.type) {
      case 'ACCEPT': this.accept(call); break
      case 'DECLINE':
        for (const id of call.decline?.offer_ids ?? []) this.release(id.value, call.decline?.filters?.refuse_seconds ?? 5)
        break
      case 'REVIVE':
        this.suppressed = false
        for (const agent of this.agents) agent.refusedUntil = 0
        break
      case 'SUPPRESS': this.suppressed = true; break
      case 'KILL': void this.kill(call.kill?.task_id.value ?? ''); break
      case 'ACKNOWLEDGE': {
        const key = `${call.acknowledge?.task_id.value ?? ''}/${call.acknowledge?.uuid ?? ''}`
        if (this.unacked.delete(key)) this.acknowledged++
        break
      }
      case 'RECONCILE': this.reconcile(call); break
      case 'TEARDOWN': void this.teardown(); break
      default: break
    }
  }

  private release (offerId: string, refuseSeconds: number): void {
    const offer = this.offers.get(offerId)
    if (offer === undefined) return
    this.offers.delete(offerId)
    const agent = this.agents.find((each) => each.id === offer.agentId)
    if (agent !== undefined) agent.refusedUntil = Date.now() + refuseSeconds * 1000
  }

  private accept (call: MesosCall): void {
    const ids = call.accept?.offer_ids ?? []
    const tasks = (call.accept?.operations ?? []).filter((operation) => operation.type === 'LAUNCH').flatMap((operation) => operation.launch.task_infos)
    let valid = ids.length > 0 && ids.every((id) => this.offers.has(id.value))
    if (valid && this.rescindOnAccept > 0) {
      this.rescindOnAccept--
      for (const id of ids) {
        this.offers.delete(id.value)
        this.send({ type: 'RESCIND', rescind: { offer_id: { value: id.value } } })
      }
      valid = false
    }
    if (!valid) {
      for (const info of tasks) {
        const record: TaskRecord = { info, agentId: info.agent_id.value, state: 'TASK_STAGING', killed: false }
        this.update(record, 'TASK_LOST', 'Task launched with invalid offers', 'REASON_INVALID_OFFERS', 'SOURCE_MASTER')
      }
      return
    }
    const agentId = this.offers.get(ids[0]?.value ?? '')?.agentId as string
    const offered = ids.flatMap((id) => this.offers.get(id.value)?.resources ?? [])
    for (const id of ids) this.offers.delete(id.value)
    const agent = this.agents.find((each) => each.id === agentId) as AgentState
    agent.refusedUntil = Date.now() + (call.accept?.filters?.refuse_seconds ?? 0) * 1000
    let cpus = 0
    let mem = 0
    for (const info of tasks) {
      const record: TaskRecord = { info, agentId, state: 'TASK_STAGING', killed: false }
      cpus += scalarResource(info.resources, 'cpus')
      mem += scalarResource(info.resources, 'mem')
      if (this.tasks.has(info.task_id.value) || info.agent_id.value !== agentId || cpus > scalarResource(offered, 'cpus') + 1e-9 || mem > scalarResource(offered, 'mem') + 1e-9 || !portsWithin(info.resources, offered)) {
        this.update(record, 'TASK_ERROR', 'Task uses more resources than offered, or a duplicate task id', 'REASON_TASK_INVALID', 'SOURCE_MASTER')
        continue
      }
      this.tasks.set(info.task_id.value, record)
      this.update(record, 'TASK_STAGING', undefined, undefined, 'SOURCE_MASTER')
      void this.launch(record, agent)
    }
  }

  private async launch (record: TaskRecord, agent: AgentState): Promise<void> {
    const info = record.info
    const failure = this.launchFailures.shift()
    try {
      if (failure !== undefined) throw new Error(failure)
      const body = createBody(info)
      const name = `mesos-${agent.id}.${randomUUID()}`
      const created = replyBody<{ Id: string }>(await callDocker(agent.engine, { operation: 'ContainerCreate', target: '', query: { name }, body }, { timeoutMs: 180_000 }))
      record.containerId = created.Id
      if (record.killed) throw new Error('killed during launch')
      this.update(record, 'TASK_STARTING', undefined, undefined, 'SOURCE_EXECUTOR')
      await callDocker(agent.engine, { operation: 'ContainerStart', target: created.Id }, { timeoutMs: 180_000 })
      const inspect = replyBody<unknown>(await callDocker(agent.engine, { operation: 'ContainerInspect', target: created.Id }, { timeoutMs: 180_000 }))
      record.data = Buffer.from(JSON.stringify([inspect])).toString('base64')
      if (agent.lost) return
      if (record.killed) {
        await callDocker(agent.engine, { operation: 'ContainerStop', target: created.Id, query: { t: '2' } }, { timeoutMs: 30_000 }).catch(() => {})
        this.update(record, 'TASK_KILLED', 'Task killed during launch', 'REASON_TASK_KILLED_DURING_LAUNCH', 'SOURCE_EXECUTOR')
        return
      }
      this.update(record, 'TASK_RUNNING', undefined, undefined, 'SOURCE_EXECUTOR')
      void this.watch(record, agent)
    } catch (error) {
      if (record.killed) {
        this.update(record, 'TASK_KILLED', 'Task killed during launch', 'REASON_TASK_KILLED_DURING_LAUNCH', 'SOURCE_EXECUTOR')
        return
      }
      this.update(record, 'TASK_FAILED', `Failed to launch container: ${(error as Error).message}`, 'REASON_CONTAINER_LAUNCH_FAILED', 'SOURCE_EXECUTOR')
    }
  }

  private async watch (record: TaskRecord, agent: AgentState): Promise<void> {
    try {
      const reply = await callDocker(agent.engine, { operation: 'ContainerWait', target: record.containerId as string })
      let text = reply.body ?? ''
      if (reply.stream !== undefined) for await (const chunk of reply.stream) text += Buffer.from(chunk).toString('utf8')
      const code = (JSON.parse(text) as { StatusCode?: number }).StatusCode ?? -1
      if (agent.lost || TERMINAL_STATES.has(record.state)) return
      if (record.killed) this.update(record, 'TASK_KILLED', `Container exited with status ${code}`, undefined, 'SOURCE_EXECUTOR')
      else if (code === 0) this.update(record, 'TASK_FINISHED', 'Container exited with status 0', undefined, 'SOURCE_EXECUTOR')
      else this.update(record, 'TASK_FAILED', `Container exited with status ${code}`, 'REASON_COMMAND_EXECUTOR_FAILED', 'SOURCE_EXECUTOR')
    } catch (error) {
      if (!agent.lost && !TERMINAL_STATES.has(record.state)) this.update(record, 'TASK_FAILED', `Lost the container: ${(error as Error).message}`, 'REASON_EXECUTOR_TERMINATED', 'SOURCE_AGENT')
    }
  }

  private async kill (taskId: string): Promise<void> {
    const record = this.tasks.get(taskId)
    if (record === undefined) {
      this.sendStatus({ task_id: { value: taskId }, state: 'TASK_LOST', message: 'Attempted to kill an unknown task', reason: 'REASON_RECONCILIATION', source: 'SOURCE_MASTER' })
      return
    }
    if (TERMINAL_STATES.has(record.state)) return
    record.killed = true
    const agent = this.agents.find((each) => each.id === record.agentId) as AgentState
    if (record.containerId === undefined || record.state !== 'TASK_RUNNING') return
    this.update(record, 'TASK_KILLING', undefined, undefined, 'SOURCE_EXECUTOR')
    await callDocker(agent.engine, { operation: 'ContainerStop', target: record.containerId, query: { t: '2' } }, { timeoutMs: 30_000 }).catch(() => {})
  }

  private reconcile (call: MesosCall): void {
    const asked = call.reconcile?.tasks ?? []
    const records = asked.length === 0 ? [...this.tasks.values()].filter((task) => !TERMINAL_STATES.has(task.state)) : []
    for (const record of records) this.sendStatus(this.status(record, record.state, record.message, 'REASON_RECONCILIATION', 'SOURCE_MASTER', false))
    for (const { task_id: taskId } of asked) {
      const record = this.tasks.get(taskId.value)
      if (record === undefined) this.sendStatus({ task_id: taskId, state: 'TASK_LOST', message: 'Reconciliation: task is unknown', reason: 'REASON_RECONCILIATION', source: 'SOURCE_MASTER' })
      else this.sendStatus(this.status(record, record.state, record.message, 'REASON_RECONCILIATION', 'SOURCE_MASTER', false))
    }
  }

  private async teardown (): Promise<void> {
    this.frameworkId = undefined
    for (const record of this.tasks.values()) {
      if (TERMINAL_STATES.has(record.state)) continue
      const agent = this.agents.find((each) => each.id === record.agentId)
      if (agent !== undefined && record.containerId !== undefined) await callDocker(agent.engine, { operation: 'ContainerStop', target: record.containerId, query: { t: '1' } }).catch(() => {})
      record.state = 'TASK_KILLED'
    }
  }

  private status (record: TaskRecord, state: TaskState, message: string | undefined, reason: string | undefined, source: MesosTaskStatus['source'], reliable: boolean): MesosTaskStatus {
    return {
      task_id: record.info.task_id,
      state,
      agent_id: { value: record.agentId },
      source,
      timestamp: Date.now() / 1000,
      ...(message === undefined ? {} : { message }),
      ...(reason === undefined ? {} : { reason }),
      ...(record.data === undefined || state !== 'TASK_RUNNING' ? {} : { data: record.data }),
      ...(reliable ? { uuid: randomBytes(16).toString('base64') } : {})
    }
  }

  private update (record: TaskRecord, state: TaskState, message: string | undefined, reason: string | undefined, source: MesosTaskStatus['source']): void {
    record.state = state
    record.message = message
    const status = this.status(record, state, message, reason, source, source !== 'SOURCE_MASTER' || state === 'TASK_LOST' || state === 'TASK_STAGING')
    if (status.uuid !== undefined) this.unacked.set(`${status.task_id.value}/${status.uuid}`, status)
    this.sendStatus(status)
  }

  private sendStatus (status: MesosTaskStatus): void {
    this.send({ type: 'UPDATE', update: { status } })
  }

  private makeOffers (): void {
    if (this.subscription === undefined || this.suppressed || this.frameworkId === undefined) return
    const now = Date.now()
    const offers: MesosOffer[] = []
    for (const agent of this.agents) {
      if (agent.lost || agent.refusedUntil > now || [...this.offers.values()].some((offer) => offer.agentId === agent.id)) continue
      const resources = this.available(agent)
      if (scalarResource(resources, 'cpus') < 0.01 || scalarResource(resources, 'mem') < 1) continue
      const id = `O-${randomUUID()}`
      this.offers.set(id, { agentId: agent.id, resources })
      offers.push({
        id: { value: id },
        framework_id: { value: this.frameworkId },
        agent_id: { value: agent.id },
        hostname: agent.hostname,
        resources,
        attributes: Object.entries(agent.attributes ?? {}).map(([name, value]) => ({ name, type: 'TEXT', text: { value } }))
      })
    }
    if (offers.length > 0) this.send({ type: 'OFFERS', offers: { offers } })
  }

  /** An agent's resources minus those of its live tasks. */
  private available (agent: AgentState): MesosResource[] {
    let cpus = agent.cpus
    let mem = agent.mem
    const used: Array<[number, number]> = []
    for (const task of this.tasks.values()) {
      if (task.agentId !== agent.id || TERMINAL_STATES.has(task.state)) continue
      cpus -= scalarResource(task.info.resources, 'cpus')
      mem -= scalarResource(task.info.resources, 'mem')
      for (const resource of task.info.resources) if (resource.name === 'ports') for (const range of resource.ranges?.range ?? []) used.push([range.begin, range.end])
    }
    const ranges = subtractRanges(agent.ports, used)
    return [
      { name: 'cpus', type: 'SCALAR', scalar: { value: Math.round(cpus * 1000) / 1000 }, role: '*' },
      { name: 'mem', type: 'SCALAR', scalar: { value: mem }, role: '*' },
      ...(ranges.length === 0 ? [] : [{ name: 'ports', type: 'RANGES' as const, ranges: { range: ranges.map(([begin, end]) => ({ begin, end })) }, role: '*' }])
    ]
  }
}

function subtractRanges (ranges: Array<[number, number]>, used: Array<[number, number]>): Array<[number, number]> {
  let result = ranges.map(([begin, end]): [number, number] => [begin, end])
  for (const [begin, end] of used) {
    result = result.flatMap(([b, e]): Array<[number, number]> => {
      if (end < b || begin > e) return [[b, e]]
      const parts: Array<[number, number]> = []
      if (begin > b) parts.push([b, begin - 1])
      if (end < e) parts.push([end + 1, e])
      return parts
    })
  }
  return result
}

function portsWithin (wanted: MesosResource[], offered: MesosResource[]): boolean {
  const ranges = offered.filter((resource) => resource.name === 'ports').flatMap((resource) => resource.ranges?.range ?? [])
  return wanted.filter((resource) => resource.name === 'ports').flatMap((resource) => resource.ranges?.range ?? [])
    .every((range) => ranges.some((each) => range.begin >= each.begin && range.end <= each.end))
}

const SUPPORTED_PARAMETERS = new Set(['label', 'env', 'workdir', 'user', 'add-host', 'entrypoint', 'tty', 'interactive'])

/** The Engine API create body for a DOCKER task, as the Docker containerizer builds its `docker run`. */
function createBody (info: MesosTaskInfo): Record<string, unknown> {
  const docker = info.container?.docker
  if (info.container?.type !== 'DOCKER' || docker === undefined) throw new Error('the stand-in launches DOCKER containers only')
  const command = info.command
  const env = (command?.environment?.variables ?? []).map((variable) => `${variable.name}=${variable.value ?? ''}`)
  const labels: Record<string, string> = {}
  const config: Record<string, unknown> = { Image: docker.image }
  const host: Record<string, unknown> = {}
  for (const { key, value } of docker.parameters ?? []) {
    if (!SUPPORTED_PARAMETERS.has(key)) throw new Error(`docker parameter --${key} is not supported by the stand-in`)
    if (key === 'label') {
      const at = value.indexOf('=')
      labels[at < 0 ? value : value.slice(0, at)] = at < 0 ? '' : value.slice(at + 1)
    } else if (key === 'env') env.push(value)
    else if (key === 'workdir') config.WorkingDir = value
    else if (key === 'user') config.User = value
    else if (key === 'entrypoint') config.Entrypoint = [value]
    else if (key === 'tty') config.Tty = value === 'true'
    else if (key === 'interactive') config.OpenStdin = value === 'true'
    else if (key === 'add-host') host.ExtraHosts = [...(host.ExtraHosts as string[] | undefined ?? []), value]
  }
  if (command?.shell === false) {
    if (command.value !== undefined && command.value !== '') config.Entrypoint = [command.value]
    if ((command.arguments ?? []).length > 0) config.Cmd = command.arguments
  } else if (command?.value !== undefined && command.value !== '') {
    config.Entrypoint = ['/bin/sh', '-c']
    config.Cmd = [command.value]
  }
  const network = docker.network ?? 'HOST'
  host.NetworkMode = network === 'USER' ? info.container.network_infos?.[0]?.name ?? 'bridge' : network.toLowerCase()
  const bindings: Record<string, Array<{ HostPort: string }>> = {}
  const exposed: Record<string, object> = {}
  for (const mapping of docker.port_mappings ?? []) {
    const key = `${mapping.container_port}/${mapping.protocol ?? 'tcp'}`
    exposed[key] = {}
    bindings[key] = [...(bindings[key] ?? []), { HostPort: String(mapping.host_port) }]
  }
  host.PortBindings = bindings
  host.Binds = (info.container.volumes ?? []).map((volume) => `${volume.host_path ?? ''}:${volume.container_path}:${volume.mode === 'RO' ? 'ro' : 'rw'}`)
  host.Privileged = docker.privileged ?? false
  const mem = scalarResource(info.resources, 'mem')
  if (mem > 0) host.Memory = Math.round(mem * 1024 * 1024)
  const cpus = scalarResource(info.resources, 'cpus')
  if (cpus > 0) host.CpuShares = Math.max(2, Math.round(cpus * 1024))
  return { ...config, Env: env, Labels: labels, ExposedPorts: exposed, Hostname: info.container.hostname, HostConfig: host }
}
