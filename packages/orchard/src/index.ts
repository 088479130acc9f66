/**
 * @packageDocumentation
 * `@libswarm/orchard`: Docker hosts found through Orchard's API (`GET /hosts/{name}` with
 * `Authorization: Token ...`), each reached over mutual TLS on port 4243 with the client
 * certificate the API returned. A provisioning service: under `aggregate` each host is a node.
 */
export { orchard, startOrchard, parseOrchardArgs, ORCHARD_USAGE, ORCHARD_ENGINE_PORT } from './orchard-service.js'
export type { OrchardOptions } from './orchard-service.js'
export { OrchardApi, ORCHARD_API_URL, parseOrchardSize } from './orchard-api.js'
export type { OrchardHost } from './orchard-api.js'
