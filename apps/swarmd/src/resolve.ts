import { existsSync } from 'node:fs'
import { readFile, readdir } from 'node:fs/promises'
import { dirname, isAbsolute, join, resolve as resolvePath } from 'node:path'
import { pathToFileURL } from 'node:url'
import { ErrorCode, SwarmError, isService, type Service, type ServiceResolver } from '@libswarm/core'

/** The services shipped with libswarm: each name maps to the package `@libswarm/<name>`. */
export const BUILTIN_SERVICES = ['dockerserver', 'dockerclient', 'debug', 'exec', 'serve', 'remote', 'simulator', 'aggregate'] as const

/** The keyword that makes an installed package show in swarmd's listing. */
export const SERVICE_KEYWORD = 'libswarm-service'

/** Options of {@link createResolver}. */
export interface ResolverOptions {
  /** Where installed packages and relative paths are looked up first. Default `process.cwd()`. */
  cwd?: string
  /** Loads a module; tests replace it. Default dynamic `import()`. */
  load?: (specifier: string) => Promise<Record<string, unknown>>
}

const load = async (specifier: string): Promise<Record<string, unknown>> => await import(specifier) as Record<string, unknown>

/** True when a service name is a file path or URL rather than a name. */
export function isPathName (name: string): boolean {
  return name.startsWith('./') || name.startsWith('../') || name.startsWith('file:') || isAbsolute(name)
}

/**
 * Picks the service a module exports: the named export `service`, else the default
 * export, else the only export that is a service (or, among several, the one whose
 * `name` is `wanted`).
 */
export function pickService (module: Record<string, unknown>, wanted: string, source: string): Service {
  if (isService(module.service)) return module.service
  if (isService(module.default)) return module.default
  const services = Object.values(module).filter(isService)
  if (services.length === 1) return services[0] as Service
  const named = services.filter((service) => service.name === wanted)
  if (named.length === 1) return named[0] as Service
  if (services.length === 0) throw new SwarmError(ErrorCode.UnknownService, `${source} exports no service (export one named "service", or as the default)`)
  throw new SwarmError(ErrorCode.UnknownService, `${source} exports several services (${services.map((service) => service.name).join(', ')}); export one named "service"`)
}

/** Finds `node_modules/<name>` from `from` upwards and returns the package's directory. */
export function findPackageDirectory (name: string, from: string): string | undefined {
  let directory = resolvePath(from)
  while (true) {
    const candidate = join(directory, 'node_modules', name)
    if (existsSync(join(candidate, 'package.json'))) return candidate
    const parent = dirname(directory)
    if (parent === directory) return undefined
    directory = parent
  }
}

const CONDITIONS = ['import', 'node', 'default']

function exportTarget (value: unknown): string | undefined {
  if (typeof value === 'string') return value
  if (Array.isArray(value)) {
    for (const item of value) {
      const target = exportTarget(item)
      if (target !== undefined) return target
    }
    return undefined
  }
  if (typeof value !== 'object' || value === null) return undefined
  const record = value as Record<string, unknown>
  if ('.' in record) return exportTarget(record['.'])
  for (const [condition, target] of Object.entries(record)) {
    if (CONDITIONS.includes(condition)) {
      const found = exportTarget(target)
      if (found !== undefined) return found
    }
  }
  return undefined
}

/** The file a package's main entry point (its `exports["."]`, `module` or `main`) names. */
export async function packageEntry (directory: string): Promise<string> {
  const manifest = JSON.parse(await readFile(join(directory, 'package.json'), 'utf8')) as Record<string, unknown>
  const target = manifest.exports !== undefined
    ? exportTarget(manifest.exports)
    : (typeof manifest.module === 'string' ? manifest.module : typeof manifest.main === 'string' ? manifest.main : 'index.js')
  if (target === undefined) throw new SwarmError(ErrorCode.UnknownService, `package at ${directory} exports no entry point for import`)
  return join(directory, target)
}

