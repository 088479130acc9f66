import { ErrorCode, SwarmError, parseServiceSpec, type Sender } from '@libswarm/core'
import { STRATEGIES, type Strategy } from './placement.js'

/** One engine behind aggregate: a service spec to spawn, or (programmatically) a running service. */
export interface AggregateChild {
  /** A service spec such as `dockerclient tcp://127.0.0.1:2401`, spawned with the context's `spawn`. */
  spec?: string
  /** A running Docker-speaking service, used as is (aggregate closes it on close). */
  service?: Sender
  /** The node's name; default the engine's SystemInfo `Name`. */
  name?: string
  /** The address `docker info` shows; default taken from the spec's URL. */
  addr?: string
}

/** Options of aggregate. */
export interface AggregateOptions {
  children: AggregateChild[]
  /** Default `spread`. */
  strategy?: Strategy
  /** How often each node's containers, images and facts are listed again. Default 30 s. */
  refreshIntervalMs?: number
  /** How long a node may take to answer a ping. Default 1 s. */
  healthTimeoutMs?: number
  /**
   * How often each node is pinged (each node at its own random phase), unless it was heard from
   * (an event, a refresh) within that time; stretched so that no more than `maxPingsPerSecond`
   * go out in all. Default 2 s.
   */
  healthIntervalMs?: number
  /** The most pings a second over all nodes (1,000 nodes: each every 10 s). Default 100. */
  maxPingsPerSecond?: number
  /**
   * Failed or timed-out pings in a row before a node counts as unhealthy (a failed ping is
   * retried at once, so a node that stops answering is dropped after about this many
   * health timeouts; a broken event stream drops it at once). Default 3.
   */
  healthRetries?: number
  /** Longest wait between reconnection attempts to an unhealthy node. Default 30 s. */
  maxBackoffMs?: number
  /** The cluster's name in `docker info`. Default `aggregate`. */
  name?: string
  /**
   * Text (in characters) of the recently used inspect documents kept to answer `docker inspect`
   * from memory (least recently used out first; 0 keeps none). Default 32 MiB.
   */
  inspectCacheBytes?: number
  /** Random numbers for the `random` strategy (tests pass a seeded one). */
  random?: () => number
}

/** The usage line swarmd shows. */
export const AGGREGATE_USAGE = 'aggregate [--strategy spread|binpack|random] [--refresh-interval 30s] [--health-timeout 1s] [--health-interval 2s] [--health-retries 3] [--inspect-cache 32] [--name NAME=SPEC]... CHILD_SPEC...'

/** Parses `30s`, `500ms`, `2m`, `1h` or a number of seconds into milliseconds. */
export function parseDuration (text: string): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text.trim())
  if (match === null) throw new SwarmError(ErrorCode.InvalidArguments, `invalid duration ${JSON.stringify(text)} (use 500ms, 30s, 2m, 1h)`)
  const value = Number(match[1])
  const unit = match[2] ?? 's'
  return value * (unit === 'ms' ? 1 : unit === 's' ? 1000 : unit === 'm' ? 60_000 : 3_600_000)
}

/** The address a spec points at: `127.0.0.1:2401` for `dockerclient tcp://127.0.0.1:2401`, else the spec. */
export function addressOf (spec: string): string {
  try {
    for (const arg of parseServiceSpec(spec).args) {
      const match = /^(tcp|http|https|ssh):\/\/(.+?)\/?$/.exec(arg)
      if (match !== null) return match[2] as string
      if (arg.startsWith('unix://')) return arg
    }
  } catch {}
  return spec
}

/** Parses aggregate's swarmd arguments. */
export function parseAggregateArgs (args: readonly string[]): AggregateOptions {
  const options: AggregateOptions = { children: [] }
  for (let index = 0; index < args.length; index++) {
    const arg = args[index] as string
    const [flag, inline] = arg.startsWith('--') && arg.includes('=') && !arg.startsWith('--name=')
      ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)]
      : arg.startsWith('--name=') ? ['--name', arg.slice('--name='.length)] : [arg, undefined]
    const value = (): string => {
      if (inline !== undefined) return inline
      const next = args[++index]
      if (next === undefined) throw new SwarmError(ErrorCode.InvalidArguments, `${flag} needs a value`)
      return next
    }
    switch (flag) {
      case '--strategy': {
        const strategy = value()
        if (!STRATEGIES.includes(strategy as Strategy)) throw new SwarmError(ErrorCode.InvalidArguments, `unknown strategy ${strategy} (spread, binpack or random)`)
        options.strategy = strategy as Strategy
        break
      }
      case '--refresh-interval': options.refreshIntervalMs = parseDuration(value()); break
      case '--health-timeout': options.healthTimeoutMs = parseDuration(value()); break
      case '--health-interval': options.healthIntervalMs = parseDuration(value()); break
      case '--health-retries': {
        const text = value()
        const retries = Number(text)
        if (!Number.isInteger(retries) || retries < 1) throw new SwarmError(ErrorCode.InvalidArguments, `--health-retries wants a whole number of at least 1, got ${JSON.stringify(text)}`)
        options.healthRetries = retries
        break
      }
      case '--cluster-name': options.name = value(); break
      case '--inspect-cache': {
        const text = value()
        const mebibytes = Number(text)
        if (text.trim() === '' || !Number.isFinite(mebibytes) || mebibytes < 0) throw new SwarmError(ErrorCode.InvalidArguments, `--inspect-cache wants a size in MiB (0 keeps none), got ${JSON.stringify(text)}`)
        options.inspectCacheBytes = Math.floor(mebibytes * 1024 * 1024)
        break
      }
      case '--name': {
        const pair = value()
        const at = pair.indexOf('=')
        if (at <= 0 || at === pair.length - 1) throw new SwarmError(ErrorCode.InvalidArguments, `--name wants NAME=SPEC, got ${JSON.stringify(pair)}`)
        options.children.push({ name: pair.slice(0, at), spec: pair.slice(at + 1) })
        break
      }
      default:
        if (arg.startsWith('--')) throw new SwarmError(ErrorCode.InvalidArguments, `unknown option ${arg}; usage: ${AGGREGATE_USAGE}`)
        options.children.push({ spec: arg })
    }
  }
  if (options.children.length === 0) throw new SwarmError(ErrorCode.InvalidArguments, `aggregate needs at least one child; usage: ${AGGREGATE_USAGE}`)
  return options
}
