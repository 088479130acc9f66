import { watch, type FSWatcher } from 'node:fs'
import { basename, dirname } from 'node:path'
import { parseArgs } from 'node:util'
import {
  ErrorCode, SwarmError, abandonedSignal, createServer, defineService, errorMessage, isSwarmError,
  type Message, type Sender, type Service, type ServiceContext, type ServiceInstance
} from '@libswarm/core'
import { CONTAINER_CREATE_BODY, decodeDockerReply, decodeDockerRequest, encodeDockerRequest, type DockerRequest } from '@libswarm/docker-api'
import { openAudit, type AuditSink } from './audit.js'
import { canonicalBody } from './canonical-body.js'
import { decide, type Decision } from './decision.js'

type Allowed = Extract<Decision, { effect: 'allow' }>
import { denied } from './errors.js'
import { OwnershipLookup, notFound, ownerOf, withOwnerFilter } from './ownership.js'
import { loadPolicyFile, type CompiledPolicy } from './policy-file.js'
import { rewriteContainerCreate, rewriteVolumeCreate, setLabels } from './rewrites.js'

/** `policy FILE [--audit stdout|stderr|PATH] [--no-watch]`. */
export const POLICY_USAGE = 'policy FILE [--audit stdout|stderr|PATH] [--no-watch]'

/** Options of a policy instance. */
export interface PolicyOptions {
  /** The policy file (YAML). */
  readonly file: string
  /** Where audit lines go (over the file's `audit`): `stdout`, `stderr` or a file. */
  readonly audit?: string | undefined
  /** Reload when the file changes (default true); SIGHUP reloads either way. */
  readonly watch?: boolean | undefined
}

/** A running policy: a service instance that can also reload its file. */
export interface PolicyInstance extends ServiceInstance {
  /** Reads the file again; an invalid one is refused (the error is thrown and logged) and the running policy stays. */
  reload (): Promise<void>
  /** The policy in force. */
  readonly policy: CompiledPolicy
}

/** Parses `policy`'s arguments. */
export function parsePolicyArgs (args: readonly string[]): PolicyOptions {
  let parsed
  try {
    parsed = parseArgs({ args: [...args], allowPositionals: true, strict: true, options: { audit: { type: 'string' }, 'no-watch': { type: 'boolean' } } })
  } catch (error) {
    throw new SwarmError(ErrorCode.InvalidArguments, `policy: ${(error as Error).message}; usage: ${POLICY_USAGE}`, { cause: error })
  }
  if (parsed.positionals.length !== 1) throw new SwarmError(ErrorCode.InvalidArguments, `policy: expected one policy file; usage: ${POLICY_USAGE}`)
  return { file: parsed.positionals[0] as string, audit: parsed.values.audit, watch: parsed.values['no-watch'] !== true }
}

/** Operations on one container (ContainerInspect apart: its reply tells the owner, at no extra cost). */
const CONTAINER_TARGET = new Set(['ContainerTop', 'ContainerLogs', 'ContainerChanges', 'ContainerExport', 'ContainerStats', 'ContainerResize', 'ContainerStart',
  'ContainerStop', 'ContainerRestart', 'ContainerKill', 'ContainerUpdate', 'ContainerRename', 'ContainerPause', 'ContainerUnpause', 'ContainerAttach',
  'ContainerAttachWebsocket', 'ContainerWait', 'ContainerDelete', 'ContainerArchiveInfo', 'ContainerArchive', 'PutContainerArchive', 'ContainerExec'])
const EXEC_TARGET = new Set(['ExecStart', 'ExecResize', 'ExecInspect'])
const NETWORK_TARGET = new Set(['NetworkInspect', 'NetworkDelete', 'NetworkConnect', 'NetworkDisconnect'])
const VOLUME_TARGET = new Set(['VolumeInspect', 'VolumeUpdate', 'VolumeDelete'])
const OWNER_FILTERED = new Set(['ContainerList', 'NetworkList', 'VolumeList', 'SystemEvents', 'ContainerPrune', 'NetworkPrune', 'VolumePrune'])
const HOST_CONFIG_FIELDS = new Set(CONTAINER_CREATE_BODY.kind === 'struct' && CONTAINER_CREATE_BODY.fields.HostConfig?.kind === 'struct' ? Object.keys(CONTAINER_CREATE_BODY.fields.HostConfig.fields) : [])

