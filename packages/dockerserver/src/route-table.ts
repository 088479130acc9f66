import FindMyWay from 'find-my-way'
import { DOCKER_OPERATIONS, type DockerOperationSpec } from '@libswarm/docker-api'

/** An operation found for a request, with its target and other path parameters. */
export interface RouteMatch {
  readonly spec: DockerOperationSpec
  readonly target: string
  readonly path: Record<string, string>
}

/** The operations sharing one `{name*}` prefix, tried longest suffix first. */
interface SuffixRoutes {
  readonly kind: 'suffix'
  readonly candidates: ReadonlyArray<{ suffix: string, spec: DockerOperationSpec, param: string }>
}

interface ParamRoute {
  readonly kind: 'param'
  readonly spec: DockerOperationSpec
  /** The template's first parameter: the request's target. */
  readonly targetParam: string | undefined
}

type Store = SuffixRoutes | ParamRoute

const MULTI_SEGMENT = /\{(\w+)\*\}/
const NOOP = (): void => {}

/** Finds the operation of a method and a path (below the version prefix). */
export type RouteLookup = (method: string, path: string) => RouteMatch | undefined

/**
 * Builds the lookup from the operation table. Templates with `{id}` become find-my-way
 * parameters; templates with `{name*}` (image and plugin names, which contain slashes and
 * colons) become one wildcard per method and prefix, and the request's tail is matched
 * against the known suffixes of that prefix, longest first, as dockerd's `{name:.*}`
 * routes do.
 */
export function createRouteLookup (operations: Iterable<DockerOperationSpec> = DOCKER_OPERATIONS.values()): RouteLookup {
  const router = FindMyWay({ ignoreTrailingSlash: true, maxParamLength: 4096 })
  const suffixGroups = new Map<string, Array<{ suffix: string, spec: DockerOperationSpec, param: string }>>()
  for (const spec of operations) {
    const multi = MULTI_SEGMENT.exec(spec.path)
    if (multi !== null) {
      const prefix = spec.path.slice(0, multi.index)
      const suffix = spec.path.slice(multi.index + multi[0].length)
      const key = `${spec.method} ${prefix}`
      const group = suffixGroups.get(key) ?? []
      group.push({ suffix, spec, param: multi[1] as string })
      suffixGroups.set(key, group)
      continue
    }
    const params = [...spec.path.matchAll(/\{(\w+)\}/g)].map((match) => match[1] as string)
    const store: ParamRoute = { kind: 'param', spec, targetParam: params[0] }
    router.on(spec.method, spec.path.replace(/\{(\w+)\}/g, ':$1'), NOOP, store)
  }
  for (const [key, candidates] of suffixGroups) {
    const [method, prefix] = key.split(' ') as [DockerOperationSpec['method'], string]
    candidates.sort((a, b) => b.suffix.length - a.suffix.length)
    const store: SuffixRoutes = { kind: 'suffix', candidates }
    router.on(method, `${prefix}*`, NOOP, store)
  }

  return (method, path) => {
    let found: ReturnType<typeof router.find>
    try {
      found = router.find(method as DockerOperationSpec['method'], path)
    } catch {
      return undefined
    }
    if (found === null || found === undefined) return undefined
    const store = found.store as Store
    const params = found.params as Record<string, string | undefined>
    if (store.kind === 'param') {
      const target = store.targetParam === undefined ? '' : params[store.targetParam] ?? ''
      const rest: Record<string, string> = {}
      for (const [name, value] of Object.entries(params)) {
        if (name !== store.targetParam && value !== undefined) rest[name] = value
      }
      return { spec: store.spec, target, path: rest }
    }
    const tail = (params['*'] ?? '').replace(/\/+$/, '')
    for (const candidate of store.candidates) {
      if (!tail.endsWith(candidate.suffix)) continue
      const name = tail.slice(0, tail.length - candidate.suffix.length)
      if (name === '') continue
      return { spec: candidate.spec, target: name, path: {} }
    }
    return undefined
  }
}
