import { ErrorCode, LOG_LEVELS, SwarmError, type LogLevel } from '@libswarm/core'

/** What swarmd was asked to do, from its command line. */
export interface SwarmdArguments {
  /** One service spec per argument, in chain order (front first). */
  readonly specs: string[]
  readonly config?: string | undefined
  readonly logLevel?: LogLevel | undefined
  /** Milliseconds given to in-flight requests on SIGINT/SIGTERM. */
  readonly shutdownTimeout?: number | undefined
  readonly help: boolean
  readonly version: boolean
}

/** swarmd's usage text. */
export const SWARMD_USAGE = `usage: swarmd [OPTIONS] 'SERVICE [ARGS...]' ['SERVICE [ARGS...]' ...]
       swarmd [OPTIONS] --config swarmd.yaml
       swarmd                      list the installed services

Chains services like unix pipes: each argument is one service with its arguments, quoted as in a
shell; a service's children nest with inner quotes, e.g.
  swarmd 'dockerserver unix:///tmp/swarm.sock' 'aggregate "dockerclient tcp://a:2375" "dockerclient tcp://b:2375"'

options:
  --config FILE            read the chain (and options) from a YAML file
  --log-level LEVEL        debug, info, warn, error or silent (default info); JSON lines on stderr
  --shutdown-timeout TIME  how long SIGINT/SIGTERM waits for in-flight requests (default 10s; 500ms, 10s, 1m)
  -h, --help               this text
  -v, --version            swarmd's version`

/** Parses `10s`, `500ms`, `1m` or a bare number of seconds into milliseconds. */
export function parseDuration (text: string): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(text.trim())
  if (match === null) throw new SwarmError(ErrorCode.InvalidArguments, `invalid duration ${JSON.stringify(text)}: use 500ms, 10s or 1m`)
  const value = Number(match[1])
  const unit = match[2] ?? 's'
  return Math.round(unit === 'ms' ? value : unit === 's' ? value * 1000 : value * 60_000)
}

/** Checks a log level name. */
export function parseLogLevel (text: string): LogLevel {
  if (!(LOG_LEVELS as readonly string[]).includes(text)) {
    throw new SwarmError(ErrorCode.InvalidArguments, `invalid log level ${JSON.stringify(text)}: use ${LOG_LEVELS.join(', ')}`)
  }
  return text as LogLevel
}

const WITH_VALUE = new Set(['--config', '--log-level', '--shutdown-timeout'])

/**
 * Parses swarmd's command line (without `node` and the script). Options start with `-`;
 * no service spec does, since a spec starts with a service name or a path. `--` ends
 * the options.
 */
export function parseArguments (argv: readonly string[]): SwarmdArguments {
  const specs: string[] = []
  const values = new Map<string, string>()
  let help = false
  let version = false
  let optionsDone = false
  for (let index = 0; index < argv.length; index++) {
    const arg = argv[index] as string
    if (optionsDone || !arg.startsWith('-')) {
      if (arg.trim() === '') throw new SwarmError(ErrorCode.InvalidArguments, 'empty service spec')
      specs.push(arg)
      continue
    }
    if (arg === '--') { optionsDone = true; continue }
    if (arg === '-h' || arg === '--help') { help = true; continue }
    if (arg === '-v' || arg === '--version') { version = true; continue }
    const equals = arg.indexOf('=')
    const name = equals > 0 ? arg.slice(0, equals) : arg
    if (!WITH_VALUE.has(name)) throw new SwarmError(ErrorCode.InvalidArguments, `unknown option ${name} (swarmd --help lists them)`)
    const value = equals > 0 ? arg.slice(equals + 1) : argv[++index]
    if (value === undefined || value === '') throw new SwarmError(ErrorCode.InvalidArguments, `option ${name} needs a value`)
    values.set(name, value)
  }
  const config = values.get('--config')
  if (config !== undefined && specs.length > 0) {
    throw new SwarmError(ErrorCode.InvalidArguments, 'give the chain either as arguments or with --config, not both')
  }
  const logLevel = values.get('--log-level')
  const shutdownTimeout = values.get('--shutdown-timeout')
  return {
    specs,
    config,
    logLevel: logLevel === undefined ? undefined : parseLogLevel(logLevel),
    shutdownTimeout: shutdownTimeout === undefined ? undefined : parseDuration(shutdownTimeout),
    help,
    version
  }
}