/** The request with its body canonical; a create carrying HostConfig fields at its top level is refused. */
function canonicalRequest (request: DockerRequest): DockerRequest {
  if (request.body === undefined) return request
  const body = canonicalBody(request.operation, request.body)
  if (request.operation === 'ContainerCreate' && typeof body === 'object' && body !== null) {
    // old clients' HostConfig fields at the top: the engine may take them instead of HostConfig's
    const stray = Object.keys(body).find((key) => HOST_CONFIG_FIELDS.has(key))
    if (stray !== undefined) throw new SwarmError(ErrorCode.Forbidden, `policy: HostConfig fields outside HostConfig (${stray}) are not accepted`)
  }
  return body === request.body ? request : { ...request, body }
}

/**
 * The policy instance: decides each Docker request with the policy in force, applies the rule's
 * rewrites and ownership, forwards it to `next`, and filters the replies an ownOnly client gets.
 */
export async function createPolicy (options: PolicyOptions, context: Pick<ServiceContext, 'next' | 'log'>): Promise<PolicyInstance> {
  const { next, log } = context
  let policy = await loadPolicyFile(options.file)
  let auditWhere = options.audit ?? policy.audit
  let audit: AuditSink | undefined = auditWhere === undefined ? undefined : openAudit(auditWhere)
  let lookup = new OwnershipLookup(next, policy.ownerLabel)
  let closed = false

  const record = (message: Message, request: DockerRequest, client: string | undefined, decision: 'allow' | 'deny', rule: string, rewrites: readonly string[], reason?: string): void => {
    audit?.write({ time: new Date().toISOString(), client, caller: message.caller, operation: request.operation, target: request.target, decision, rule, reason, rewrites })
  }

  const reload = async (): Promise<void> => {
    let fresh: CompiledPolicy
    try {
      fresh = await loadPolicyFile(options.file)
    } catch (error) {
      log.error('policy: reload refused, the running policy stays', { error: (error as Error).message })
      throw error
    }
    if (fresh.ownerLabel !== policy.ownerLabel) lookup = new OwnershipLookup(next, fresh.ownerLabel)
    policy = fresh
    const where = options.audit ?? fresh.audit
    if (where !== auditWhere) {
      await audit?.close()
      auditWhere = where
      audit = where === undefined ? undefined : openAudit(where)
    }
    log.info('policy: reloaded', { file: options.file, rules: fresh.rules.length })
  }
  const reloadQuietly = (): void => { reload().catch(() => {}) }
  process.on('SIGHUP', reloadQuietly)
  let watcher: FSWatcher | undefined
  let debounce: NodeJS.Timeout | undefined
  if (options.watch !== false) {
    // the directory, not the file: editors replace a file by renaming a new one over it
    watcher = watch(dirname(options.file), (_event, name) => {
      if (name !== null && name !== basename(options.file)) return
      clearTimeout(debounce)
      debounce = setTimeout(reloadQuietly, 100)
    })
    watcher.on('error', (error) => { log.warn('policy: cannot watch the file any more; SIGHUP still reloads', { error: error.message }) })
  }

  const prepare = async (request: DockerRequest, decision: Allowed, notes: string[], signal: AbortSignal): Promise<DockerRequest> => {
    const { rule, client, facts } = decision
    const operation = request.operation
    let out = request
    const owner = rule.ownOnly ? client : undefined
    if (owner !== undefined) {
      if (operation === 'SystemDataUsage') throw denied(rule.name, 'docker system df to a client limited to its own objects')
      if (OWNER_FILTERED.has(operation)) out = { ...out, query: withOwnerFilter(out.query, policy.ownerLabel, owner) }
      else if (CONTAINER_TARGET.has(operation)) out = { ...out, target: await lookup.container(out.target, owner, signal) }
      else if (EXEC_TARGET.has(operation)) out = { ...out, target: await lookup.exec(out.target, owner, signal) }
      else if (NETWORK_TARGET.has(operation)) out = { ...out, target: await lookup.network(out.target, owner, signal) }
      else if (VOLUME_TARGET.has(operation)) out = { ...out, target: await lookup.volume(out.target, owner, signal) }
    }
    if (owner !== undefined && facts !== undefined) {
      for (const container of facts.containers) await lookup.container(container, owner, signal)
      for (const network of facts.networks) await lookup.network(network, owner, signal)
      if (operation === 'ContainerCreate') for (const volume of facts.volumes) await lookup.volumeForMount(volume, owner, signal)
    }
    if (operation === 'ContainerCreate' || operation === 'NetworkCreate' || operation === 'VolumeCreate') {
      let body = (typeof out.body === 'object' && out.body !== null ? out.body : {}) as Record<string, unknown>
      body = setLabels(body, rule.rewrite?.labels ?? {}, policy.ownerLabel, client, notes)
      if (operation === 'ContainerCreate') body = rewriteContainerCreate(body, rule.rewrite, rule.rewriteMemory, notes)
      if (operation === 'VolumeCreate') body = rewriteVolumeCreate(body, rule.rewrite, notes)
      out = { ...out, body }
    }
    return out
  }

  const handle = async (message: Message): Promise<undefined> => {
    const decoded = decodeDockerRequest(message)
    const request = canonicalRequest(decoded)
    const decision = decide(policy, message.caller, request)
    if (decision.effect === 'deny') {
      record(message, request, decision.client, 'deny', decision.rule, [], decision.what)
      // `docker inspect NAME` asks every kind of object in turn and stops at the first answer
      // other than not-found: a plugin no rule lets the client see is one that is not there
      if (request.operation === 'PluginInspect' && decision.rule === 'default') throw new SwarmError(ErrorCode.NotFound, `plugin "${request.target}" not found`)
      throw denied(decision.rule, decision.what)
    }
    const notes: string[] = []
    const signal = abandonedSignal(message.ret)
    let prepared: DockerRequest
    try {
      prepared = await prepare(request, decision, notes, signal)
    } catch (error) {
      const reason = isSwarmError(error) && error.code === ErrorCode.NotFound ? `not found or not owned: ${error.message}` : (error as Error).message
      record(message, request, decision.client, 'deny', decision.rule.name, notes, reason)
      throw error
    }
    record(message, request, decision.client, 'allow', decision.rule.name, notes)
    const owner = decision.rule.ownOnly ? decision.client : undefined
    const ret = message.ret === undefined ? undefined : replyFilter(message.ret, prepared, owner, decision.client, policy.ownerLabel, lookup)
    // a request the policy left as it came goes on as it came, without writing its parameters again
    const forwarded = prepared === decoded ? { ...message, ret } : { ...encodeDockerRequest(prepared, ret), caller: message.caller }
    await next.send(forwarded)
    return undefined
  }

  const server = createServer({
    default: async (message) => {
      if (closed) throw new SwarmError(ErrorCode.ChannelClosed, 'policy is closed')
      return await handle(message)
    }
  })

  return {
    send: async (message, sendOptions) => {
      if (closed) throw new SwarmError(ErrorCode.ChannelClosed, 'policy is closed')
      await server.send(message, sendOptions)
    },
    close: async () => {
      if (closed) return
      closed = true
      process.off('SIGHUP', reloadQuietly)
      clearTimeout(debounce)
      watcher?.close()
      await audit?.close()
      await server.close()
    },
    reload,
    get policy () { return policy }
  }
}

