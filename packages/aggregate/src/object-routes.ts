import { ErrorCode, SwarmError, type ByteStream, type Message } from '@libswarm/core'
import { decodeEngineBody, encodeDockerReply, jsonReply, parseFilters, queryValue, type DockerQuery, type DockerReply, type DockerRequest } from '@libswarm/docker-api'
import type { Aggregate, NodeAnswer } from './aggregate.js'
import { bodyJson, callDocker, jsonObjects, utf8 } from './child-call.js'
import type { EngineNode } from './engine-node.js'
import { teeStream } from './byte-tee.js'
import { mergeImageArchives } from './image-archive.js'
import { noSuitableNode } from './errors.js'
import { place } from './placement.js'

const IMAGE_READS = new Set(['ImageInspect', 'ImageHistory', 'ImageGet', 'ImagePush', 'DistributionInspect'])
const FIRST_NODE = new Set(['ImageSearch', 'SystemAuth', 'DistributionInspect', 'GetPluginPrivileges', 'Unmapped'])

/** `node-0/bridge` split into the node and the rest, when the first part names a node. */
function splitNode (aggregate: Aggregate, ref: string): { node?: EngineNode, rest: string } {
  const slash = ref.indexOf('/')
  if (slash <= 0) return { rest: ref }
  const node = aggregate.cluster.node(ref.slice(0, slash))
  return node === undefined ? { rest: ref } : { node, rest: ref.slice(slash + 1) }
}

function firstHealthy (aggregate: Aggregate): EngineNode {
  const node = aggregate.healthy()[0]
  if (node === undefined) throw new SwarmError(ErrorCode.Unavailable, 'no healthy node in the cluster')
  return node
}

function ok (answers: NodeAnswer[]): Array<NodeAnswer & { reply: DockerReply }> {
  return answers.filter((answer): answer is NodeAnswer & { reply: DockerReply } => answer.reply !== undefined)
}

/** The first error of a fan-out that had no success; NOT_FOUND only when every node said so. */
function failure (answers: NodeAnswer[], notFound: string): SwarmError {
  const errors = answers.map((answer) => answer.error).filter((error): error is SwarmError => error !== undefined)
  return errors.find((error) => error.code !== ErrorCode.NotFound) ?? errors[0] ?? new SwarmError(ErrorCode.NotFound, notFound)
}

/** Routes image, network, volume, system-wide and other operations that are not about one container. */
export async function routeObject (aggregate: Aggregate, message: Message, request: DockerRequest): Promise<Message | undefined> {
  const operation = request.operation
  if (FIRST_NODE.has(operation)) {
    await aggregate.forward(firstHealthy(aggregate), message, request.target)
    return undefined
  }
  if (IMAGE_READS.has(operation)) return await routeImageRead(aggregate, message, request)
  switch (operation) {
    case 'ImageList': return await listImages(aggregate, request)
    case 'ImageCreate': return await createImage(aggregate, message, request)
    case 'ImageTag':
    case 'ImageDelete': return await changeImage(aggregate, request)
    case 'ImageBuild': {
      const node = place(aggregate.cluster, { image: '', reservation: { cpus: 0, memory: 0 }, hostPorts: [], hostMode: false, filters: [], dependencies: [] }, { strategy: aggregate.strategy, random: aggregate.random })
      await aggregate.forward(node, message, request.target)
      return undefined
    }
    case 'ImageLoad': return await loadImage(aggregate, request)
    case 'ImageGetAll': return await saveImages(aggregate, message, request)
    case 'ImagePrune':
    case 'NetworkPrune':
    case 'VolumePrune':
    case 'BuildPrune': return await prune(aggregate, request)
    case 'NetworkList': return await listNetworks(aggregate, request)
    case 'VolumeList': return await listVolumes(aggregate, request)
    case 'NetworkCreate':
    case 'VolumeCreate': return await createEverywhere(aggregate, request)
    case 'NetworkInspect':
    case 'VolumeInspect':
    case 'VolumeUpdate': return await routeNamed(aggregate, message, request)
    case 'NetworkDelete':
    case 'VolumeDelete': return await deleteEverywhere(aggregate, request)
    case 'NetworkConnect':
    case 'NetworkDisconnect': return await connectNetwork(aggregate, message, request)
    case 'SystemDataUsage': return await dataUsage(aggregate, request)
    case 'PluginList': {
      const answers = ok(await aggregate.fanOut(aggregate.healthy(), request))
      const seen = new Map<string, unknown>()
      for (const answer of answers) for (const plugin of bodyJson<Array<{ Id?: string }>>(answer.reply) ?? []) seen.set(plugin.Id ?? String(seen.size), plugin)
      return jsonReply([...seen.values()])
    }
    case 'Session':
    case 'Grpc':
      throw new SwarmError(ErrorCode.NotImplemented, 'aggregate does not route BuildKit sessions; build with DOCKER_BUILDKIT=0 (the classic builder) through it')
    default:
      throw new SwarmError(ErrorCode.NotImplemented, `aggregate does not implement ${operation}`)
  }
}

