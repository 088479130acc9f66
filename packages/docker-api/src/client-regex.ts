import { ErrorCode, SwarmError } from '@libswarm/core'
import { RE2JS } from 're2js'

/** A client's regular expression, compiled once. */
export interface ClientRegex {
  /** The pattern as the client wrote it. */
  readonly source: string
  /** True when the pattern matches part of `text` (unanchored, as Go's `regexp.MatchString`). */
  test: (text: string) => boolean
}

/** Options of {@link compileClientRegex}. */
export interface ClientRegexOptions {
  /** Match without regard to case, as a leading `(?i)` would. */
  readonly ignoreCase?: boolean
}

/**
 * Compiles a regular expression a client gave (a filter value, a placement constraint) as the
 * Docker engine does: Go's RE2 syntax, matched in time linear in the text whatever the pattern
 * (`^([0-9a-f]+)+z$` answers at once where a backtracking engine takes minutes). RE2 has no
 * backreferences nor lookarounds: such a pattern, like any invalid one, throws BAD_REQUEST with
 * Go's message (``error parsing regexp: invalid escape sequence: `\1` ``).
 *
 * Compiling costs time in the size of the pattern: compile each client pattern once per request
 * (see {@link filterMatcher}), never once per object tested.
 *
 * @example
 * ```ts
 * const web = compileClientRegex('^/web-[0-9]+$')
 * web.test('/web-12') // true
 * ```
 */
export function compileClientRegex (source: string, options: ClientRegexOptions = {}): ClientRegex {
  let compiled: RE2JS
  try {
    compiled = RE2JS.compile(source, options.ignoreCase === true ? RE2JS.CASE_INSENSITIVE : 0)
  } catch (error) {
    throw new SwarmError(ErrorCode.BadRequest, error instanceof Error ? error.message : `error parsing regexp: ${String(error)}`, { cause: error })
  }
  return { source, test: (text) => compiled.test(text) }
}

/**
 * The engine's `filters.Args.Match` for the values of one filter (`name`, `id` of `docker ps`,
 * `docker network ls`, ...): a text matches when it equals one of the values or when one of them,
 * as a Go regexp, matches part of it. A value that is no valid regexp matches only itself: dockerd
 * skips it without an error. Every value is compiled here, once: make one matcher per request,
 * and the compiled patterns go when it goes.
 *
 * @example
 * ```ts
 * const names = filterMatcher(filters.name ?? [])
 * containers.filter((container) => names('/' + container.name))
 * ```
 */
export function filterMatcher (values: readonly string[]): (text: string) => boolean {
  const exact = new Set(values)
  const patterns: ClientRegex[] = []
  for (const value of exact) {
    try {
      patterns.push(compileClientRegex(value))
    } catch {}
  }
  return (text) => exact.has(text) || patterns.some((pattern) => pattern.test(text))
}
