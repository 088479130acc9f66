import { parseArgs, type ParseArgsConfig } from 'node:util'
import { ErrorCode, SwarmError } from '@libswarm/core'
import type { HostSetOptions, UnreachablePolicy } from './host-set.js'
import { defaultStateDirectory } from './state-directory.js'

/** The arguments every provisioner takes, as its usage line shows them. */
export const PROVISION_USAGE = '[--swarm NAME] [--count N] [--max-hosts N] [--dry-run] [--terminate-on-stop] [--on-unreachable replace|fail] [--boot-timeout 10m] [--check-interval 10s] [--engine-port 2376] [--ssh-user USER [--ssh-key FILE] [--ssh-port 22]] [--state-dir DIR] [--tag K=V]...'

const COMMON_OPTIONS = {
  swarm: { type: 'string' },
  count: { type: 'string' },
  'max-hosts': { type: 'string' },
  'dry-run': { type: 'boolean' },
  'terminate-on-stop': { type: 'boolean' },
  'on-unreachable': { type: 'string' },
  'boot-timeout': { type: 'string' },
  'check-interval': { type: 'string' },
  'check-retries': { type: 'string' },
  'engine-port': { type: 'string' },
  'state-dir': { type: 'string' },
  'ssh-user': { type: 'string' },
  'ssh-key': { type: 'string' },
  'ssh-port': { type: 'string' },
  tag: { type: 'string', multiple: true }
} as const satisfies NonNullable<ParseArgsConfig['options']>

/** A provider's own options, in `node:util` `parseArgs` form (strings and booleans, `multiple` allowed). */
export type ProviderOptions = NonNullable<ParseArgsConfig['options']>

/** The parsed arguments: the host set's options and the provider's own values. */
export interface ProvisionArguments {
  hostSet: HostSetOptions
  values: Record<string, string | boolean | string[] | boolean[] | undefined>
}

/**
 * Parses a provisioner's swarmd arguments: the common ones ({@link PROVISION_USAGE}) and the
 * provider's `options`. Defaults: `--swarm libswarm`, `--count 1`, `--max-hosts` twice the count,
 * `--on-unreachable replace`, `--boot-timeout 10m`, `--check-interval 10s`, `--engine-port 2376`,
 * `--state-dir $XDG_STATE_HOME/libswarm/PROVIDER/SWARM`. With `--ssh-user USER` hosts are reached
 * over ssh (`--ssh-key FILE`, `--ssh-port`, default 22) instead of mutual TLS.
 */
export function parseProvisionArgs (provider: string, args: readonly string[], options: ProviderOptions, usage: string): ProvisionArguments {
  let parsed: ReturnType<typeof parseArgs>
  try {
    parsed = parseArgs({ args: [...args], options: { ...COMMON_OPTIONS, ...options }, allowPositionals: false, strict: true })
  } catch (error) {
    throw new SwarmError(ErrorCode.InvalidArguments, `${provider}: ${(error as Error).message}; usage: ${usage}`, { cause: error })
  }
  const values = parsed.values as ProvisionArguments['values']
  const text = (name: string): string | undefined => values[name] as string | undefined
  const swarm = text('swarm') ?? 'libswarm'
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/.test(swarm)) throw new SwarmError(ErrorCode.InvalidArguments, `${provider}: --swarm wants letters, digits, '.', '_' or '-' (at most 63), got ${JSON.stringify(swarm)}`)
  const count = whole(provider, 'count', text('count') ?? '1', 1)
  const onUnreachable = text('on-unreachable') ?? 'replace'
  if (onUnreachable !== 'replace' && onUnreachable !== 'fail') throw new SwarmError(ErrorCode.InvalidArguments, `${provider}: --on-unreachable wants replace or fail, got ${JSON.stringify(onUnreachable)}`)
  const tags: Record<string, string> = {}
  for (const pair of (values.tag as string[] | undefined) ?? []) {
    const at = pair.indexOf('=')
    if (at <= 0) throw new SwarmError(ErrorCode.InvalidArguments, `${provider}: --tag wants KEY=VALUE, got ${JSON.stringify(pair)}`)
    const key = pair.slice(0, at)
    if (key.startsWith('libswarm:')) throw new SwarmError(ErrorCode.InvalidArguments, `${provider}: tags starting with libswarm: are libswarm's own (${key})`)
    tags[key] = pair.slice(at + 1)
  }
  const hostSet: HostSetOptions = {
    swarm,
    count,
    maxHosts: whole(provider, 'max-hosts', text('max-hosts') ?? String(count * 2), 1),
    dryRun: values['dry-run'] === true,
    terminateOnStop: values['terminate-on-stop'] === true,
    onUnreachable: onUnreachable as UnreachablePolicy,
    bootTimeoutMs: duration(provider, 'boot-timeout', text('boot-timeout') ?? '10m'),
    checkIntervalMs: duration(provider, 'check-interval', text('check-interval') ?? '10s'),
    checkRetries: whole(provider, 'check-retries', text('check-retries') ?? '3', 1),
    enginePort: whole(provider, 'engine-port', text('engine-port') ?? '2376', 1),
    tags,
    stateDir: text('state-dir') ?? defaultStateDirectory(provider, swarm)
  }
  if (hostSet.enginePort > 65535) throw new SwarmError(ErrorCode.InvalidArguments, `${provider}: --engine-port must be at most 65535`)
  const sshUser = text('ssh-user')
  if (sshUser === undefined) {
    for (const flag of ['ssh-key', 'ssh-port']) {
      if (values[flag] !== undefined) throw new SwarmError(ErrorCode.InvalidArguments, `${provider}: --${flag} goes with --ssh-user (hosts are reached over mutual TLS without it)`)
    }
  } else {
    if (!/^[A-Za-z_][A-Za-z0-9_.-]{0,31}$/.test(sshUser)) throw new SwarmError(ErrorCode.InvalidArguments, `${provider}: --ssh-user wants a user name, got ${JSON.stringify(sshUser)}`)
    if (values['engine-port'] !== undefined) throw new SwarmError(ErrorCode.InvalidArguments, `${provider}: --engine-port is the TLS port; with --ssh-user the engine listens on no port (--ssh-port is ssh's)`)
    const port = whole(provider, 'ssh-port', text('ssh-port') ?? '22', 1)
    if (port > 65535) throw new SwarmError(ErrorCode.InvalidArguments, `${provider}: --ssh-port must be at most 65535`)
    hostSet.ssh = { user: sshUser, keyFile: text('ssh-key'), port }
  }
  return { hostSet, values }
}

function whole (provider: string, flag: string, text: string, min: number): number {
  const value = Number(text)
  if (!Number.isInteger(value) || value < min) throw new SwarmError(ErrorCode.InvalidArguments, `${provider}: --${flag} wants a whole number of at least ${min}, got ${JSON.stringify(text)}`)
  return value
}

/** `500ms`, `30s`, `10m`, `1h`, or seconds. */
function duration (provider: string, flag: string, text: string): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text.trim())
  if (match === null) throw new SwarmError(ErrorCode.InvalidArguments, `${provider}: --${flag} wants a duration such as 500ms, 30s, 10m, got ${JSON.stringify(text)}`)
  const unit = match[2] ?? 's'
  return Number(match[1]) * (unit === 'ms' ? 1 : unit === 's' ? 1000 : unit === 'm' ? 60_000 : 3_600_000)
}
