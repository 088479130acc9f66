import { readFile } from 'node:fs/promises'
import { Ajv, type ErrorObject } from 'ajv'
import picomatch from 'picomatch'
import { LineCounter, parseDocument, isNode, type Document } from 'yaml'
import { InvalidPolicyError } from './errors.js'
import { expandOperation } from './operation-groups.js'
import { POLICY_SCHEMA, type ClientSpec, type Limits, type PolicyDocument, type Rewrites, type Rule, type When } from './policy-schema.js'
import { presetRules } from './socket-proxy-preset.js'
import { parseSize } from './container-facts.js'

/** The default label naming the owner of what a client creates. */
export const DEFAULT_OWNER_LABEL = 'com.libswarm.policy.owner'

/** A glob list compiled once. */
export type Matcher = (text: string) => boolean

/** A rule ready to decide. */
export interface CompiledRule {
  readonly name: string
  readonly effect: 'allow' | 'deny'
  /** Client names; undefined: any caller. */
  readonly clients: ReadonlySet<string> | undefined
  readonly operations: ReadonlySet<string>
  readonly when?: When | undefined
  readonly whenImages?: Matcher | undefined
  readonly limits?: Limits | undefined
  readonly images?: Matcher | undefined
  readonly securityOptions?: Matcher | undefined
  readonly forbiddenLabels?: Matcher | undefined
  readonly memoryMax?: number | undefined
  readonly rewrite?: Rewrites | undefined
  readonly rewriteMemory?: number | undefined
  readonly ownOnly: boolean
}

/** A policy ready to decide. */
export interface CompiledPolicy {
  readonly source: string
  readonly ownerLabel: string
  readonly audit?: string | undefined
  readonly clients: ReadonlyArray<readonly [string, ClientSpec]>
  readonly rules: readonly CompiledRule[]
}

const ajv = new Ajv({ allErrors: false, strict: true, strictRequired: false, allowUnionTypes: true })
const validate = ajv.compile<PolicyDocument>(POLICY_SCHEMA)

/** Reads and compiles a policy file; throws {@link InvalidPolicyError} naming the line. */
export async function loadPolicyFile (file: string): Promise<CompiledPolicy> {
  let text: string
  try {
    text = await readFile(file, 'utf8')
  } catch (error) {
    throw new InvalidPolicyError(`${file}: cannot read the policy: ${(error as Error).message}`, { cause: error })
  }
  return compilePolicy(text, file)
}

/** Parses and compiles policy text; `source` names it in errors (`FILE:LINE: ...`). */
export function compilePolicy (text: string, source = 'policy'): CompiledPolicy {
  const lineCounter = new LineCounter()
  const document = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true })
  const first = document.errors[0]
  if (first !== undefined) {
    const line = lineCounter.linePos(first.pos[0]).line
    throw new InvalidPolicyError(`${source}:${line}: ${first.message.split('\n')[0] ?? first.message}`)
  }
  const value: unknown = document.toJS()
  const at = (path: ReadonlyArray<string | number>): string => `${source}:${lineOf(document, lineCounter, path)}: ${pathText(path)}`
  if (!validate(value)) {
    const error = validate.errors?.[0] as ErrorObject
    const path = pointerPath(error.instancePath)
    // an unknown key: the line is the key's own
    const extra = error.keyword === 'additionalProperties' ? String((error.params as { additionalProperty: string }).additionalProperty) : undefined
    const line = lineOf(document, lineCounter, extra === undefined ? path : [...path, extra])
    throw new InvalidPolicyError(`${source}:${line}: ${pathText(path)}: ${schemaMessage(error)}`)
  }
  const policy = value
  const clients = Object.entries(policy.clients ?? {})
  const clientNames = new Set(clients.map(([name]) => name))
  const rules = (policy.rules ?? []).map((rule, index) => compileRule(rule, clientNames, (tail) => at(['rules', index, ...tail])))
  const names = new Set<string>()
  for (const [index, rule] of rules.entries()) {
    if (names.has(rule.name)) throw new InvalidPolicyError(`${at(['rules', index, 'name'])}: a rule named "${rule.name}" comes earlier`)
    names.add(rule.name)
  }
  if (policy.preset === 'docker-socket-proxy') {
    const preset = presetRules(policy.presetOptions ?? {}, (key, message) => new InvalidPolicyError(`${at(['presetOptions', key])}: ${message}`))
    rules.push(...preset.map((rule) => compileRule(rule, clientNames, (tail) => `${source}: preset ${pathText(tail)}`)))
  }
  return { source, ownerLabel: policy.ownerLabel ?? DEFAULT_OWNER_LABEL, audit: policy.audit, clients, rules }
}

