let lastMs = 0
let step = 0

/**
 * Milliseconds since the epoch, the wall clock clients compare with, made strictly
 * increasing within a millisecond (in microsecond steps, what a double holds at this
 * magnitude) so events keep their order.
 */
export function now (): number {
  const ms = Date.now()
  if (ms === lastMs) step = Math.min(step + 1, 999)
  else {
    lastMs = ms
    step = 0
  }
  return ms + step / 1000
}

/** Go's zero time, as dockerd prints an unset time. */
export const ZERO_TIME = '0001-01-01T00:00:00Z'

/** Go's RFC3339Nano (trailing zeros of the fraction trimmed); `fixed` keeps all nine digits, as `docker logs -t` prints. */
export function rfc3339 (ms: number, fixed = false): string {
  if (ms === 0) return ZERO_TIME
  const whole = Math.floor(ms)
  const iso = new Date(whole).toISOString()
  let fraction = iso.slice(20, 23) + String(Math.round((ms - whole) * 1e6)).padStart(6, '0').slice(0, 6)
  if (!fixed) fraction = fraction.replace(/0+$/, '')
  return iso.slice(0, 19) + (fraction === '' ? '' : '.' + fraction) + 'Z'
}

/** Nanoseconds since the epoch as decimal digits (too large for a JSON-safe number). */
export function unixNanoText (ms: number): string {
  const whole = Math.floor(ms)
  return String(whole) + String(Math.round((ms - whole) * 1e6)).padStart(6, '0').slice(0, 6)
}

/**
 * A time as Docker clients send it in `since`/`until`: Unix seconds with an optional
 * fraction (`1700000000.5`), or RFC 3339. Returns milliseconds, or `undefined` when empty.
 */
export function parseClientTime (text: string | undefined): number | undefined {
  if (text === undefined || text === '') return undefined
  if (/^-?\d+(\.\d+)?$/.test(text)) return Number(text) * 1000
  const parsed = Date.parse(text)
  return Number.isNaN(parsed) ? undefined : parsed
}

/** Go's units.HumanDuration, which `docker ps` shows as "Up 5 seconds" and "Exited (0) 2 minutes ago". */
export function humanDuration (ms: number): string {
  const seconds = Math.floor(ms / 1000)
  if (seconds < 1) return 'Less than a second'
  if (seconds === 1) return '1 second'
  if (seconds < 60) return `${seconds} seconds`
  const minutes = Math.floor(ms / 60_000)
  if (minutes === 1) return 'About a minute'
  if (minutes < 60) return `${minutes} minutes`
  const hours = Math.floor(ms / 3_600_000 + 0.5)
  if (hours === 1) return 'About an hour'
  if (hours < 48) return `${hours} hours`
  if (hours < 24 * 7 * 2) return `${Math.floor(hours / 24)} days`
  if (hours < 24 * 30 * 2) return `${Math.floor(hours / 24 / 7)} weeks`
  if (hours < 24 * 365 * 2) return `${Math.floor(hours / 24 / 30)} months`
  return `${Math.floor(ms / 3_600_000 / 24 / 365)} years`
}