function isNotFound (error: unknown, specifier: string): boolean {
  const code = (error as { code?: unknown }).code
  return (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') &&
    String((error as Error).message).includes(`'${specifier}'`)
}

/**
 * swarmd's service resolver. A built-in name loads `@libswarm/<name>`; a path
 * (`./x.js`, `../x.js`, `/abs/x.js`, `file:` URL) loads that file, relative to `cwd`;
 * any other name is an installed package, looked up in `cwd`'s node_modules, then
 * swarmd's own; a bare name is first tried as `@libswarm/<name>` (`aws` is `@libswarm/aws`
 * once installed). Unknown names throw `UNKNOWN_SERVICE`.
 */
export function createResolver (options: ResolverOptions = {}): ServiceResolver {
  const cwd = options.cwd ?? process.cwd()
  const importModule = options.load ?? load
  const cache = new Map<string, Promise<Service>>()

  const fromSpecifier = async (name: string, specifier: string, source: string): Promise<Service> => {
    let module: Record<string, unknown>
    try {
      module = await importModule(specifier)
    } catch (error) {
      if (isNotFound(error, specifier)) throw new SwarmError(ErrorCode.UnknownService, unknownServiceMessage(name), { cause: error })
      throw new SwarmError(ErrorCode.UnknownService, `cannot load service ${name} from ${source}: ${(error as Error).message.split('\n')[0] ?? ''}`, { cause: error })
    }
    return pickService(module, name.split('/').at(-1) ?? name, source)
  }

  const find = async (name: string): Promise<Service> => {
    if ((BUILTIN_SERVICES as readonly string[]).includes(name)) return await fromSpecifier(name, `@libswarm/${name}`, `@libswarm/${name}`)
    if (isPathName(name)) {
      const url = name.startsWith('file:') ? name : pathToFileURL(resolvePath(cwd, name)).href
      if (!name.startsWith('file:') && !existsSync(resolvePath(cwd, name))) {
        throw new SwarmError(ErrorCode.UnknownService, `unknown service ${name}: no such file ${resolvePath(cwd, name)}`)
      }
      return await fromSpecifier(name, url, name)
    }
    if (!/^(@[a-z0-9][\w.-]*\/)?[a-z0-9][\w.-]*$/i.test(name)) throw new SwarmError(ErrorCode.UnknownService, unknownServiceMessage(name))
    // A bare name of an installed first-party service (`aws`, `policy`, ...) is its @libswarm package.
    if (!name.startsWith('@')) {
      const firstParty = `@libswarm/${name}`
      const installed = findPackageDirectory(firstParty, cwd)
      if (installed !== undefined) return await fromSpecifier(name, pathToFileURL(await packageEntry(installed)).href, `package ${firstParty}`)
      let module: Record<string, unknown> | undefined
      try {
        module = await importModule(firstParty)
      } catch (error) {
        if (!isNotFound(error, firstParty)) throw new SwarmError(ErrorCode.UnknownService, `cannot load service ${name} from ${firstParty}: ${(error as Error).message.split('\n')[0] ?? ''}`, { cause: error })
      }
      if (module !== undefined) return pickService(module, name, `package ${firstParty}`)
    }
    const directory = findPackageDirectory(name, cwd)
    if (directory !== undefined) return await fromSpecifier(name, pathToFileURL(await packageEntry(directory)).href, `package ${name}`)
    return await fromSpecifier(name, name, `package ${name}`)
  }

  return async (name) => {
    let found = cache.get(name)
    if (found === undefined) {
      found = find(name)
      cache.set(name, found)
      found.catch(() => cache.delete(name))
    }
    return await found
  }
}

function unknownServiceMessage (name: string): string {
  return `unknown service ${JSON.stringify(name)}: not a built-in service (${BUILTIN_SERVICES.join(', ')}), an installed package or a file (run swarmd without arguments to list services)`
}

/** One line of swarmd's listing. */
export interface ServiceListing {
  readonly name: string
  /** The package or file it comes from. */
  readonly source: string
  readonly usage?: string | undefined
  /** Why it could not be loaded. */
  readonly error?: string | undefined
}

/**
 * The services swarmd can run: the built-in ones, then installed packages found from
 * `cwd` whose package.json lists the keyword `libswarm-service`.
 */
export async function listServices (options: ResolverOptions = {}): Promise<ServiceListing[]> {
  const cwd = options.cwd ?? process.cwd()
  const resolve = createResolver(options)
  const entry = async (name: string, source: string): Promise<ServiceListing> => {
    try {
      const service = await resolve(name)
      return { name: service.name, source, usage: service.usage }
    } catch (error) {
      return { name, source, error: (error as Error).message }
    }
  }
  const listings = await Promise.all(BUILTIN_SERVICES.map(async (name) => await entry(name, `@libswarm/${name}`)))
  for (const name of await installedServicePackages(cwd)) listings.push(await entry(name, name))
  return listings
}

async function installedServicePackages (cwd: string): Promise<string[]> {
  const names = new Set<string>()
  let directory = resolvePath(cwd)
  while (true) {
    const modules = join(directory, 'node_modules')
    for (const name of await packageNames(modules)) {
      if (name.startsWith('@libswarm/') && (BUILTIN_SERVICES as readonly string[]).includes(name.slice('@libswarm/'.length))) continue
      try {
        const manifest = JSON.parse(await readFile(join(modules, name, 'package.json'), 'utf8')) as { keywords?: unknown }
        if (Array.isArray(manifest.keywords) && manifest.keywords.includes(SERVICE_KEYWORD)) names.add(name)
      } catch {}
    }
    const parent = dirname(directory)
    if (parent === directory) break
    directory = parent
  }
  return [...names].sort()
}

async function packageNames (modules: string): Promise<string[]> {
  const entries = await readdir(modules).catch(() => [] as string[])
  const names: string[] = []
  for (const entry of entries) {
    if (entry.startsWith('.')) continue
    if (entry.startsWith('@')) {
      for (const scoped of await readdir(join(modules, entry)).catch(() => [] as string[])) names.push(`${entry}/${scoped}`)
    } else {
      names.push(entry)
    }
  }
  return names
}
