/**
 * @packageDocumentation
 * `@libswarm/debug` logs every message passing through a chain, and each reply coming
 * back, and forwards both unchanged.
 */
export { debug, createDebug } from './debug.js'
export type { DebugOptions } from './debug.js'
