import { randomBytes } from 'node:crypto'
import {
  ErrorCode, SwarmError, abandonedSignal, createServer, defineService, errorMessage, replyAndClose, silentLogger,
  type Logger, type Message, type Sender, type ServiceContext, type ServiceInstance
} from '@libswarm/core'
import {
  decodeDockerRequest, encodeDockerReply, filterMatcher, isDockerRequest, jsonReply, parseFilters, queryFlag, queryValue,
  type DockerRequest
} from '@libswarm/docker-api'
import { AgentEngines } from './agent-engines.js'
import { listRow, syntheticInspect, type ContainerRecord } from './container-record.js'
import { callDocker, replyBody } from './docker-call.js'
import { EventFeed } from './event-feed.js'
import { MesosFramework } from './mesos-framework.js'
import { MESOS_USAGE, parseMesosArgs, type MesosOptions } from './mesos-options.js'
import type { MesosTaskStatus } from './mesos-types.js'
import { NAME_LABEL, TASK_LABEL, taskSpec } from './task-spec.js'
import { agentLines, mesosInfo, mesosVersion } from './system-info.js'

/** mesos' own version, as `docker version` shows it. */
export const MESOS_VERSION = '0.1.0'

/** Operations forwarded to the container's engine on its agent, with the agent's container id as target. */
const FORWARDED = new Set([
  'ContainerTop', 'ContainerLogs', 'ContainerChanges', 'ContainerExport', 'ContainerStats', 'ContainerResize', 'ContainerAttach',
  'ContainerAttachWebsocket', 'ContainerArchiveInfo', 'ContainerArchive', 'PutContainerArchive'
])
const EXEC_OPERATIONS = new Set(['ExecStart', 'ExecResize', 'ExecInspect'])
const MAX_EXECS = 100_000

/** The context mesos is spawned with: core's ServiceContext. */
export type MesosContext = Pick<ServiceContext, 'spawn'> & { log?: Logger | undefined }

/**
 * The mesos service: a Mesos framework on the v1 scheduler HTTP API. `docker run` becomes a
 * task placed by Mesos' offers on one of the agents; `docker ps` lists the framework's tasks;
 * stop, kill and rm KILL them; logs, exec, attach, cp and inspect go to the task's container on
 * its agent's engine; `docker info` lists the agents as nodes.
 */
export async function createMesos (options: MesosOptions, context: MesosContext): Promise<ServiceInstance> {
  const log = context.log ?? silentLogger
  const feed = new EventFeed()
  const engines = new AgentEngines({ children: options.children ?? [], agentAttribute: options.agentAttribute, enginePort: options.enginePort, engineTls: options.engineTls, spawn: context.spawn, log })
  await engines.start()
  const framework = new MesosFramework(options, feed, log)
  const service = new MesosService(options, framework, engines, feed, log)
  framework.onUnknownTask = async (status) => { await service.recover(status) }
  framework.onEnded = (record) => { service.ended(record) }
  framework.start()
  let closed = false
  const server = createServer({
    default: async (message) => {
      if (closed) throw new SwarmError(ErrorCode.ChannelClosed, 'mesos is closed')
      return await service.handle(message)
    }
  })
  return {
    send: server.send.bind(server),
    close: async () => {
      if (closed) return
      closed = true
      await framework.close()
      await engines.close()
    }
  }
}

class MesosService {
  readonly id = randomBytes(16).toString('hex')
  private readonly execs = new Map<string, Sender>()

  constructor (readonly options: MesosOptions, readonly framework: MesosFramework, readonly engines: AgentEngines, readonly feed: EventFeed, readonly log: Logger) {}