function compileRule (rule: Rule, clientNames: ReadonlySet<string>, at: (path: ReadonlyArray<string | number>) => string): CompiledRule {
  const effect = rule.allow !== undefined ? 'allow' : 'deny'
  const listed = rule.allow ?? rule.deny ?? []
  const operations = new Set<string>()
  for (const [index, name] of listed.entries()) {
    const expanded = expandOperation(name)
    if (expanded === undefined) throw new InvalidPolicyError(`${at([effect, index])}: unknown operation or group "${name}"`)
    for (const operation of expanded) operations.add(operation)
  }
  for (const [index, name] of (rule.clients ?? []).entries()) {
    if (!clientNames.has(name)) throw new InvalidPolicyError(`${at(['clients', index])}: no client named "${name}" in clients`)
  }
  if (effect === 'deny' && (rule.limits !== undefined || rule.rewrite !== undefined || rule.ownOnly === true)) {
    throw new InvalidPolicyError(`${at(['deny'])}: a deny rule takes no limits, rewrite or ownOnly (use when)`)
  }
  if (effect === 'allow' && rule.when !== undefined) throw new InvalidPolicyError(`${at(['when'])}: when is for deny rules (an allow rule takes limits)`)
  return {
    name: rule.name,
    effect,
    clients: rule.clients === undefined ? undefined : new Set(rule.clients),
    operations,
    when: rule.when,
    whenImages: globs(rule.when?.images),
    limits: rule.limits,
    images: globs(rule.limits?.images),
    securityOptions: globs(rule.limits?.securityOptions),
    forbiddenLabels: globs(rule.limits?.labels?.forbidden),
    memoryMax: rule.limits?.memory?.max === undefined ? undefined : parseSize(rule.limits.memory.max),
    rewrite: rule.rewrite,
    rewriteMemory: rule.rewrite?.memory === undefined ? undefined : parseSize(rule.rewrite.memory),
    ownOnly: rule.ownOnly === true
  }
}

function globs (patterns: readonly string[] | undefined): Matcher | undefined {
  if (patterns === undefined) return undefined
  // dots and slashes are ordinary characters in image names and options; plain regular
  // expressions test faster than picomatch's matcher objects
  const expressions = patterns.map((pattern) => picomatch.makeRe(pattern, { dot: true, nonegate: true }))
  return (text) => expressions.some((expression) => expression.test(text))
}

function pointerPath (pointer: string): Array<string | number> {
  if (pointer === '') return []
  return pointer.slice(1).split('/').map((part) => part.replaceAll('~1', '/').replaceAll('~0', '~')).map((part) => /^\d+$/.test(part) ? Number(part) : part)
}

function pathText (path: ReadonlyArray<string | number>): string {
  if (path.length === 0) return '(top)'
  return path.map((part, index) => typeof part === 'number' ? `[${part}]` : index === 0 ? part : `.${part}`).join('')
}

/** The line of the deepest node of `path` present in the document. */
function lineOf (document: Document, lineCounter: LineCounter, path: ReadonlyArray<string | number>): number {
  for (let length = path.length; length >= 0; length--) {
    const node = length === 0 ? document.contents : document.getIn(path.slice(0, length), true)
    if (isNode(node) && node.range !== undefined && node.range !== null) return lineCounter.linePos(node.range[0]).line
  }
  return 1
}

function schemaMessage (error: ErrorObject): string {
  const params = error.params as Record<string, unknown>
  switch (error.keyword) {
    case 'additionalProperties': return `unknown key "${String(params.additionalProperty)}"`
    case 'required': return `missing "${String(params.missingProperty)}"`
    case 'enum': return `must be one of ${(params.allowedValues as unknown[]).map((value) => JSON.stringify(value)).join(', ')}`
    case 'const': return `must be ${JSON.stringify(params.allowedValue)}`
    case 'oneOf': return 'a rule has either allow or deny, not both'
    default: return error.message ?? error.keyword
  }
}
