import { randomBytes } from 'node:crypto'
import {
  ErrorCode, SwarmError, abandonedSignal, createServer, defineService, errorMessage, isSwarmError, replyAndClose, silentLogger, toSwarmError,
  type ByteStream, type Caller, type Logger, type Message, type Sender, type ServiceContext, type ServiceInstance
} from '@libswarm/core'
import {
  decodeDockerReply, decodeDockerRequest, encodeDockerReply, isDockerRequest, jsonReply, parseFilters, queryFlag, queryValue,
  type DockerQuery, type DockerReply, type DockerRequest
} from '@libswarm/docker-api'
import { AGGREGATE_USAGE, addressOf, parseAggregateArgs, type AggregateOptions } from './aggregate-options.js'
import { bodyJson, callDocker, compareEventTimes, drainProgress, eventJson, jsonArrayChunks, jsonObjects, stopOnAbort, utf8 } from './child-call.js'
import { ClusterState, cachedInspect, listRowJson } from './cluster-state.js'
import { cacheAnswers, containerPredicate, nodeMatcher } from './container-filters.js'
import { EngineNode, type CachedContainer, type EngineEvent } from './engine-node.js'
import { containerOnUnhealthyNode, nodeUnavailable } from './errors.js'
import { EventHub, eventPredicate, ipOf, tagEvent, type NodeEvent } from './event-hub.js'
import { InspectCache } from './inspect-cache.js'
import { routeObject } from './object-routes.js'
import { place, readCreateBody, type Strategy } from './placement.js'
import { Rescheduler, takeReschedulePolicy } from './reschedule.js'
import { clusterApiVersion, clusterInfo, clusterVersion } from './system-info.js'
import { isDeferred, spawnDeferrable } from './deferred-child.js'
import { ProvisionedHosts, provisionedHostNames } from './provisioned-hosts.js'

/** aggregate's own version, as `docker version` shows it. */
export const AGGREGATE_VERSION = '0.1.0'

const REFRESH_AFTER = new Set(['ContainerStart', 'ContainerStop', 'ContainerRestart', 'ContainerKill', 'ContainerUpdate', 'ContainerRename', 'ContainerPause', 'ContainerUnpause'])
const CONTAINER_OPERATIONS = new Set([
  'ContainerTop', 'ContainerLogs', 'ContainerChanges', 'ContainerExport', 'ContainerStats', 'ContainerResize', 'ContainerStart',
  'ContainerStop', 'ContainerRestart', 'ContainerKill', 'ContainerUpdate', 'ContainerRename', 'ContainerPause', 'ContainerUnpause',
  'ContainerAttach', 'ContainerAttachWebsocket', 'ContainerWait', 'ContainerDelete', 'ContainerArchiveInfo', 'ContainerArchive',
  'PutContainerArchive', 'ContainerExec'
])
const SWARM_OPERATIONS = /^(Swarm|Node|Service|Task|Secret|Config)[A-Z]/
const EXEC_MEMORY = 100_000
const LIST_TIMEOUT_MS = 10_000
/** A `docker ps` answer longer than this many rows is streamed. */
const STREAMED_LIST_ROWS = 1000
/** Default text held by the inspect cache: about 7,000 inspect documents of 4.5 KB. */
export const INSPECT_CACHE_BYTES = 32 * 1024 * 1024

/** The result of asking several nodes the same thing. */
export interface NodeAnswer {
  node: EngineNode
  reply?: DockerReply
  error?: SwarmError
}

/**
 * The running aggregate: the cluster state, the event hub, and the handlers that route
 * or answer each Docker operation. Exported for the object routes; not a public API.
 */
export class Aggregate {
  readonly cluster = new ClusterState()
  readonly hub = new EventHub()
  readonly strategy: Strategy
  readonly id = randomBytes(16).toString('hex')
  private readonly execs = new Map<string, EngineNode>()
  readonly random: () => number
  readonly rescheduler: Rescheduler
  readonly inspects: InspectCache<EngineNode>

