import { capability, familiarImage, normalizeHostPath, type RequestFacts } from './container-facts.js'
import type { CompiledRule, Matcher } from './policy-file.js'

const imageAllowed = (matcher: Matcher, image: string): boolean => matcher(image) || matcher(familiarImage(image))

const isRoot = (user: string): boolean => /^(root|0)(:.*)?$/.test(user)

/** True when `path` is an allowed host path or below one. */
export function hostPathAllowed (allowed: readonly string[], path: string): boolean {
  return allowed.some((entry) => {
    const root = normalizeHostPath(entry)
    return root === '/' || path === root || path.startsWith(`${root}/`)
  })
}

function portAllowed (allowed: readonly string[], hostPort: string): boolean {
  const [low = '', high = low] = hostPort.split('/')[0]?.split('-') ?? []
  const from = Number(low)
  const to = Number(high)
  if (!Number.isInteger(from) || !Number.isInteger(to)) return false
  return allowed.some((entry) => {
    const [a = '', b = a] = entry.split('-')
    return from >= Number(a) && to <= Number(b)
  })
}

const formatSize = (bytes: number): string => bytes % 1024 ** 3 === 0 ? `${bytes / 1024 ** 3}g` : bytes % 1024 ** 2 === 0 ? `${bytes / 1024 ** 2}m` : `${bytes} bytes`

/**
 * The first thing `facts` asks for that `rule`'s limits do not allow, worded for the denial
 * (`privileged containers`, `host path / (-v)`), or undefined when the request stays within them.
 * `defaultMemory` is the memory limit the rule's rewrite will set when the request sets none.
 */
export function limitViolation (rule: CompiledRule, facts: RequestFacts, operation: string): string | undefined {
  const limits = rule.limits
  if (limits === undefined) return undefined
  if (rule.images !== undefined) {
    if (facts.imports) return 'image imports (docker import, fromSrc)'
    for (const image of facts.images) if (!imageAllowed(rule.images, image)) return `image ${familiarImage(image)}`
  }
  if (limits.privileged === false && facts.privileged) return operation === 'ContainerExec' ? 'privileged exec' : 'privileged containers'
  if (limits.capabilities !== undefined) {
    const allowed = new Set(limits.capabilities.map(capability))
    for (const cap of facts.capAdd) if (!allowed.has(cap)) return `capability ${cap}`
  }
  if (limits.devices === false && facts.devices) return 'devices'
  if (rule.securityOptions !== undefined || limits.securityOptions !== undefined) {
    for (const option of facts.securityOptions) {
      if (/^no-new-privileges([:=](true|false))?$/.test(option)) continue
      if (rule.securityOptions === undefined || !rule.securityOptions(option)) return `security option ${option}`
    }
    if (facts.systemPaths) return 'unmasked system paths (MaskedPaths, ReadonlyPaths)'
  }
  if (limits.hostNamespaces === false && facts.hostNamespaces.length > 0) return facts.hostNamespaces[0]
  if (limits.hostPaths !== undefined) {
    for (const mount of facts.hostMounts) {
      if (limits.hostPaths === false || !hostPathAllowed(limits.hostPaths.allow ?? [], mount.path)) return `host path ${mount.path} (${mount.how})`
      if (limits.hostPaths.readOnly === true && !mount.readOnly && rule.rewrite?.readOnlyHostPaths !== true) return `writable host path ${mount.path} (${mount.how})`
    }
  }
  if (limits.volumesFrom === false && facts.volumesFrom.length > 0) return `--volumes-from ${facts.volumesFrom[0] ?? ''}`
  if (limits.volumeDrivers !== undefined) {
    for (const driver of facts.volumeDrivers) if (!limits.volumeDrivers.includes(driver)) return `volume driver ${driver}`
  }
  if (limits.rootUser === false && facts.user !== undefined) {
    if (facts.user === '' && operation === 'ContainerCreate') return 'containers without a non-root --user'
    if (isRoot(facts.user)) return `user ${facts.user}`
  }
  if (facts.memory !== undefined && limits.memory !== undefined) {
    const creating = operation === 'ContainerCreate'
    const memory = facts.memory > 0 ? facts.memory : creating ? rule.rewriteMemory ?? 0 : 0
    if (creating && memory <= 0 && (limits.memory.required === true || rule.memoryMax !== undefined)) return 'containers without a memory limit'
    if (rule.memoryMax !== undefined && memory > rule.memoryMax) return `memory over ${formatSize(rule.memoryMax)}`
  }
  if (facts.cpus !== undefined && limits.cpus !== undefined) {
    const creating = operation === 'ContainerCreate'
    if (creating && facts.cpus <= 0 && (limits.cpus.required === true || limits.cpus.max !== undefined)) return 'containers without a CPU limit'
    if (limits.cpus.max !== undefined && facts.cpus > limits.cpus.max) return `more than ${limits.cpus.max} CPUs`
  }
  if (limits.ports !== undefined) {
    for (const port of facts.hostPorts) {
      if (limits.ports.publish === false) return 'published ports'
      if (limits.ports.allow !== undefined && (port === '' || !portAllowed(limits.ports.allow, port))) return `host port ${port === '' ? '(any)' : port}`
    }
  }
  if (limits.labels !== undefined && (operation === 'ContainerCreate' || operation === 'NetworkCreate' || operation === 'VolumeCreate')) {
    for (const key of limits.labels.required ?? []) if (!Object.hasOwn(facts.labels, key)) return `creates without label ${key}`
    for (const key of Object.keys(facts.labels)) if (rule.forbiddenLabels?.(key) === true) return `label ${key}`
  }
  if (limits.restartPolicies !== undefined && facts.restartPolicy !== undefined) {
    const policy = facts.restartPolicy === '' ? 'no' : facts.restartPolicy
    if (!limits.restartPolicies.includes(policy) && !(policy === 'no' && limits.restartPolicies.includes(''))) return `restart policy ${policy}`
  }
  if (limits.buildNetworks !== undefined && facts.buildNetwork !== undefined && !limits.buildNetworks.includes(facts.buildNetwork)) {
    return `builds with --network ${facts.buildNetwork}`
  }
  return undefined
}

/** True when a deny rule's `when` holds for the request (every condition given); the wording of what it denies. */
export function whenMatches (rule: CompiledRule, facts: RequestFacts): string | undefined {
  const when = rule.when
  if (when === undefined) return ''
  const said: string[] = []
  if (when.privileged === true) { if (!facts.privileged) return undefined; said.push('privileged containers') }
  if (when.hostNamespaces === true) { if (facts.hostNamespaces.length === 0) return undefined; said.push(facts.hostNamespaces[0] as string) }
  if (when.hostPaths === true) { if (facts.hostMounts.length === 0) return undefined; said.push(`host path ${facts.hostMounts[0]?.path ?? ''}`) }
  if (when.devices === true) { if (!facts.devices) return undefined; said.push('devices') }
  if (when.capabilities === true) { if (facts.capAdd.length === 0) return undefined; said.push(`capability ${facts.capAdd[0] ?? ''}`) }
  if (rule.whenImages !== undefined) {
    const image = facts.images.find((candidate) => imageAllowed(rule.whenImages as Matcher, candidate))
    if (image === undefined) return undefined
    said.push(`image ${familiarImage(image)}`)
  }
  return said.join(' with ')
}