/**
 * Replies as the client may see them: an inspect of another client's container becomes not-found
 * (the inspect costs no lookup before it); exec ids are remembered. Lists need nothing here: the
 * engine applies the owner label filter (at every API version from 1.12, see test/e2e/bypass.test.ts).
 */
function replyFilter (ret: Sender, request: DockerRequest, owner: string | undefined, client: string | undefined, label: string, lookup: OwnershipLookup): Sender {
  const operation = request.operation
  const filtering = owner !== undefined && operation === 'ContainerInspect'
  const rememberExec = operation === 'ContainerExec' && client !== undefined
  if (!filtering && !rememberExec) return ret
  let first = true
  return {
    send: async (reply, options) => {
      if (!first || reply.verb !== 'Ack') { await ret.send(reply, options); return }
      first = false
      const decoded = decodeDockerReply(reply)
      if (decoded.status >= 300 || decoded.body === undefined || decoded.body === '') { await ret.send(reply, options); return }
      if (rememberExec) {
        const id = (JSON.parse(decoded.body) as { Id?: unknown }).Id
        if (typeof id === 'string') lookup.rememberExec(id, client)
        await ret.send(reply, options)
        return
      }
      const mine = ownerOf(JSON.parse(decoded.body), label) === owner
      await ret.send(mine ? reply : errorMessage(notFound.container(request.target)), options)
    },
    close: async (error) => { await ret.close(error) },
    get abandoned () { return ret.abandoned }
  }
}

/**
 * `policy FILE [--audit stdout|stderr|PATH] [--no-watch]`: decides every Docker request by the
 * policy file's rules (deny by default), checks and rewrites its arguments, keeps each client to
 * its own objects where a rule says so, and forwards what it allows to the next service.
 *
 * @example
 * swarmd 'dockerserver unix:///run/swarmd/ci.sock' 'policy /etc/swarmd/ci-policy.yaml' 'dockerclient unix:///var/run/docker.sock'
 */
export const policy: Service = defineService({
  name: 'policy',
  usage: POLICY_USAGE,
  spawn: async (args, context) => await createPolicy(parsePolicyArgs(args), context)
})
