/**
 * @packageDocumentation
 * `@libswarm/remote` is a back service: it forwards every message of its chain over
 * the libswarm wire to a `serve` front elsewhere (`unix://`, `tcp://`, mutual-TLS
 * `tls://`), reconnecting when the connection drops.
 */
export { remote, createRemote, parseRemoteArgs } from './remote.js'
export type { RemoteOptions } from './remote.js'
export type { WireEndpointOptions } from '@libswarm/core'
