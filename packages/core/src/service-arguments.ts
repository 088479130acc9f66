import { parseArgs, type ParseArgsConfig } from 'node:util'
import { ErrorCode, SwarmError } from './errors.js'

/** A service's flags, in `node:util` `parseArgs` form: `{ name: { type: 'string' | 'boolean', multiple?, short? } }`. */
export type ServiceArgsOptions = NonNullable<ParseArgsConfig['options']>

/** What {@link parseServiceArgs} returns: `values`, typed by the flags given, and `positionals`. */
export type ParsedServiceArgs<T extends ServiceArgsOptions> =
  ReturnType<typeof parseArgs<{ args: string[], options: T, allowPositionals: true, strict: true }>>

/**
 * Parses a service's swarmd arguments with `node:util`'s `parseArgs` (strict; positionals allowed,
 * checking them is the caller's part). An unknown flag, a missing value or a value given to a
 * boolean flag throws `SwarmError` `INVALID_ARGUMENTS` as `SERVICE: WHAT; usage: USAGE`.
 *
 * @example
 * ```ts
 * const { values, positionals } = parseServiceArgs('greeter', args, { loud: { type: 'boolean' } }, 'greeter [--loud] [NAME]')
 * ```
 */
export function parseServiceArgs<T extends ServiceArgsOptions> (service: string, args: readonly string[], options: T, usage: string): ParsedServiceArgs<T> {
  try {
    return parseArgs({ args: [...args], options, allowPositionals: true, strict: true })
  } catch (error) {
    throw new SwarmError(ErrorCode.InvalidArguments, `${service}: ${(error as Error).message}; usage: ${usage}`, { cause: error })
  }
}