  async handle (message: Message): Promise<Message | undefined> {
    if (!isDockerRequest(message)) throw new SwarmError(ErrorCode.NotImplemented, `mesos answers Docker requests only, not ${message.verb} ${message.args.slice(0, 1).join(' ')}`.trim())
    const request = decodeDockerRequest(message)
    const operation = request.operation
    if (operation === 'ContainerAttach' && this.notYetRunning(request.target)) return this.attachBeforeStart(message, request)
    if (FORWARDED.has(operation)) return await this.forward(message, request)
    if (EXEC_OPERATIONS.has(operation)) return await this.forwardExec(message, request)
    switch (operation) {
      case 'SystemPing':
      case 'SystemPingHead':
        return encodeDockerReply({ status: 200, body: operation === 'SystemPing' ? 'OK' : '', headers: { 'Content-Type': 'text/plain; charset=utf-8', 'Api-Version': '1.41', Ostype: 'linux', 'Docker-Experimental': 'false', 'Cache-Control': 'no-cache, no-store, must-revalidate', Pragma: 'no-cache' } })
      case 'SystemInfo': return jsonReply(mesosInfo(this.id, this.options, [...this.framework.records.values()], agentLines(this.framework, this.engines), `mesos/${MESOS_VERSION}`))
      case 'SystemVersion': return jsonReply(mesosVersion(MESOS_VERSION))
      case 'SystemEvents': return this.events(request, abandonedSignal(message.ret))
      case 'ContainerList': return this.list(request)
      case 'ContainerCreate': return this.create(request)
      case 'ContainerInspect': return await this.inspect(request)
      case 'ContainerStart':
      case 'ContainerRestart': return await this.start(request)
      case 'ContainerStop':
      case 'ContainerKill': return await this.stop(request)
      case 'ContainerWait': return this.wait(request, abandonedSignal(message.ret))
      case 'ContainerDelete': return await this.remove(request)
      case 'ContainerExec': return await this.exec(request)
      case 'ContainerRename': return this.rename(request)
      default:
        throw new SwarmError(ErrorCode.NotImplemented, `mesos: ${operation} is not supported (containers are Mesos tasks; images, networks and volumes belong to the agents)`)
    }
  }

