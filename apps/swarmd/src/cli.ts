#!/usr/bin/env node
import { readFileSync } from 'node:fs'
import { isSwarmError, jsonLogger, parseServiceSpec, type ChainLink, type LogLevel } from '@libswarm/core'
import { SWARMD_USAGE, parseArguments } from './arguments.js'
import { loadConfig } from './config.js'
import { startSwarmd } from './daemon.js'
import { createResolver, listServices } from './resolve.js'

const DEFAULT_SHUTDOWN_TIMEOUT = 10_000

function version (): string {
  const manifest = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }
  return manifest.version
}

async function printListing (): Promise<void> {
  const listings = await listServices()
  const width = Math.max(...listings.map((listing) => listing.name.length))
  const lines = ['usage: swarmd [OPTIONS] \'SERVICE [ARGS...]\' ... (swarmd --help)', '', 'services:']
  for (const listing of listings) {
    const detail = listing.usage ?? `(unavailable: ${listing.error ?? 'unknown error'})`
    lines.push(`  ${listing.name.padEnd(width)}  ${detail}${listing.source === `@libswarm/${listing.name}` ? '' : `  [${listing.source}]`}`)
  }
  process.stdout.write(lines.join('\n') + '\n')
}

async function main (argv: readonly string[]): Promise<number> {
  const args = parseArguments(argv)
  if (args.help) {
    process.stdout.write(SWARMD_USAGE + '\n')
    return 0
  }
  if (args.version) {
    process.stdout.write(`swarmd ${version()}\n`)
    return 0
  }
  if (args.specs.length === 0 && args.config === undefined) {
    await printListing()
    return 0
  }
  const config = args.config === undefined ? undefined : await loadConfig(args.config)
  const links: ChainLink[] = config?.chain ?? args.specs.map(parseServiceSpec)
  const level: LogLevel = args.logLevel ?? config?.logLevel ?? 'info'
  const shutdownTimeout = args.shutdownTimeout ?? config?.shutdownTimeout ?? DEFAULT_SHUTDOWN_TIMEOUT
  const log = jsonLogger({ level })
  debugStacks = level === 'debug'

  // A signal while the chain starts: stop right after it started (a second one exits at once).
  let early: NodeJS.Signals | undefined
  const onEarlySignal = (signal: NodeJS.Signals): void => {
    if (early !== undefined) process.exit(130)
    early = signal
  }
  process.on('SIGINT', onEarlySignal)
  process.on('SIGTERM', onEarlySignal)
  const swarmd = await startSwarmd({ links, resolve: createResolver(), log })
  process.off('SIGINT', onEarlySignal)
  process.off('SIGTERM', onEarlySignal)
  // A daemon runs until it is told to stop, even when no service holds the event loop open.
  const keepAlive = setInterval(() => {}, 1 << 30)
  return await new Promise<number>((resolve) => {
    let signalled = false
    const onSignal = (signal: NodeJS.Signals): void => {
      if (signalled) {
        log.warn('second signal: exiting now', { signal })
        resolve(130)
        return
      }
      signalled = true
      log.info('shutting down', { signal, timeoutMs: shutdownTimeout, inFlight: swarmd.inFlight })
      void swarmd.shutdown(shutdownTimeout).then((result) => {
        clearInterval(keepAlive)
        log.info(result.clean ? 'stopped' : 'stopped after the shutdown timeout', { inFlight: result.inFlight })
        resolve(result.clean ? 0 : 1)
      })
    }
    process.on('SIGINT', onSignal)
    process.on('SIGTERM', onSignal)
    log.info('swarmd is running', { chain: links.map((link) => link.name), pid: process.pid })
    if (early !== undefined) onSignal(early)
  })
}

let debugStacks = false

function fail (error: unknown): number {
  const message = error instanceof Error ? error.message : String(error)
  process.stderr.write(`swarmd: ${message.split('\n')[0] ?? message}\n`)
  // Expected failures (SwarmError: unknown service, bad arguments, address in use...) stay one line.
  if (debugStacks && error instanceof Error && error.stack !== undefined) process.stderr.write(error.stack + '\n')
  else if (!isSwarmError(error) && process.env.SWARMD_STACK === '1' && error instanceof Error) process.stderr.write(`${error.stack ?? ''}\n`)
  return 1
}

process.on('uncaughtException', (error) => {
  process.exitCode = fail(error)
  process.exit()
})

main(process.argv.slice(2)).then(
  (code) => { process.exit(code) },
  (error: unknown) => { process.exit(fail(error)) }
)