function imageHolders (aggregate: Aggregate, ref: string): EngineNode[] {
  const plain = ref.replace(/^sha256:/, '')
  return aggregate.healthy().filter((node) => {
    if (node.hasImage(ref)) return true
    if (!/^[0-9a-f]{4,64}$/.test(plain)) return false
    for (const known of node.imageReferences()) if (known.startsWith(`sha256:${plain}`)) return true
    return false
  })
}

async function routeImageRead (aggregate: Aggregate, message: Message, request: DockerRequest): Promise<undefined> {
  const { node, rest } = splitNode(aggregate, request.target)
  const target = node === undefined ? request.target : rest
  const chosen = node ?? imageHolders(aggregate, target)[0] ?? firstHealthy(aggregate)
  if (chosen.health !== 'healthy') throw new SwarmError(ErrorCode.Unavailable, `node ${chosen.name} is unavailable`)
  await aggregate.forward(chosen, message, target)
  return undefined
}

async function listImages (aggregate: Aggregate, request: DockerRequest): Promise<Message> {
  const { node: nodeFilter, ...rest } = parseFilters(request.query)
  const nodes = aggregate.healthy().filter((node) => nodeFilter === undefined || nodeFilter.includes(node.name))
  const answers = ok(await aggregate.fanOut(nodes, { ...request, query: { ...request.query, filters: JSON.stringify(rest) } }))
  // one row per image id, saying on which nodes it is
  const images = new Map<string, Record<string, unknown> & { Nodes: string[], Containers?: number }>()
  for (const answer of answers) {
    for (const image of bodyJson<Array<Record<string, unknown> & { Id: string, Containers?: number }>>(answer.reply) ?? []) {
      const known = images.get(image.Id)
      if (known === undefined) {
        images.set(image.Id, { ...image, Node: answer.node.name, Nodes: [answer.node.name] })
      } else {
        known.Nodes.push(answer.node.name)
        if (typeof known.Containers === 'number' && typeof image.Containers === 'number' && image.Containers > 0) known.Containers = Math.max(0, known.Containers) + image.Containers
      }
    }
  }
  return jsonReply([...images.values()].sort((a, b) => Number(b.Created ?? 0) - Number(a.Created ?? 0)))
}

