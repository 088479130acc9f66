import { readFile } from 'node:fs/promises'
import { ErrorCode, SwarmError, parseServiceSpec, type ChainLink, type LogLevel } from '@libswarm/core'
import { parse as parseYaml } from 'yaml'
import { parseDuration, parseLogLevel } from './arguments.js'

/**
 * One link of a chain in a config file: a spec string in the command-line syntax, or an
 * object naming the service, its arguments and its children (each a link of the same
 * kind). Children become extra arguments, rendered as spec strings, after `args`.
 */
export type ConfigLink = string | { service: string, args?: Array<string | number | boolean>, children?: ConfigLink[] }

/** What a swarmd config file holds, once checked. */
export interface SwarmdConfig {
  readonly chain: ChainLink[]
  readonly logLevel?: LogLevel | undefined
  readonly shutdownTimeout?: number | undefined
}

const SAFE_WORD = /^[A-Za-z0-9_/.:@%+=,~-]+$/

/** Quotes one word so that {@link parseServiceSpec} gives it back unchanged. */
export function quoteWord (word: string): string {
  if (SAFE_WORD.test(word)) return word
  return `'${word.replaceAll("'", `'"'"'`)}'`
}

/** Renders a link as one spec string of the command-line syntax. */
export function renderSpec (link: ChainLink): string {
  return [link.name, ...link.args].map(quoteWord).join(' ')
}

/** Turns one config link into a chain link, checking its shape; `where` names it in errors. */
export function linkFromConfig (value: unknown, where: string): ChainLink {
  if (typeof value === 'string') {
    try {
      return parseServiceSpec(value)
    } catch (error) {
      throw new SwarmError(ErrorCode.InvalidArguments, `${where}: ${(error as Error).message}`, { cause: error })
    }
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new SwarmError(ErrorCode.InvalidArguments, `${where}: expected a service spec string or an object with "service", got ${JSON.stringify(value)}`)
  }
  const record = value as Record<string, unknown>
  for (const key of Object.keys(record)) {
    if (key !== 'service' && key !== 'args' && key !== 'children') {
      throw new SwarmError(ErrorCode.InvalidArguments, `${where}: unknown key "${key}" (use service, args, children)`)
    }
  }
  if (typeof record.service !== 'string' || record.service.trim() === '') {
    throw new SwarmError(ErrorCode.InvalidArguments, `${where}.service: expected a service name`)
  }
  const args = record.args ?? []
  if (!Array.isArray(args)) throw new SwarmError(ErrorCode.InvalidArguments, `${where}.args: expected a list`)
  const strings = args.map((arg, index) => {
    if (typeof arg === 'string' || typeof arg === 'number' || typeof arg === 'boolean') return String(arg)
    throw new SwarmError(ErrorCode.InvalidArguments, `${where}.args[${index}]: expected a string, got ${JSON.stringify(arg)}`)
  })
  const children = record.children ?? []
  if (!Array.isArray(children)) throw new SwarmError(ErrorCode.InvalidArguments, `${where}.children: expected a list`)
  const childSpecs = children.map((child, index) => renderSpec(linkFromConfig(child, `${where}.children[${index}]`)))
  return { name: record.service, args: [...strings, ...childSpecs] }
}

/** Checks a parsed config document. */
export function configFromDocument (document: unknown, source = 'config'): SwarmdConfig {
  if (typeof document !== 'object' || document === null || Array.isArray(document)) {
    throw new SwarmError(ErrorCode.InvalidArguments, `${source}: expected a mapping with a "chain" list`)
  }
  const record = document as Record<string, unknown>
  for (const key of Object.keys(record)) {
    if (key !== 'chain' && key !== 'logLevel' && key !== 'shutdownTimeout' && key !== '$schema') {
      throw new SwarmError(ErrorCode.InvalidArguments, `${source}: unknown key "${key}" (use chain, logLevel, shutdownTimeout)`)
    }
  }
  if (!Array.isArray(record.chain) || record.chain.length === 0) {
    throw new SwarmError(ErrorCode.InvalidArguments, `${source}: "chain" must be a non-empty list of services`)
  }
  const chain = record.chain.map((link, index) => linkFromConfig(link, `${source}: chain[${index}]`))
  let shutdownTimeout: number | undefined
  if (typeof record.shutdownTimeout === 'number') shutdownTimeout = record.shutdownTimeout * 1000
  else if (typeof record.shutdownTimeout === 'string') shutdownTimeout = parseDuration(record.shutdownTimeout)
  else if (record.shutdownTimeout !== undefined) throw new SwarmError(ErrorCode.InvalidArguments, `${source}: shutdownTimeout must be a duration such as 10s`)
  let logLevel: LogLevel | undefined
  if (record.logLevel !== undefined) logLevel = parseLogLevel(String(record.logLevel))
  return { chain, logLevel, shutdownTimeout }
}

/** Parses the YAML text of a swarmd config file. */
export function parseConfig (text: string, source = 'config'): SwarmdConfig {
  let document: unknown
  try {
    document = parseYaml(text)
  } catch (error) {
    throw new SwarmError(ErrorCode.InvalidArguments, `${source}: invalid YAML: ${(error as Error).message.split('\n')[0] ?? ''}`, { cause: error })
  }
  return configFromDocument(document, source)
}

/** Reads and parses a swarmd config file. */
export async function loadConfig (path: string): Promise<SwarmdConfig> {
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (error as Error).message
    throw new SwarmError(ErrorCode.InvalidArguments, `cannot read config ${path}: ${reason}`, { cause: error })
  }
  return parseConfig(text, path)
}
