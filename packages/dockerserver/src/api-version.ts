/** The oldest API version dockerd accepts (as dockerd 20.10 does). */
export const MIN_API_VERSION = '1.12'
/** The newest API version assumed while the backend's own is not known yet. */
export const DEFAULT_MAX_API_VERSION = '1.47'

const VERSION_PREFIX = /^\/v([0-9.]+)(?=\/|$)/

/** Splits `/v1.41/containers/json` into `1.41` and `/containers/json`. */
export function splitVersionPrefix (path: string): { version: string | undefined, path: string } {
  const match = VERSION_PREFIX.exec(path)
  if (match === null) return { version: undefined, path }
  const rest = path.slice(match[0].length)
  return { version: match[1], path: rest === '' ? '/' : rest }
}

/** Compares dotted versions numerically, as moby's `versions.compare` does. */
export function compareVersions (a: string, b: string): number {
  const left = a.split('.')
  const right = b.split('.')
  for (let index = 0; index < Math.max(left.length, right.length); index++) {
    const x = Number.parseInt(left[index] ?? '0', 10) || 0
    const y = Number.parseInt(right[index] ?? '0', 10) || 0
    if (x !== y) return x < y ? -1 : 1
  }
  return 0
}

/** dockerd's error text for a version outside `[min, max]`, or `undefined` when it is inside. */
export function unsupportedVersionMessage (version: string, min: string, max: string): string | undefined {
  if (compareVersions(version, min) < 0) {
    return `client version ${version} is too old. Minimum supported API version is ${min}, please upgrade your client to a newer version`
  }
  if (compareVersions(version, max) > 0) {
    return `client version ${version} is too new. Maximum supported API version is ${max}`
  }
  return undefined
}

/** True for a plausible `MAJOR.MINOR` API version. */
export function isApiVersion (value: unknown): value is string {
  return typeof value === 'string' && /^[0-9]+\.[0-9]+$/.test(value)
}