async function createImage (aggregate: Aggregate, message: Message, request: DockerRequest): Promise<Message | undefined> {
  const fromImage = queryValue(request.query, 'fromImage') ?? ''
  const { node, rest } = splitNode(aggregate, fromImage)
  const nodes = aggregate.healthy()
  if (node === undefined && message.stream !== undefined && queryValue(request.query, 'fromSrc') === '-') {
    // `docker import -`: one tar, read once, imported on every healthy node at the pace of the slowest
    if (nodes.length === 0) throw new SwarmError(ErrorCode.Unavailable, 'no healthy node in the cluster')
    const copies = teeStream(message.stream, nodes.length)
    return encodeDockerReply({ status: 200, headers: { 'Content-Type': 'application/json' }, stream: pullEverywhere(nodes, request, (index) => copies[index]) })
  }
  if (node !== undefined) {
    const target = node
    if (target.health !== 'healthy') throw new SwarmError(ErrorCode.Unavailable, `node ${target.name} is unavailable`)
    const params = JSON.parse(message.args[2] ?? '{}') as { query?: DockerQuery }
    if (node !== undefined) params.query = { ...params.query, fromImage: rest }
    await aggregate.forward(target, message, request.target, message.ret, JSON.stringify(params))
    return undefined
  }
  if (nodes.length === 0) throw new SwarmError(ErrorCode.Unavailable, 'no healthy node in the cluster')
  return encodeDockerReply({ status: 200, headers: { 'Content-Type': 'application/json' }, stream: pullEverywhere(nodes, request) })
}

/** Runs a pull (or an import, each node reading its copy of the tar) on every node; each progress line says its node. */
async function * pullEverywhere (nodes: EngineNode[], request: DockerRequest, streamFor?: (index: number) => ByteStream | undefined): AsyncGenerator<Uint8Array> {
  const lines: Uint8Array[] = []
  let wake: (() => void) | undefined
  let running = nodes.length
  let failed = 0
  let lastError = ''
  const push = (value: unknown): void => {
    lines.push(utf8(JSON.stringify(value) + '\n'))
    wake?.()
  }
  for (const [index, node] of nodes.entries()) {
    void (async () => {
      const stream = streamFor?.(index)
      try {
        const reply = await callDocker(node.child, stream === undefined ? request : { ...request, stream }, { timeoutMs: 600_000 })
        let nodeError: string | undefined
        for await (const value of jsonObjects(reply.stream ?? (async function * () {})())) {
          const entry = value as { id?: string, status?: string, error?: string, errorDetail?: { message?: string } }
          if (typeof entry.error === 'string') {
            nodeError = entry.errorDetail?.message ?? entry.error
            continue
          }
          push(entry.id === undefined ? { ...entry, status: `${node.name}: ${entry.status ?? ''}` } : { ...entry, id: `${node.name}: ${entry.id}` })
        }
        if (nodeError !== undefined) throw new Error(nodeError)
        await node.refreshImages().catch(() => {})
      } catch (error) {
        // a node that failed must not hold the others back
        void stream?.[Symbol.asyncIterator]().return?.(undefined)
        failed++
        lastError = `${node.name}: ${error instanceof Error ? error.message : String(error)}`
        push({ status: `${node.name}: error: ${error instanceof Error ? error.message : String(error)}` })
      } finally {
        running--
        wake?.()
      }
    })()
  }
  while (true) {
    if (lines.length > 0) {
      yield lines.shift() as Uint8Array
      continue
    }
    if (running === 0) break
    await new Promise<void>((resolve) => { wake = resolve })
    wake = undefined
  }
  if (failed === nodes.length) yield utf8(JSON.stringify({ errorDetail: { message: lastError }, error: lastError }) + '\n')
}

/**
 * `docker save A B`: each image from a node that has it (`node-1/A` from that node). Images all on one node are
 * that node's answer; images on several nodes are one archive made of each node's (see {@link mergeImageArchives}).
 */