  constructor (readonly options: AggregateOptions, readonly log: Logger) {
    this.strategy = options.strategy ?? 'spread'
    // what an engine changes without an event (a health check's log) is at most one refresh interval old
    this.inspects = new InspectCache(options.inspectCacheBytes ?? INSPECT_CACHE_BYTES, options.refreshIntervalMs ?? 30_000)
    this.random = options.random ?? Math.random
    this.rescheduler = new Rescheduler({
      create: async (request) => {
        const reply = decodeDockerReply(await this.createContainer(request))
        const id = bodyJson<{ Id: string }>(reply).Id
        return { id, node: this.cluster.find(id).node }
      },
      containers: () => this.cluster.visible(),
      publish: (node, event) => { this.hub.publish(node, event) },
      log
    })
  }

  /** An event of a node: to the merged stream; a node that failed or came back, to the rescheduler too. */
  nodeEvent (node: EngineNode, event: EngineEvent): void {
    if (event.Type === 'swarm') this.inspects.invalidateOwner(node)
    else {
      const container = event.Type === 'container' || event.Type === undefined ? event.Actor?.ID ?? event.id : event.Actor?.Attributes?.container
      if (container !== undefined) this.inspects.invalidate(container)
    }
    this.hub.publish(node, event)
    if (event.Type === 'swarm' && event.Action !== undefined) this.rescheduler.nodeChanged(node, event.Action)
  }

  /** Healthy nodes, in child order. */
  healthy (): EngineNode[] {
    return this.cluster.nodes.filter((node) => node.health === 'healthy')
  }

  /** The healthy node called `name`, or an error saying why it cannot be used. */
  usableNode (name: string, what: string): EngineNode {
    const node = this.cluster.node(name)
    if (node === undefined) throw new SwarmError(ErrorCode.NotFound, `No such node: ${name}`)
    if (node.health !== 'healthy') throw nodeUnavailable(node, what)
    return node
  }

  /** Asks each node the same request, in parallel, and collects answers and errors. */
  async fanOut (nodes: readonly EngineNode[], request: DockerRequest, timeoutMs = LIST_TIMEOUT_MS, requester?: AbortSignal): Promise<NodeAnswer[]> {
    return await Promise.all(nodes.map(async (node): Promise<NodeAnswer> => {
      try {
        return { node, reply: await callDocker(node.child, request, { timeoutMs, signal: node.signal, requester }) }
      } catch (error) {
        return { node, error: toSwarmError(error) }
      }
    }))
  }

  /** Sends a message on to a node with a new target, keeping its return channel, stream and caller. */
  async forward (node: EngineNode, message: Message, target: string, ret: Sender | undefined = message.ret, params?: string): Promise<void> {
    const args = target === message.args[1] && params === undefined
      ? message.args
      : [message.args[0] as string, target, params ?? message.args[2] ?? '{}', ...message.args.slice(3)]
    try {
      await node.child.send(message.caller === undefined ? { verb: message.verb, args, ret, stream: message.stream } : { verb: message.verb, args, ret, stream: message.stream, caller: message.caller })
    } catch (error) {
      // a child that refuses messages is gone: say so now rather than at the next ping
      node.markUnhealthy(`child refused a message: ${toSwarmError(error).message}`)
      await replyAndClose(ret, errorMessage(error))
    }
  }

  /** Handles one message. */
  async handle (message: Message): Promise<Message | undefined> {
    if (!isDockerRequest(message)) throw new SwarmError(ErrorCode.NotImplemented, `aggregate answers Docker requests only, not ${message.verb} ${message.args.slice(0, 1).join(' ')}`.trim())
    const request = decodeDockerRequest(message)
    const operation = request.operation
    if (CONTAINER_OPERATIONS.has(operation)) return await this.routeContainer(message, request)
    switch (operation) {
      case 'SystemPing':
      case 'SystemPingHead': return this.ping(operation)
      case 'SystemInfo': return jsonReply(clusterInfo(this.cluster, { id: this.id, name: this.options.name ?? 'aggregate', strategy: this.strategy, version: `libswarm/${AGGREGATE_VERSION}` }))
      case 'SystemVersion': return jsonReply(clusterVersion(this.cluster, AGGREGATE_VERSION))
      case 'SystemEvents': return await this.events(request, abandonedSignal(message.ret))
      case 'ContainerList': return await this.listContainers(request)
      case 'ContainerInspect': return await this.inspectContainer(message, request)
      case 'ContainerCreate': return await this.createContainer(request)
      case 'ContainerPrune': return await this.pruneContainers(request)
      case 'ExecStart':
      case 'ExecResize':
      case 'ExecInspect': return await this.routeExec(message, request)
      case 'ImageCommit': return await this.commit(message, request)
      default:
        if (SWARM_OPERATIONS.test(operation)) {
          throw new SwarmError(ErrorCode.Unavailable, 'This node is not a swarm manager. aggregate joins engines as classic Swarm did; swarm mode is not available through it.')
        }
        return await routeObject(this, message, request)
    }
  }

