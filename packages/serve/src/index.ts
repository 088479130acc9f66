/**
 * @packageDocumentation
 * `@libswarm/serve` is a front service: it listens for libswarm wire connections
 * (`unix://`, `tcp://`, mutual-TLS `tls://`) and feeds every message they carry into
 * the rest of the chain. Its counterpart at the back of another chain is
 * `@libswarm/remote`.
 */
export { serve, createServe, parseServeArgs } from './serve.js'
export { ServeErrorCode } from './errors.js'
export type { ServeInstance, ServeOptions } from './serve.js'
export type { WireEndpointOptions } from '@libswarm/core'