async function saveImages (aggregate: Aggregate, message: Message, request: DockerRequest): Promise<Message | undefined> {
  const names = [request.query?.names ?? []].flat()
  const byNode = new Map<EngineNode, string[]>()
  for (const name of names) {
    const { node, rest } = splitNode(aggregate, name)
    const holder = node ?? imageHolders(aggregate, name)[0]
    if (holder === undefined) throw new SwarmError(ErrorCode.NotFound, `No such image: ${name}`)
    if (holder.health !== 'healthy') throw new SwarmError(ErrorCode.Unavailable, `node ${holder.name} is unavailable`)
    byNode.set(holder, [...(byNode.get(holder) ?? []), node === undefined ? name : rest])
  }
  const groups = [...byNode.entries()]
  if (groups.length <= 1) {
    const [holder = firstHealthy(aggregate), subset = names] = groups[0] ?? []
    const params = JSON.parse(message.args[2] ?? '{}') as { query?: DockerQuery }
    params.query = { ...params.query, names: subset }
    await aggregate.forward(holder, message, request.target, message.ret, JSON.stringify(params))
    return undefined
  }
  // every node's archive is asked for now, so a missing image fails the request rather than the stream
  const replies = await Promise.all(groups.map(async ([node, subset]) => await callDocker(node.child, { operation: 'ImageGetAll', target: '', query: { names: subset } }, { timeoutMs: 600_000, signal: node.signal })))
  return encodeDockerReply({ status: 200, headers: { 'Content-Type': 'application/x-tar' }, stream: mergeImageArchives(replies.map((reply) => async () => reply.stream ?? (async function * () {})())) })
}

async function changeImage (aggregate: Aggregate, request: DockerRequest): Promise<Message> {
  const { node, rest } = splitNode(aggregate, request.target)
  const target = node === undefined ? request.target : rest
  const nodes = node !== undefined ? [node] : imageHolders(aggregate, target)
  if (nodes.length === 0) throw new SwarmError(ErrorCode.NotFound, `No such image: ${request.target}`)
  const answers = await aggregate.fanOut(nodes, { ...request, target }, 60_000)
  const done = ok(answers)
  for (const answer of done) void answer.node.refreshImages().catch(() => {})
  if (done.length === 0) throw failure(answers, `No such image: ${request.target}`)
  const failedOne = answers.find((answer) => answer.error !== undefined && answer.error.code !== ErrorCode.NotFound)
  if (failedOne?.error !== undefined) throw new SwarmError(failedOne.error.code, `${failedOne.node.name}: ${failedOne.error.message}`)
  if (request.operation === 'ImageTag') return encodeDockerReply({ status: done[0]?.reply.status ?? 201, body: '' })
  const items: unknown[] = []
  for (const answer of done) items.push(...(bodyJson<unknown[]>(answer.reply) ?? []))
  return jsonReply(items)
}

async function loadImage (aggregate: Aggregate, request: DockerRequest): Promise<Message> {
  // one tar, read once, fed to every healthy node at the pace of the slowest
  const nodes = aggregate.healthy()
  if (nodes.length === 0) throw new SwarmError(ErrorCode.Unavailable, 'no healthy node in the cluster')
  const copies = request.stream === undefined ? [] : teeStream(request.stream, nodes.length)
  const answers = await Promise.all(nodes.map(async (node, index): Promise<NodeAnswer & { text?: string }> => {
    try {
      const reply = await callDocker(node.child, { ...request, stream: copies[index] }, { timeoutMs: 600_000 })
      let text = ''
      if (reply.stream !== undefined) for await (const value of jsonObjects(reply.stream)) text += JSON.stringify(value) + '\n'
      void node.refreshImages().catch(() => {})
      return { node, reply, text: text || reply.body }
    } catch (error) {
      // a node that failed must not hold the others back
      void copies[index]?.[Symbol.asyncIterator]().return?.(undefined)
      return { node, error: error as SwarmError }
    }
  }))
  const first = answers.find((answer) => answer.reply !== undefined)
  if (first === undefined) throw failure(answers, 'no node loaded the image')
  return encodeDockerReply({ status: 200, headers: { 'Content-Type': 'application/json' }, stream: (async function * () { yield utf8(first.text ?? '') })() })
}

async function prune (aggregate: Aggregate, request: DockerRequest): Promise<Message> {
  const answers = await aggregate.fanOut(aggregate.healthy(), request, 120_000)
  const merged: Record<string, unknown> = {}
  for (const answer of answers) {
    if (answer.error !== undefined) throw answer.error
    for (const [key, value] of Object.entries(bodyJson<Record<string, unknown>>(answer.reply as DockerReply) ?? {})) {
      if (typeof value === 'number') merged[key] = Number(merged[key] ?? 0) + value
      else if (Array.isArray(value)) merged[key] = [...((merged[key] as unknown[] | null) ?? []), ...value]
      else merged[key] ??= value
    }
    if (request.operation === 'ImagePrune') void answer.node.refreshImages().catch(() => {})
  }
  return jsonReply(merged)
}

