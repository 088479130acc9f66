/**
 * @packageDocumentation
 * `@libswarm/swarmd` is libswarm's daemon: it chains services like unix pipes, from its
 * command line (`swarmd 'dockerserver unix:///tmp/swarm.sock' debug 'dockerclient'`) or a
 * YAML file. The `swarmd` binary is the main product; these exports let a program or a
 * test build the same chain.
 */
export { SWARMD_USAGE, parseArguments, parseDuration, parseLogLevel } from './arguments.js'
export type { SwarmdArguments } from './arguments.js'
export { configFromDocument, linkFromConfig, loadConfig, parseConfig, quoteWord, renderSpec } from './config.js'
export type { ConfigLink, SwarmdConfig } from './config.js'
export { BUILTIN_SERVICES, SERVICE_KEYWORD, createResolver, findPackageDirectory, isPathName, listServices, packageEntry, pickService } from './resolve.js'
export type { ResolverOptions, ServiceListing } from './resolve.js'
export { startSwarmd } from './daemon.js'
export type { ShutdownResult, Swarmd, SwarmdOptions } from './daemon.js'
