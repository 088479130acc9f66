import type { Caller } from '@libswarm/core'
import type { DockerRequest } from '@libswarm/docker-api'
import { requestFacts, type RequestFacts } from './container-facts.js'
import { limitViolation, whenMatches } from './limits.js'
import type { CompiledPolicy, CompiledRule } from './policy-file.js'
import type { ClientSpec } from './policy-schema.js'

/** What the policy says of one request. */
export type Decision =
  | { readonly effect: 'allow', readonly rule: CompiledRule, readonly client: string | undefined, readonly facts: RequestFacts | undefined }
  | { readonly effect: 'deny', readonly rule: string, readonly client: string | undefined, readonly what: string }

function clientMatches (spec: ClientSpec, caller: Caller): boolean {
  if (spec.listener !== undefined && spec.listener !== caller.listener) return false
  if (spec.uid !== undefined && spec.uid !== caller.uid) return false
  if (spec.gid !== undefined && spec.gid !== caller.gid) return false
  if (spec.subject !== undefined && spec.subject !== caller.certificate?.subject) return false
  if (spec.san !== undefined && caller.certificate?.sans.includes(spec.san) !== true) return false
  if (spec.fingerprint256 !== undefined && spec.fingerprint256.toUpperCase() !== caller.certificate?.fingerprint256?.toUpperCase()) return false
  return true
}

/** The caller's client name: the first client of the policy whose every field matches; undefined for none. */
export function identifyClient (policy: CompiledPolicy, caller: Caller | undefined): string | undefined {
  if (caller === undefined) return undefined
  for (const [name, spec] of policy.clients) if (clientMatches(spec, caller)) return name
  return undefined
}

/** Operations whose body or query the limits and `when` read. */
const READS_ARGUMENTS = new Set([
  'ContainerCreate', 'ContainerUpdate', 'ContainerExec', 'VolumeCreate', 'NetworkCreate', 'NetworkConnect', 'NetworkDisconnect',
  'ImageCreate', 'ImageBuild', 'ImageCommit', 'ServiceCreate', 'ServiceUpdate'
])

/**
 * Decides a request (its body already canonical): the first rule whose clients and operations
 * match and, for a deny rule, whose `when` holds, decides; an allow rule whose limits the
 * request exceeds denies it in its own name. No rule: denied by `default`.
 */
export function decide (policy: CompiledPolicy, caller: Caller | undefined, request: DockerRequest): Decision {
  const client = identifyClient(policy, caller)
  const operation = request.operation
  let facts: RequestFacts | undefined
  const factsOf = (): RequestFacts => { facts ??= requestFacts(request); return facts }
  for (const rule of policy.rules) {
    if (rule.clients !== undefined && (client === undefined || !rule.clients.has(client))) continue
    if (!rule.operations.has(operation)) continue
    if (rule.effect === 'deny') {
      const what = rule.when === undefined ? '' : READS_ARGUMENTS.has(operation) ? whenMatches(rule, factsOf()) : undefined
      if (what === undefined) continue
      return { effect: 'deny', rule: rule.name, client, what: what === '' ? operation : what }
    }
    if (rule.limits !== undefined && READS_ARGUMENTS.has(operation)) {
      const violation = limitViolation(rule, factsOf(), operation)
      if (violation !== undefined) return { effect: 'deny', rule: rule.name, client, what: violation }
    }
    if (rule.ownOnly && client === undefined) return { effect: 'deny', rule: rule.name, client, what: `${operation} to an unidentified caller` }
    return { effect: 'allow', rule, client, facts: READS_ARGUMENTS.has(operation) ? factsOf() : undefined }
  }
  return { effect: 'deny', rule: 'default', client, what: `${operation} (no rule allows it${client === undefined ? '' : ` for client "${client}"`})` }
}