function isLocal (scope: unknown): boolean {
  return scope === undefined || scope === '' || scope === 'local'
}

async function listNetworks (aggregate: Aggregate, request: DockerRequest): Promise<Message> {
  const { node: nodeFilter, ...rest } = parseFilters(request.query)
  const nodes = aggregate.healthy().filter((node) => nodeFilter === undefined || nodeFilter.includes(node.name))
  const asked = await aggregate.fanOut(nodes, { ...request, query: { ...request.query, filters: JSON.stringify(rest) } })
  const answers = ok(asked)
  // a filter the engines refuse (`type=foo`: dockerd 20.10 says 500 `invalid filter: 'type'='foo'`) is the client's error, in the engine's words
  const refused = asked.find((answer) => answer.error?.code === ErrorCode.BadRequest) ?? (answers.length === 0 ? asked.find((answer) => answer.error !== undefined) : undefined)
  if (refused?.error !== undefined) throw refused.error
  const networks: unknown[] = []
  const global = new Set<string>()
  for (const answer of answers) {
    for (const network of bodyJson<Array<{ Id: string, Name: string, Scope?: string }>>(answer.reply) ?? []) {
      if (!isLocal(network.Scope)) {
        if (global.has(network.Id)) continue
        global.add(network.Id)
        networks.push(network)
      } else {
        networks.push({ ...network, Name: `${answer.node.name}/${network.Name}`, Node: answer.node.name })
      }
    }
  }
  return jsonReply(networks)
}

async function listVolumes (aggregate: Aggregate, request: DockerRequest): Promise<Message> {
  const { node: nodeFilter, ...rest } = parseFilters(request.query)
  const nodes = aggregate.healthy().filter((node) => nodeFilter === undefined || nodeFilter.includes(node.name))
  const answers = ok(await aggregate.fanOut(nodes, { ...request, query: { ...request.query, filters: JSON.stringify(rest) } }))
  const volumes: unknown[] = []
  const warnings: string[] = []
  for (const answer of answers) {
    const body = bodyJson<{ Volumes?: Array<{ Name: string, Scope?: string }> | null, Warnings?: string[] | null }>(answer.reply) ?? {}
    for (const volume of body.Volumes ?? []) {
      volumes.push(isLocal(volume.Scope) ? { ...volume, Name: `${answer.node.name}/${volume.Name}`, Node: answer.node.name } : volume)
    }
    for (const warning of body.Warnings ?? []) warnings.push(`${answer.node.name}: ${warning}`)
  }
  return jsonReply({ Volumes: volumes, Warnings: warnings.length === 0 ? null : warnings })
}

/**
 * Networks and volumes, as classic Swarm created them: `node-0/name` on that node; a network on one node
 * the strategy picks (containers that join it are placed there); a named volume on every healthy node.
 */