  /** The container a reference names: id, unique id prefix, or name. */
  find (reference: string): ContainerRecord {
    const wanted = reference.replace(/^\//, '')
    const records = [...this.framework.records.values()]
    const exact = records.find((record) => record.id === wanted || record.name === wanted)
    if (exact !== undefined) return exact
    const byPrefix = wanted.length === 0 ? [] : records.filter((record) => record.id.startsWith(wanted))
    if (byPrefix.length === 1) return byPrefix[0] as ContainerRecord
    if (byPrefix.length > 1) throw new SwarmError(ErrorCode.BadRequest, `multiple IDs found with provided prefix: ${wanted}`)
    throw new SwarmError(ErrorCode.NotFound, `No such container: ${reference}`)
  }

  private create (request: DockerRequest): Message {
    const wanted = queryValue(request.query, 'name')
    const id = randomBytes(32).toString('hex')
    let name = wanted?.replace(/^\//, '') ?? ''
    if (name !== '' && !/^[a-zA-Z0-9][a-zA-Z0-9_.-]+$/.test(name)) throw new SwarmError(ErrorCode.BadRequest, `Invalid container name (${name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed`)
    if (name !== '' && [...this.framework.records.values()].some((record) => record.name === name)) {
      throw new SwarmError(ErrorCode.Conflict, `Conflict. The container name "/${name}" is already in use by container "${this.find(name).id}". You have to remove (or rename) that container to be able to reuse that name.`)
    }
    if (name === '') name = `mesos-${id.slice(0, 12)}`
    const body = (request.body ?? {}) as Record<string, unknown>
    const spec = taskSpec(body, id, name, { cpus: this.options.defaultCpus ?? 0.1, mem: this.options.defaultMem ?? 64 })
    const record: ContainerRecord = { id, name, created: Date.now(), spec, body, phase: 'created', launches: 0, exitCode: 0 }
    this.framework.adopt(record)
    this.feed.publish('container', 'create', id, { name, image: spec.image })
    return jsonReply({ Id: id, Warnings: [] }, 201)
  }

  private async start (request: DockerRequest): Promise<Message> {
    const record = this.find(request.target)
    if (request.operation === 'ContainerRestart' && record.phase === 'running') await this.framework.kill(record)
    if (record.phase === 'running') return encodeDockerReply({ status: 304 })
    await this.framework.launch(record)
    return encodeDockerReply({ status: 204 })
  }

  private async stop (request: DockerRequest): Promise<Message> {
    const record = this.find(request.target)
    const running = record.phase === 'running' || record.phase === 'launching' || record.phase === 'waiting-offer'
    if (!running) {
      if (request.operation === 'ContainerKill') throw new SwarmError(ErrorCode.Conflict, `Cannot kill container: ${request.target}: Container ${record.id} is not running`)
      return encodeDockerReply({ status: 304 })
    }
    this.feed.publish('container', request.operation === 'ContainerKill' ? 'kill' : 'stop', record.id, { name: record.name, image: record.spec.image })
    await this.framework.kill(record)
    return encodeDockerReply({ status: 204 })
  }

  /**
   * The answer's headers go at once and the JSON when the task ends, as dockerd does: the CLI
   * sends its wait (for the next exit) before the start, and starts only once the wait is answered.
   */
  private wait (request: DockerRequest, signal: AbortSignal): Message {
    const record = this.find(request.target)
    const condition = queryValue(request.query, 'condition') ?? 'not-running'
    // waiting starts now, not when the answer's body is first read: the task may end in between
    const log = this.log
    const ended = this.framework.ended(record, signal, condition === 'next-exit' || condition === 'removed')
    ended.catch(() => {})
    const body = async function * (): AsyncGenerator<Uint8Array, void, undefined> {
      await ended
      log.debug('wait answered', { container: record.name, exitCode: record.exitCode })
      const error = record.error === undefined || record.phase === 'exited' ? null : { Message: record.error }
      yield new TextEncoder().encode(JSON.stringify({ StatusCode: record.exitCode, Error: error }) + '\n')
    }
    return encodeDockerReply({ status: 200, headers: { 'Content-Type': 'application/json' }, stream: body() })
  }

  private async remove (request: DockerRequest): Promise<Message> {
    const record = this.find(request.target)
    const running = record.phase === 'running' || record.phase === 'launching' || record.phase === 'waiting-offer'
    if (running && !queryFlag(request.query, 'force')) {
      throw new SwarmError(ErrorCode.Conflict, `You cannot remove a running container ${record.id}. Stop the container before attempting removal or force remove`)
    }
    if (running) await this.framework.kill(record)
    if (record.agentContainerId !== undefined && record.agentId !== undefined && this.framework.agents.get(record.agentId)?.lost !== true) {
      // the agent keeps an exited task's container for a while; the client asked for it gone
      await this.agentEngine(record).then(async (engine) => await callDocker(engine, { operation: 'ContainerDelete', target: record.agentContainerId as string, query: { force: '1', v: queryValue(request.query, 'v') ?? '0' } }, { timeoutMs: 30_000 }))
        .catch((error: unknown) => { this.log.warn('agent container not removed', { container: record.name, error: (error as Error).message }) })
    }
    this.framework.forget(record)
    this.feed.publish('container', 'destroy', record.id, { name: record.name, image: record.spec.image })
    return encodeDockerReply({ status: 204 })
  }

  /** A container run with `--rm` (AutoRemove) goes once its task ended, as dockerd removes it. */
  ended (record: ContainerRecord): void {
    const host = record.body.HostConfig as { AutoRemove?: boolean } | undefined
    if (host?.AutoRemove !== true) return
    void this.remove({ operation: 'ContainerDelete', target: record.id, query: { force: '1' } }).catch((error: unknown) => {
      this.log.warn('auto-remove failed', { container: record.name, error: (error as Error).message })
    })
  }

  private rename (request: DockerRequest): Message {
    const record = this.find(request.target)
    const name = (queryValue(request.query, 'name') ?? '').replace(/^\//, '')
    if (!/^[a-zA-Z0-9][a-zA-Z0-9_.-]+$/.test(name)) throw new SwarmError(ErrorCode.BadRequest, `Invalid container name (${name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed`)
    if ([...this.framework.records.values()].some((other) => other !== record && other.name === name)) throw new SwarmError(ErrorCode.Conflict, `Conflict. The container name "/${name}" is already in use`)
    record.name = name
    return encodeDockerReply({ status: 204 })
  }

  private list (request: DockerRequest): Message {
    const all = queryFlag(request.query, 'all')
    const filters = parseFilters(request.query)
    const names = filters.name === undefined ? undefined : filterMatcher(filters.name)
    const ids = filters.id === undefined ? undefined : filterMatcher(filters.id)
    const rows = [...this.framework.records.values()]
      .sort((a, b) => b.created - a.created)
      .map(listRow)
      .filter((row) => all || filters.status !== undefined || row.State === 'running')
      .filter((row) => filters.status === undefined || filters.status.includes(row.State as string))
      .filter((row) => names === undefined || (row.Names as string[]).some((name) => names(name)))
      .filter((row) => ids === undefined || ids(row.Id as string))
      .filter((row) => (filters.label ?? []).every((label) => {
        const [key = '', value] = label.split('=')
        const labels = row.Labels as Record<string, string>
        return value === undefined ? key in labels : labels[key] === value
      }))
    const limit = Number(queryValue(request.query, 'limit') ?? '-1')
    return jsonReply(limit > 0 ? rows.slice(0, limit) : rows)
  }

  private async inspect (request: DockerRequest): Promise<Message> {
    const record = this.find(request.target)
    const agentLost = record.agentId !== undefined && this.framework.agents.get(record.agentId)?.lost === true
    if (record.agentContainerId === undefined || record.phase === 'lost' || agentLost) return jsonReply(syntheticInspect(record))
    try {
      const engine = await this.agentEngine(record)
      const inspect = replyBody<Record<string, unknown>>(await callDocker(engine, { operation: 'ContainerInspect', target: record.agentContainerId, query: request.query }, { timeoutMs: 10_000 }))
      return jsonReply({ ...inspect, Id: record.id, Name: `/${record.name}`, Node: { Name: record.hostname ?? '', ID: record.agentId ?? '' } })
    } catch (error) {
      this.log.warn('inspect from the agent failed, answering from the framework', { container: record.name, error: (error as Error).message })
      return jsonReply(syntheticInspect(record))
    }
  }

  private async agentEngine (record: ContainerRecord): Promise<Sender> {
    const agent = record.agentId === undefined ? undefined : this.framework.agents.get(record.agentId)
    const hostname = agent?.hostname ?? record.hostname
    if (hostname === undefined) throw new SwarmError(ErrorCode.Conflict, `container ${record.name} is not placed on an agent yet`)
    try {
      return await this.engines.engineFor({ hostname, attributes: agent?.attributes })
    } catch (error) {
      throw new SwarmError(ErrorCode.Unavailable, `mesos: the engine of agent ${hostname} is not reachable: ${(error as Error).message}`, { cause: error })
    }
  }

  /** The agent engine and container id of a container that runs (or ran) there. */
  private async placed (reference: string): Promise<{ record: ContainerRecord, engine: Sender, containerId: string }> {
    const record = this.find(reference)
    if (record.agentContainerId === undefined) throw new SwarmError(ErrorCode.Conflict, `Container ${record.id} is not running (${record.phase}${record.state === undefined ? '' : `, ${record.state}`})`)
    if (record.phase === 'lost') throw new SwarmError(ErrorCode.Conflict, `Container ${record.id} is lost: its agent ${record.hostname ?? ''} is gone (${record.error ?? record.state ?? ''})`)
    return { record, engine: await this.agentEngine(record), containerId: record.agentContainerId }
  }

  private async forward (message: Message, request: DockerRequest): Promise<undefined> {
    const { engine, containerId } = await this.placed(request.target)
    const args = [message.args[0] as string, containerId, message.args[2] ?? '{}', ...message.args.slice(3)]
    try {
      await engine.send({ verb: message.verb, args, ret: message.ret, stream: message.stream })
    } catch (error) {
      await replyAndClose(message.ret, errorMessage(error))
    }
    return undefined
  }

  private notYetRunning (reference: string): boolean {
    const phase = this.find(reference).phase
    return phase === 'created' || phase === 'waiting-offer' || phase === 'launching'
  }

  /**
   * `docker run` without `-d` attaches before it starts: the attach is answered at once, and its
   * output follows once the task runs, from an attach to the agent's container with `logs=1`, so
   * that nothing it printed before is lost.
   */
  private attachBeforeStart (message: Message, request: DockerRequest): Message {
    const record = this.find(request.target)
    const signal = abandonedSignal(message.ret)
    const output = async function * (service: MesosService): AsyncGenerator<Uint8Array, void, undefined> {
      if (!await service.framework.running(record, signal)) return
      const { engine, containerId } = await service.placed(record.id)
      const stdin = queryFlag(request.query, 'stdin') ? message.stream : undefined
      const reply = await callDocker(engine, { ...request, target: containerId, query: { ...request.query, logs: '1', stream: '1' }, stream: stdin })
      if (reply.stream === undefined) return
      // the agent's attach may stay open after its container exited: the task's end ends it, after a moment for the last bytes
      const iterator = reply.stream[Symbol.asyncIterator]()
      const over = service.framework.ended(record, signal).then(async () => { await new Promise((resolve) => setTimeout(resolve, 300)) }).then(() => ({ done: true as const, value: undefined }), () => ({ done: true as const, value: undefined }))
      try {
        while (true) {
          const next = await Promise.race([iterator.next(), over])
          if (next.done === true) break
          yield next.value
        }
      } finally {
        void Promise.resolve(iterator.return?.()).catch(() => {})
      }
      service.log.debug('attach output ended', { container: record.name })
    }
    return encodeDockerReply({ status: 101, headers: { 'Content-Type': 'application/vnd.docker.raw-stream', Connection: 'Upgrade', Upgrade: 'tcp' }, stream: output(this) })
  }

  private async exec (request: DockerRequest): Promise<Message> {
    const { engine, containerId } = await this.placed(request.target)
    const reply = await callDocker(engine, { ...request, target: containerId }, { timeoutMs: 30_000 })
    const created = replyBody<{ Id?: string }>(reply)
    if (created?.Id !== undefined) {
      if (this.execs.size >= MAX_EXECS) this.execs.delete(this.execs.keys().next().value as string)
      this.execs.set(created.Id, engine)
    }
    return encodeDockerReply(reply)
  }

  private async forwardExec (message: Message, request: DockerRequest): Promise<undefined> {
    const engine = this.execs.get(request.target)
    if (engine === undefined) throw new SwarmError(ErrorCode.NotFound, `No such exec instance: ${request.target}`)
    try {
      await engine.send(message)
    } catch (error) {
      await replyAndClose(message.ret, errorMessage(error))
    }
    return undefined
  }

  private events (request: DockerRequest, signal: AbortSignal): Message {
    const filters = parseFilters(request.query)
    const accept = (event: { Type: string, Action: string, Actor: { ID: string, Attributes: Record<string, string> } }): boolean =>
      (filters.type === undefined || filters.type.includes(event.Type)) &&
      (filters.event === undefined || filters.event.includes(event.Action)) &&
      (filters.container === undefined || filters.container.some((each) => event.Actor.ID.startsWith(each) || event.Actor.Attributes.name === each))
    return encodeDockerReply({ status: 200, headers: { 'Content-Type': 'application/json' }, stream: this.feed.follow(signal, accept) })
  }

  /**
   * A status update for a task this process does not know: swarmd restarted and the master
   * reconciled the framework's tasks. The container is found on its agent by its label and
   * taken back, so `docker ps` shows it again.
   */
  async recover (status: MesosTaskStatus): Promise<void> {
    const [id = '', launch = '1'] = status.task_id.value.split('.')
    if (!/^[0-9a-f]{64}$/.test(id) || this.framework.records.has(id) || status.agent_id === undefined) return
    const terminal = status.state !== 'TASK_RUNNING' && status.state !== 'TASK_STARTING' && status.state !== 'TASK_STAGING'
    if (terminal) return
    const agent = this.framework.agents.get(status.agent_id.value)
    const hostname = agent?.hostname ?? await this.hostnameOfAgent(status.agent_id.value)
    if (hostname === undefined) return
    try {
      const engine = await this.engines.engineFor({ hostname, attributes: agent?.attributes })
      const rows = replyBody<Array<{ Id: string }>>(await callDocker(engine, { operation: 'ContainerList', target: '', query: { all: '1', filters: JSON.stringify({ label: [`${TASK_LABEL}=${id}`] }) } }, { timeoutMs: 10_000 }))
      const row = rows[0]
      if (row === undefined) return
      const inspect = replyBody<{ Config: Record<string, unknown>, HostConfig: Record<string, unknown>, State: { StartedAt?: string }, Created: string }>(await callDocker(engine, { operation: 'ContainerInspect', target: row.Id }, { timeoutMs: 10_000 }))
      const labels = { ...(inspect.Config.Labels as Record<string, string> | undefined ?? {}) }
      const name = labels[NAME_LABEL] ?? `mesos-${id.slice(0, 12)}`
      delete labels[TASK_LABEL]
      delete labels[NAME_LABEL]
      const body = { ...inspect.Config, Labels: labels, HostConfig: inspect.HostConfig }
      const spec = taskSpec(body, id, name, { cpus: this.options.defaultCpus ?? 0.1, mem: this.options.defaultMem ?? 64 })
      const ports = Object.entries((inspect.HostConfig.PortBindings ?? {}) as Record<string, Array<{ HostPort: string }>>)
        .flatMap(([key, bindings]) => bindings.map((binding) => ({ host_port: Number(binding.HostPort), container_port: Number(key.split('/')[0]), protocol: key.split('/')[1] ?? 'tcp' })))
      const record: ContainerRecord = {
        id,
        name,
        created: Date.parse(inspect.Created),
        spec,
        body,
        phase: status.state === 'TASK_RUNNING' ? 'running' : 'launching',
        taskId: status.task_id.value,
        launches: Number(launch),
        task: { name, task_id: status.task_id, agent_id: status.agent_id, resources: [], container: { ...spec.container, docker: { ...spec.container.docker as { image: string }, port_mappings: ports } } },
        agentId: status.agent_id.value,
        hostname,
        agentContainerId: row.Id,
        state: status.state,
        exitCode: 0,
        startedAt: inspect.State.StartedAt
      }
      if (this.framework.records.has(id)) return
      this.framework.adopt(record)
      this.log.info('container taken back after a restart', { container: name, task: status.task_id.value, agent: hostname })
    } catch (error) {
      this.log.warn('could not take back a task', { task: status.task_id.value, error: (error as Error).message })
    }
  }

  private async hostnameOfAgent (agentId: string): Promise<string | undefined> {
    // offers name each agent; a restarted swarmd may hear of a task before it sees an offer of its agent
    const deadline = Date.now() + 5000
    while (Date.now() < deadline) {
      const agent = this.framework.agents.get(agentId)
      if (agent !== undefined) return agent.hostname
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
    return undefined
  }
}

/** `mesos --master URL [options] [children...]`: a Mesos framework placing Docker containers by offers. */
export const mesos = defineService({
  name: 'mesos',
  usage: MESOS_USAGE,
  spawn: async (args, context) => await createMesos(parseMesosArgs(args), context)
})
