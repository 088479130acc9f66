import { compileClientRegex } from '@libswarm/docker-api'
import { engineErrors } from './errors.js'

/** An image reference in Docker's familiar form: `busybox:latest`, `org/app:1`, `registry:5000/app@sha256:...`. */
export interface ImageReference {
  /** The repository, familiar (no `docker.io/library/`). */
  readonly repository: string
  readonly tag: string | undefined
  readonly digest: string | undefined
}

const COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/
const TAG = /^[\w][\w.-]{0,127}$/
const DIGEST = /^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/

/** Parses a reference; throws dockerd's "invalid reference format" when it is not one. */
export function parseReference (text: string): ImageReference {
  let rest = text
  let digest: string | undefined
  const at = rest.indexOf('@')
  if (at >= 0) {
    digest = rest.slice(at + 1)
    rest = rest.slice(0, at)
    if (!DIGEST.test(digest)) throw engineErrors.badRequest('invalid reference format')
  }
  let tag: string | undefined
  const colon = rest.lastIndexOf(':')
  if (colon > rest.lastIndexOf('/')) {
    tag = rest.slice(colon + 1)
    rest = rest.slice(0, colon)
    if (!TAG.test(tag)) throw engineErrors.badRequest('invalid reference format')
  }
  const parts = rest.split('/')
  if (parts.length > 1 && (parts[0] === 'docker.io' || parts[0] === 'index.docker.io')) parts.shift()
  if (parts.length === 2 && parts[0] === 'library') parts.shift()
  const domain = parts.length > 1 && /[.:]|^localhost$/.test(parts[0] as string) ? parts.shift() : undefined
  if (parts.length === 0 || !parts.every((part) => COMPONENT.test(part))) {
    if (rest !== rest.toLowerCase()) throw engineErrors.badRequest('invalid reference format: repository name must be lowercase')
    throw engineErrors.badRequest('invalid reference format')
  }
  const repository = (domain === undefined ? '' : domain + '/') + parts.join('/')
  return { repository, tag, digest }
}

/** `repository:tag` with `latest` when no tag or digest is given: the key images are stored under. */
export function familiarName (reference: ImageReference): string {
  if (reference.digest !== undefined && reference.tag === undefined) return `${reference.repository}@${reference.digest}`
  return `${reference.repository}:${reference.tag ?? 'latest'}`
}

/**
 * Go's path.Match, which `docker images --filter reference=` uses (`*` and `?` stop at `/`),
 * compiled once for every tag it is tried on, and linear in the tag (RE2) however many `*` it has.
 */
export function globMatcher (pattern: string): (text: string) => boolean {
  let source = '^'
  for (const char of pattern) {
    if (char === '*') source += '[^/]*'
    else if (char === '?') source += '[^/]'
    else source += char.replace(/[.+^${}()|[\]\\]/g, '\\$&')
  }
  return compileClientRegex(source + '$').test
}