async function createEverywhere (aggregate: Aggregate, request: DockerRequest): Promise<Message> {
  decodeEngineBody(request.operation, request.body)
  const body = { ...(request.body as Record<string, unknown> ?? {}) }
  const name = typeof body.Name === 'string' ? body.Name : ''
  const { node, rest } = splitNode(aggregate, name)
  let nodes: EngineNode[]
  if (node !== undefined) {
    body.Name = rest
    nodes = [aggregate.usableNode(node.name, name)]
  } else if (request.operation === 'VolumeCreate' && isRecord(body.Labels) && typeof body.Labels[WHITELISTS] === 'string') {
    nodes = whitelisted(aggregate, body.Labels[WHITELISTS])
  } else if ((name === '' && request.operation === 'VolumeCreate') || request.operation === 'NetworkCreate') {
    nodes = [place(aggregate.cluster, { image: '', reservation: { cpus: 0, memory: 0 }, hostPorts: [], hostMode: false, filters: [], dependencies: [] }, { strategy: aggregate.strategy, random: aggregate.random })]
  } else {
    nodes = aggregate.healthy()
  }
  const answers = await aggregate.fanOut(nodes, { ...request, body }, 60_000)
  const done = ok(answers)
  if (done.length < nodes.length && (done.length === 0 || request.operation === 'NetworkCreate')) {
    const failed = answers.find((answer) => answer.error !== undefined)
    if (done.length === 0 || failed?.error?.code !== ErrorCode.Conflict) {
      // undo the partial creation, so that a retry starts clean
      if (done.length > 0 && request.operation === 'NetworkCreate') {
        await Promise.all(done.map(async (answer) => await callDocker(answer.node.child, { operation: 'NetworkDelete', target: bodyJson<{ Id: string }>(answer.reply).Id, caller: request.caller }).catch(() => {})))
      }
      const error = failed?.error ?? new SwarmError(ErrorCode.Internal, 'create failed')
      throw new SwarmError(error.code, nodes.length > 1 ? `${failed?.node.name ?? ''}: ${error.message}` : error.message)
    }
  }
  // placement reads each node's network names: have them current before the client can ask to use the network
  if (request.operation === 'NetworkCreate') await Promise.all(done.map(async (answer) => { await answer.node.refreshNetworks().catch(() => {}) }))
  const first = done[0] as NodeAnswer & { reply: DockerReply }
  return encodeDockerReply({ status: first.reply.status, body: first.reply.body, headers: first.reply.headers })
}

const WHITELISTS = 'com.docker.swarm.whitelists'