  private ping (operation: string): Message {
    const headers: Record<string, string> = { 'Content-Type': 'text/plain; charset=utf-8', 'Cache-Control': 'no-cache, no-store, must-revalidate', Pragma: 'no-cache', Ostype: 'linux', 'Docker-Experimental': 'false' }
    const version = clusterApiVersion(this.cluster)
    if (version !== undefined) headers['Api-Version'] = version
    return encodeDockerReply({ status: 200, body: operation === 'SystemPingHead' ? '' : 'OK', headers })
  }

  private async routeContainer (message: Message, request: DockerRequest): Promise<undefined> {
    const container = this.cluster.find(request.target)
    const node = container.node
    if (node.health !== 'healthy') throw containerOnUnhealthyNode(request.target, node)
    const id = container.id
    // what the request changes is seen by the next inspect, whether or not the engine's event came first
    this.inspects.invalidate(id)
    let ret = afterSuccess(message.ret, async () => { this.inspects.invalidate(id) })
    if (request.operation === 'ContainerRename') {
      // names are unique across the cluster, not only on the node
      const wanted = (queryValue(request.query, 'name') ?? '').replace(/^\//, '')
      const holder = this.cluster.named(wanted).find((other) => other.id !== id)
      if (holder !== undefined) {
        throw new SwarmError(ErrorCode.Conflict, `Error when allocating new name: Conflict. The container name "/${wanted}" is already in use by container "${holder.id}" on node ${holder.node.name}. You have to remove (or rename) that container to be able to reuse that name.`)
      }
    }
    if (REFRESH_AFTER.has(request.operation)) {
      ret = afterSuccess(ret, async () => { await withTimeout(node.refreshContainer(id), 5000) })
    } else if (request.operation === 'ContainerDelete') {
      ret = afterSuccess(ret, async () => { node.forget(id) })
    } else if (request.operation === 'ContainerExec') {
      ret = afterSuccess(ret, async (reply) => {
        const execId = (JSON.parse(reply.args[1] ?? '{}') as { Id?: string }).Id
        if (execId !== undefined) this.rememberExec(execId, node)
      })
    }
    await this.forward(node, message, id, ret)
    return undefined
  }

  private rememberExec (execId: string, node: EngineNode): void {
    this.execs.set(execId, node)
    if (this.execs.size > EXEC_MEMORY) this.execs.delete(this.execs.keys().next().value as string)
  }

  private async routeExec (message: Message, request: DockerRequest): Promise<undefined> {
    let node = this.execs.get(request.target)
    if (node === undefined) {
      const answers = await this.fanOut(this.healthy(), { operation: 'ExecInspect', target: request.target, caller: request.caller })
      node = answers.find((answer) => answer.reply !== undefined)?.node
      if (node === undefined) throw new SwarmError(ErrorCode.NotFound, `No such exec instance: ${request.target}`)
      this.rememberExec(request.target, node)
    }
    if (node.health !== 'healthy') throw nodeUnavailable(node, `exec ${request.target}`)
    await this.forward(node, message, request.target)
    return undefined
  }

  private async commit (message: Message, request: DockerRequest): Promise<undefined> {
    const ref = queryValue(request.query, 'container') ?? ''
    const container = this.cluster.find(ref)
    if (container.node.health !== 'healthy') throw containerOnUnhealthyNode(ref, container.node)
    const params = JSON.parse(message.args[2] ?? '{}') as { query?: DockerQuery }
    params.query = { ...params.query, container: container.id }
    const node = container.node
    await this.forward(node, message, request.target, afterSuccess(message.ret, async () => { await node.refreshImages() }), JSON.stringify(params))
    return undefined
  }

  private async inspectContainer (message: Message, request: DockerRequest): Promise<Message | undefined> {
    const container = this.cluster.find(request.target)
    // a node that is down: what the cache knows, as classic Swarm's cache answered
    if (container.node.health !== 'healthy') return jsonReply({ ...cachedInspect(container), Node: nodeObject(container.node) })
    if (queryFlag(request.query, 'size')) {
      await this.forward(container.node, message, container.id)
      return undefined
    }
    const node = container.node
    const caller = callerIdentity(request.caller)
    const cached = this.inspects.get(node, container.id, caller)
    if (cached !== undefined) return inspectReply(cached, node)
    // the state cache keeps a compact record of each container; the whole document comes from the node
    const fetch = this.inspects.begin(node, container.id, caller)
    let body: string | undefined
    try {
      body = (await callDocker(node.child, { operation: 'ContainerInspect', target: container.id, caller: request.caller }, { signal: node.signal, timeoutMs: LIST_TIMEOUT_MS })).body
    } catch (error) {
      if (isSwarmError(error) && error.code === ErrorCode.NotFound) node.forget(container.id)
      throw error
    } finally {
      this.inspects.store(fetch, body)
    }
    return inspectReply(body, node)
  }

  private async listContainers (request: DockerRequest): Promise<Message> {
    const filters = parseFilters(request.query)
    const limit = Number(queryValue(request.query, 'limit') ?? '-1')
    const all = queryFlag(request.query, 'all') || limit > 0 || filters.status !== undefined
    const now = Date.now()
    if (!queryFlag(request.query, 'size') && cacheAnswers(filters)) {
      const accept = containerPredicate(filters, this.cluster)
      const onNode = nodeMatcher(filters.node)
      const chosen: CachedContainer[] = []
      // with -a, the containers of a node that is down are listed from the cache as `Host Down`
      for (const container of this.cluster.visible(onNode, all)) {
        if (!all && container.state.Running !== true) continue
        if (accept(container)) chosen.push(container)
      }
      chosen.sort((a, b) => b.summary.Created - a.summary.Created || compareText(b.created, a.created))
      const picked = limit > 0 ? chosen.slice(0, limit) : chosen
      if (picked.length > STREAMED_LIST_ROWS) {
        // 30,000 rows are a 23 MB answer: sent as a stream of ~64 KB pieces, no whole copy of it
        // is ever built (dockerserver writes it chunked, at the client's pace)
        return encodeDockerReply({ status: 200, stream: jsonArrayChunks(picked, (container) => listRowJson(container, now)), headers: { 'Content-Type': 'application/json' } })
      }
      const rows = picked.map((container) => listRowJson(container, now))
      // the rows' JSON is mostly cached per container: joining strings beats serialising objects
      return encodeDockerReply({ status: 200, body: `[${rows.join(',')}]`, headers: { 'Content-Type': 'application/json' } })
    }
    const { node: nodeFilter, ...rest } = filters
    const nodes = this.healthy().filter((node) => nodeFilter === undefined || nodeFilter.includes(node.name))
    const query: DockerQuery = { ...request.query, filters: JSON.stringify(rest) }
    const answers = await this.fanOut(nodes, { operation: 'ContainerList', target: '', query, caller: request.caller })
    const rows: Array<{ Names?: string[], Created?: number }> = []
    for (const answer of answers) {
      if (answer.reply === undefined) continue
      for (const row of bodyJson<Array<{ Names?: string[], Created?: number }>>(answer.reply) ?? []) {
        rows.push({ ...row, Names: (row.Names ?? []).map((name) => `/${answer.node.name}${name}`) })
      }
    }
    rows.sort((a, b) => (b.Created ?? 0) - (a.Created ?? 0))
    return jsonReply(limit > 0 ? rows.slice(0, limit) : rows)
  }

  private async createContainer (request: DockerRequest): Promise<Message> {
    let name = queryValue(request.query, 'name')
    let pinned: EngineNode | undefined
    if (name !== undefined && name !== '') {
      const plain = name.replace(/^\//, '')
      const slash = plain.indexOf('/')
      if (slash > 0 && this.cluster.node(plain.slice(0, slash)) !== undefined) {
        pinned = this.usableNode(plain.slice(0, slash), `container name ${name}`)
        name = plain.slice(slash + 1)
      }
      const holder = this.cluster.named(name.replace(/^\//, ''))[0]
      if (holder !== undefined) {
        throw new SwarmError(ErrorCode.Conflict, `Conflict. The container name "/${holder.name}" is already in use by container "${holder.id}" on node ${holder.node.name}. You have to remove (or rename) that container to be able to reuse that name.`)
      }
    }
    const { request: read, body } = readCreateBody(request.body)
    takeReschedulePolicy(body)
    let placement = read
    // `--net node-1/backend` joins backend on node-1: pin the node, and give the engine the plain name
    for (const network of read.networks ?? []) {
      const slash = network.indexOf('/')
      const owner = slash > 0 ? this.cluster.node(network.slice(0, slash)) : undefined
      if (owner === undefined) continue
      if (pinned !== undefined && pinned !== owner) throw new SwarmError(ErrorCode.BadRequest, `network ${network} is on node ${owner.name}, but the container is asked on ${pinned.name}`)
      pinned = this.usableNode(owner.name, `network ${network}`)
      const plain = network.slice(slash + 1)
      if (body.HostConfig?.NetworkMode === network) body.HostConfig = { ...body.HostConfig, NetworkMode: plain }
      const endpoints = body.NetworkingConfig?.EndpointsConfig
      if (endpoints !== undefined && endpoints !== null && network in endpoints) {
        const { [network]: endpoint, ...others } = endpoints
        body.NetworkingConfig = { ...body.NetworkingConfig, EndpointsConfig: { ...others, [plain]: endpoint } }
      }
      placement = { ...placement, networks: (placement.networks ?? []).map((name) => name === network ? plain : name) }
    }
    const filters = pinned === undefined ? placement.filters : [...placement.filters, { kind: 'constraint' as const, key: 'node', negate: false, soft: false, value: pinned.name, text: `node==${pinned.name}` }]
    // choosing and reserving happen in one synchronous step, so concurrent creates see each other's reservations
    const node = place(this.cluster, { ...placement, filters }, { strategy: this.strategy, random: this.random })
    const release = node.reserve(placement.reservation, placement.hostPorts)
    try {
      if (placement.image !== '' && !node.hasImage(placement.image)) {
        try {
          await this.pull(node, placement.image, request.caller)
        } catch (error) {
          throw new SwarmError(ErrorCode.NotFound, `No such image: ${placement.image} (not on node ${node.name}, and pulling it there failed: ${toSwarmError(error).message})`)
        }
      }
      const query: DockerQuery = { ...request.query }
      if (name !== undefined) query.name = name
      const reply = await callDocker(node.child, { ...request, query, body }, { timeoutMs: 60_000 })
      const id = bodyJson<{ Id?: string }>(reply)?.Id
      if (id !== undefined) await withTimeout(node.refreshContainer(id), 5000).catch(() => {})
      return encodeDockerReply({ status: reply.status, body: reply.body, headers: reply.headers })
    } finally {
      release()
    }
  }

  /** Pulls an image onto one node and waits for it, for `caller`. */
  async pull (node: EngineNode, image: string, caller?: Caller): Promise<void> {
    const at = image.lastIndexOf(':')
    const query: DockerQuery = at > image.lastIndexOf('/') && !image.includes('@') ? { fromImage: image.slice(0, at), tag: image.slice(at + 1) } : { fromImage: image }
    const reply = await callDocker(node.child, { operation: 'ImageCreate', target: '', query, caller }, { timeoutMs: 300_000 })
    await drainProgress(reply.stream)
    await node.refreshImages()
  }

  private async pruneContainers (request: DockerRequest): Promise<Message> {
    const answers = await this.fanOut(this.healthy(), { operation: 'ContainerPrune', target: '', query: request.query, caller: request.caller }, 60_000)
    const deleted: string[] = []
    let reclaimed = 0
    for (const answer of answers) {
      if (answer.error !== undefined) throw answer.error
      const result = bodyJson<{ ContainersDeleted?: string[] | null, SpaceReclaimed?: number }>(answer.reply as DockerReply) ?? {}
      for (const id of result.ContainersDeleted ?? []) {
        answer.node.forget(id)
        deleted.push(id)
      }
      reclaimed += result.SpaceReclaimed ?? 0
    }
    return jsonReply({ ContainersDeleted: deleted.length === 0 ? null : deleted, SpaceReclaimed: reclaimed })
  }

  /**
   * Events. Without `since`/`until`: the merged live stream. With them, as one engine bounds its own: each
   * healthy node replays its past up to now (or up to `until`, when that is past), the replay merged in time
   * order; then, unless `until` is past, live events after that instant, until `until`. The live
   * subscription opens before the replay is asked for, so no event falls between the two.
   */
  private async events (request: DockerRequest, requester: AbortSignal): Promise<Message> {
    const filters = parseFilters(request.query)
    const since = queryValue(request.query, 'since')
    const until = queryValue(request.query, 'until')
    const accept = eventPredicate(filters)
    const headers = { 'Content-Type': 'application/json' }
    if (since === undefined && until === undefined) {
      return encodeDockerReply({ status: 200, headers, stream: this.hub.subscribe(accept, requester) })
    }
    const nowNs = Date.now() * 1e6
    const untilNs = until === undefined ? undefined : eventTimeNs(until)
    const sinceNs = since === undefined ? undefined : eventTimeNs(since)
    // an `until` that does not parse goes to the engines as it is, for their error
    const pastOnly = until !== undefined && (untilNs === undefined || untilNs <= nowNs)
    // a `since` still to come: no past to replay (the engines would refuse since > until=now)
    const noPast = !pastOnly && sinceNs !== undefined && sinceNs > nowNs
    const { node: nodeFilter, ...rest } = filters
    const nodes = this.healthy().filter((node) => nodeFilter === undefined || nodeFilter.includes(node.name))
    const query: DockerQuery = { ...request.query, filters: JSON.stringify(rest) }
    if (!pastOnly) query.until = nsText(nowNs)
    let live: ByteStream | undefined
    const ended = new AbortController()
    if (!pastOnly) {
      const stop = (): void => { ended.abort() }
      requester.addEventListener('abort', stop, { once: true })
      const timer = untilNs === undefined ? undefined : setTimeout(stop, Math.max(0, (untilNs - nowNs) / 1e6))
      timer?.unref?.()
      ended.signal.addEventListener('abort', () => { clearTimeout(timer); requester.removeEventListener('abort', stop) }, { once: true })
      live = this.hub.subscribe((event) => {
        const at = eventNs(event)
        return at > nowNs && (sinceNs === undefined || at >= sinceNs) && (untilNs === undefined || at <= untilNs) && accept(event)
      }, ended.signal)
    }
    const answers = noPast ? [] : await this.fanOut(nodes, { operation: 'SystemEvents', target: '', query, caller: request.caller }, LIST_TIMEOUT_MS, requester)
    const refused = answers.find((answer) => answer.error?.code === ErrorCode.BadRequest) ?? (answers.length > 0 && answers.every((answer) => answer.error !== undefined) ? answers[0] : undefined)
    if (refused?.error !== undefined) {
      // since after until, a time that does not parse: the engine's error
      ended.abort()
      throw refused.error
    }
    const streams = answers.filter((answer) => answer.reply?.stream !== undefined).map((answer) => tagged(answer.node, stopOnAbort(answer.reply?.stream as ByteStream, requester)))
    return encodeDockerReply({ status: 200, headers, stream: pastThenLive(sortedEvents(streams, accept), live, ended) })
  }
}

/** An event's time in nanoseconds. */
function eventNs (event: NodeEvent): number {
  return event.timeNano ?? (event.time ?? 0) * 1e9
}

/** `since`/`until` as the engine reads them (`1700000000.000000001`, seconds and nanoseconds; or a date), in nanoseconds. */
function eventTimeNs (text: string): number | undefined {
  const match = /^(-?\d+)(?:\.(\d{1,9}))?$/.exec(text)
  if (match !== null) return Number(match[1]) * 1e9 + Number((match[2] ?? '').padEnd(9, '0'))
  const parsed = Date.parse(text)
  return Number.isNaN(parsed) ? undefined : parsed * 1e6
}

/** Nanoseconds as the `seconds.nanoseconds` text the engine reads. */
function nsText (ns: number): string {
  const seconds = Math.floor(ns / 1e9)
  return `${seconds}.${String(Math.round(ns - seconds * 1e9)).padStart(9, '0').slice(0, 9)}`
}

async function * pastThenLive (past: AsyncGenerator<Uint8Array>, live: ByteStream | undefined, ended: AbortController): AsyncGenerator<Uint8Array> {
  try {
    yield * past
    if (live !== undefined) yield * live
  } finally {
    ended.abort()
  }
}

async function * tagged (node: EngineNode, stream: ByteStream): AsyncGenerator<NodeEvent> {
  for await (const value of jsonObjects(stream)) yield tagEvent(node, value as NodeEvent)
}

async function * sortedEvents (streams: Array<AsyncGenerator<NodeEvent>>, accept: (event: NodeEvent) => boolean): AsyncGenerator<Uint8Array> {
  const events: NodeEvent[] = []
  await Promise.all(streams.map(async (stream) => { for await (const event of stream) if (accept(event)) events.push(event) }))
  events.sort(compareEventTimes)
  for (const event of events) yield utf8(eventJson(event) + '\n')
}

/** Who a caller is, as a service below (a policy) tells callers apart: not the connection's address or pid. */
function callerIdentity (caller: Caller | undefined): string {
  if (caller === undefined) return ''
  const certificate = caller.certificate
  return JSON.stringify([caller.listener, caller.uid, caller.gid, certificate?.subject, certificate?.sans, certificate?.fingerprint256])
}

/** An engine's inspect document (JSON text) with classic Swarm's `Node` object added. */
function inspectReply (body: string | undefined, node: EngineNode): Message {
  const text = (body ?? '').trimEnd()
  if (!text.endsWith('}')) throw new SwarmError(ErrorCode.Protocol, `node ${node.name} answered an inspect with no JSON object`)
  // a child that is itself an aggregate has added a Node of its own, which this one replaces
  if (text.includes('"Node":')) return jsonReply({ ...JSON.parse(text) as object, Node: nodeObject(node) })
  const nodeJson = JSON.stringify(nodeObject(node))
  const json = text === '{}' ? `{"Node":${nodeJson}}` : `${text.slice(0, -1)},"Node":${nodeJson}}`
  return encodeDockerReply({ status: 200, body: json, headers: { 'Content-Type': 'application/json' } })
}

/** The `Node` object classic Swarm added to a container's inspect JSON. */
export function nodeObject (node: EngineNode): Record<string, unknown> {
  const facts = node.facts
  return {
    ID: facts?.id ?? '',
    IP: ipOf(node.addr),
    Addr: node.addr,
    Name: node.name,
    Cpus: facts?.ncpu ?? 0,
    Memory: facts?.memTotal ?? 0,
    Labels: facts?.labels ?? {}
  }
}

function compareText (a: string | undefined, b: string | undefined): number {
  return (a ?? '') < (b ?? '') ? -1 : (a ?? '') > (b ?? '') ? 1 : 0
}

/** A return channel that runs `action` on a successful reply before passing it on. */
export function afterSuccess (ret: Sender | undefined, action: (reply: Message) => Promise<void>): Sender | undefined {
  if (ret === undefined) return undefined
  return {
    send: async (reply, options) => {
      if (reply.verb === 'Ack' && Number(reply.args[0] ?? '200') < 400) {
        try {
          await action(reply)
        } catch {}
      }
      await ret.send(reply, options)
    },
    close: async (error) => { await ret.close(error) },
    get abandoned () { return ret.abandoned }
  }
}

/** Waits for `promise`, at most `ms` milliseconds. */
export async function withTimeout<T> (promise: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined
  try {
    return await Promise.race([promise, new Promise<undefined>((resolve) => { timer = setTimeout(() => { resolve(undefined) }, ms) })])
  } finally {
    clearTimeout(timer)
  }
}

/** What aggregate needs from its host: a way to spawn children, and a logger. */
export type AggregateContext = Pick<ServiceContext, 'spawn'> & { log?: Logger }

/**
 * Starts aggregate over its children: spawns each, connects to every engine (waiting up
 * to the health timeout for the first sync), and returns the running service.
 *
 * @example
 * const service = await createAggregate({ children: [{ spec: 'dockerclient tcp://127.0.0.1:2401' }] }, context)
 */
export async function createAggregate (options: AggregateOptions, context: AggregateContext): Promise<ServiceInstance> {
  const log = context.log ?? silentLogger
  const state = new Aggregate(options, log)
  const healthTimeoutMs = options.healthTimeoutMs ?? 1000
  const pingIntervalMs = options.healthIntervalMs ?? 2000
  const maxPingsPerSecond = options.maxPingsPerSecond ?? 100
  const timings = {
    refreshIntervalMs: options.refreshIntervalMs ?? 30_000,
    healthTimeoutMs,
    pingIntervalMs,
    healthRetries: Math.max(1, Math.floor(options.healthRetries ?? 3)),
    maxBackoffMs: options.maxBackoffMs ?? 30_000
  }
  const nodes: EngineNode[] = []
  // many nodes are pinged less often each, so that the pings a second stay bounded
  const pace = (): void => { timings.pingIntervalMs = Math.max(pingIntervalMs, nodes.length * 1000 / maxPingsPerSecond) }
  const provisioners: Array<ProvisionedHosts<EngineNode>> = []
  let nextIndex = options.children.length
  const addNode = (index: number, spec: string, service: Sender, addr: string, name: string | undefined): EngineNode => {
    const node = new EngineNode(index, spec, service, addr, name, timings, state.cluster,
      (from, event) => { state.nodeEvent(from, event) },
      (self, wanted) => {
        const name = state.cluster.uniqueName(self, wanted)
        state.cluster.renamed(self, name)
        return name
      },
      log.child({ node: name ?? addr }))
    nodes.push(node)
    state.cluster.addNode(node)
    pace()
    return node
  }
  try {
    for (const [index, child] of options.children.entries()) {
      const service = child.service ?? await spawnDeferrable(async () => await context.spawn(child.spec ?? ''))
      // a provisioning child (aws, rackspace, ...) stands for many engines: each of its hosts is a node
      const hosts = isDeferred(service) ? undefined : await provisionedHostNames(service, Math.min(healthTimeoutMs, 2000))
      if (hosts !== undefined) {
        const spec = child.spec ?? `child-${index}`
        const provisioner = new ProvisionedHosts<EngineNode>(service, {
          add: (name, engine, addr, live) => {
            const node = addNode(nextIndex++, `${spec} ${name}`, engine, addr, name)
            if (live) void node.start()
            return node
          },
          remove: (node) => {
            const at = nodes.indexOf(node)
            if (at >= 0) nodes.splice(at, 1)
            pace()
            state.cluster.removeNode(node)
            void node.close()
          }
        }, log.child({ provisioner: spec }))
        provisioners.push(provisioner)
        await provisioner.start(hosts)
        continue
      }
      const addr = child.addr ?? addressOf(child.spec ?? `child-${index}`)
      addNode(index, child.spec ?? addr, service, addr, child.name)
    }
  } catch (error) {
    await Promise.all(provisioners.map(async (provisioner) => { await provisioner.close() }))
    await Promise.all(nodes.map(async (node) => { await node.close() }))
    throw error
  }
  await withTimeout(Promise.all(nodes.map(async (node) => { await node.start() })), Math.max(healthTimeoutMs * 3, 10_000))
  const healthy = state.healthy().length
  log.info('aggregate started', { nodes: nodes.length, healthy, strategy: state.strategy })
  return createServer({
    default: async (message) => await state.handle(message)
  }, {
    onClose: async () => {
      state.hub.close()
      await Promise.all(nodes.map(async (node) => { await node.close() }))
      await Promise.all(provisioners.map(async (provisioner) => { await provisioner.close() }))
    }
  })
}

/**
 * The aggregate service: many Docker engines as one, with placement, health checks and
 * a state cache. Each argument is a child service spec; see {@link AGGREGATE_USAGE}.
 *
 * @example
 * swarmd 'dockerserver unix:///tmp/swarm.sock' 'aggregate "dockerclient tcp://127.0.0.1:2401" "dockerclient tcp://127.0.0.1:2402"'
 */
export const aggregate = defineService({
  name: 'aggregate',
  usage: AGGREGATE_USAGE,
  spawn: async (args, context) => await createAggregate(parseAggregateArgs(args), context)
})
