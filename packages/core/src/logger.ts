/** Structured log fields. */
export type LogFields = Record<string, unknown>

/** Where services write their logs. swarmd gives each service one that writes JSON lines on stderr. */
export interface Logger {
  debug (text: string, fields?: LogFields): void
  info (text: string, fields?: LogFields): void
  warn (text: string, fields?: LogFields): void
  error (text: string, fields?: LogFields): void
  /** A logger whose lines also carry `fields`. */
  child (fields: LogFields): Logger
}

/** Log levels from the most to the least verbose. */
export const LOG_LEVELS = ['debug', 'info', 'warn', 'error', 'silent'] as const
/** A log level. */
export type LogLevel = (typeof LOG_LEVELS)[number]

/** A logger writing one JSON object per line to `write` (stderr by default), from `level` up. */
export function jsonLogger (options: { level?: LogLevel, fields?: LogFields, write?: (line: string) => void } = {}): Logger {
  const threshold = LOG_LEVELS.indexOf(options.level ?? 'info')
  const write = options.write ?? ((line: string) => { process.stderr.write(line) })
  const base = options.fields ?? {}
  const at = (level: LogLevel) => (text: string, fields?: LogFields): void => {
    if (LOG_LEVELS.indexOf(level) < threshold) return
    write(JSON.stringify({ time: new Date().toISOString(), level, msg: text, ...base, ...fields }) + '\n')
  }
  return {
    debug: at('debug'),
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
    child: (fields) => jsonLogger({ ...options, fields: { ...base, ...fields } })
  }
}

/** A logger that drops everything. */
export const silentLogger: Logger = {
  debug () {},
  info () {},
  warn () {},
  error () {},
  child: () => silentLogger
}