function isRecord (value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/**
 * The healthy nodes a `com.docker.swarm.whitelists` label allows, as classic Swarm read it: a JSON array of
 * expressions such as `node==node-1|node-2` (node names, `|` between them; `!=` names the nodes left out), all of
 * which must hold.
 */
function whitelisted (aggregate: Aggregate, label: string): EngineNode[] {
  let expressions: unknown
  try {
    expressions = JSON.parse(label)
  } catch {}
  if (!Array.isArray(expressions) || !expressions.every((expression) => typeof expression === 'string')) {
    throw new SwarmError(ErrorCode.BadRequest, `invalid ${WHITELISTS} label ${JSON.stringify(label)}: expected a JSON array of expressions such as ["node==node-1|node-2"]`)
  }
  let nodes = aggregate.healthy()
  for (const expression of expressions as string[]) {
    const match = /^\s*node\s*(==|!=)~?\s*(.+?)\s*$/.exec(expression)
    if (match === null) throw new SwarmError(ErrorCode.BadRequest, `invalid whitelist ${JSON.stringify(expression)}: expected node==NAME|NAME or node!=NAME|NAME`)
    const names = new Set((match[2] as string).split('|').map((name) => name.trim()))
    const negate = match[1] === '!='
    nodes = nodes.filter((node) => names.has(node.name) !== negate)
    if (nodes.length === 0) throw noSuitableNode(`unable to find a node that satisfies the whitelist ${expression.trim()}`)
  }
  return nodes
}

/** Inspect by `node/name` on that node, else on the first node that knows it. */
async function routeNamed (aggregate: Aggregate, message: Message, request: DockerRequest): Promise<Message | undefined> {
  const { node, rest } = splitNode(aggregate, request.target)
  if (node !== undefined) {
    await aggregate.forward(aggregate.usableNode(node.name, request.target), message, rest)
    return undefined
  }
  const answers = await aggregate.fanOut(aggregate.healthy(), request)
  const found = ok(answers)[0]
  if (found === undefined) throw failure(answers, `${request.operation.startsWith('Network') ? 'network' : 'volume'} ${request.target} not found`)
  if (request.operation === 'NetworkInspect') {
    // local networks of the same name on several nodes (each node's `bridge`): which one is meant is
    // not known, so refuse as the engine does for two networks of one name (classic Swarm said 404)
    const ids = new Set(ok(answers).map((answer) => bodyJson<{ Id?: string }>(answer.reply)?.Id))
    if (ids.size > 1) throw new SwarmError(ErrorCode.BadRequest, `${ids.size} matches found based on name: network ${request.target} is ambiguous (use NODE/${request.target}: ${ok(answers).map((answer) => answer.node.name).join(', ')})`)
  }
  return encodeDockerReply({ status: found.reply.status, body: found.reply.body, headers: found.reply.headers })
}

async function deleteEverywhere (aggregate: Aggregate, request: DockerRequest): Promise<Message> {
  const { node, rest } = splitNode(aggregate, request.target)
  const nodes = node !== undefined ? [aggregate.usableNode(node.name, request.target)] : aggregate.healthy()
  const target = node !== undefined ? rest : request.target
  const answers = await aggregate.fanOut(nodes, { ...request, target }, 60_000)
  const refused = answers.find((answer) => answer.error !== undefined && answer.error.code !== ErrorCode.NotFound)
  if (refused?.error !== undefined) throw new SwarmError(refused.error.code, nodes.length > 1 ? `${refused.node.name}: ${refused.error.message}` : refused.error.message)
  const done = ok(answers)
  if (request.operation === 'NetworkDelete') await Promise.all(done.map(async (answer) => { await answer.node.refreshNetworks().catch(() => {}) }))
  if (done.length === 0) throw failure(answers, `No such ${request.operation.startsWith('Network') ? 'network' : 'volume'}: ${request.target}`)
  return encodeDockerReply({ status: done[0]?.reply.status ?? 204, body: '' })
}

async function connectNetwork (aggregate: Aggregate, message: Message, request: DockerRequest): Promise<undefined> {
  decodeEngineBody(request.operation, request.body)
  const body = { ...(request.body as Record<string, unknown> ?? {}) }
  const container = aggregate.cluster.find(String(body.Container ?? ''))
  const { node, rest } = splitNode(aggregate, request.target)
  if (node !== undefined && node !== container.node) {
    throw new SwarmError(ErrorCode.BadRequest, `container ${String(body.Container)} is on node ${container.node.name}, network ${request.target} on ${node.name}`)
  }
  const holder = aggregate.usableNode(container.node.name, `container ${String(body.Container)}`)
  body.Container = container.id
  const params = JSON.parse(message.args[2] ?? '{}') as Record<string, unknown>
  params.body = body
  const id = container.id
  await aggregate.forward(holder, message, node !== undefined ? rest : request.target, message.ret === undefined
    ? undefined
    : {
        send: async (reply, options) => {
          await holder.refreshContainer(id).catch(() => {})
          await message.ret?.send(reply, options)
        },
        close: async (error) => { await message.ret?.close(error) },
        get abandoned () { return message.ret?.abandoned }
      }, JSON.stringify(params))
  return undefined
}

async function dataUsage (aggregate: Aggregate, request: DockerRequest): Promise<Message> {
  const answers = ok(await aggregate.fanOut(aggregate.healthy(), request, 60_000))
  let layers = 0
  const images: unknown[] = []
  const containers: unknown[] = []
  const volumes: unknown[] = []
  const cache: unknown[] = []
  for (const answer of answers) {
    const body = bodyJson<{ LayersSize?: number, Images?: unknown[] | null, Containers?: Array<{ Names?: string[] }> | null, Volumes?: Array<{ Name: string }> | null, BuildCache?: unknown[] | null }>(answer.reply) ?? {}
    layers += body.LayersSize ?? 0
    images.push(...(body.Images ?? []))
    for (const container of body.Containers ?? []) containers.push({ ...container, Names: (container.Names ?? []).map((name) => `/${answer.node.name}${name}`) })
    for (const volume of body.Volumes ?? []) volumes.push({ ...volume, Name: `${answer.node.name}/${volume.Name}` })
    cache.push(...(body.BuildCache ?? []))
  }
  return jsonReply({ LayersSize: layers, Images: images, Containers: containers, Volumes: volumes, BuildCache: cache })
}
