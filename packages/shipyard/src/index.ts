/**
 * @packageDocumentation
 * `@libswarm/shipyard`: Shipyard's v2 controller API as a Docker engine. The Docker messages
 * its API can express (ps, inspect, run -d, start, stop, restart, rm, logs, events, info) are
 * mapped onto it; with `--engines`, Shipyard is only a registry of engines, each a
 * `dockerclient` under the provisioning contract, for `aggregate`.
 */
export { shipyard, startShipyard, parseShipyardArgs, SHIPYARD_USAGE } from './shipyard-service.js'
export type { ShipyardOptions } from './shipyard-service.js'
export { ShipyardApi } from './shipyard-api.js'
export type { CitadelEngine, ShipyardClusterInfo, ShipyardContainer, ShipyardCredentials, ShipyardEngine, ShipyardEvent, ShipyardImage, ShipyardPort } from './shipyard-api.js'
export { ShipyardDockerMapping, SHIPYARD_DOCKER_API_VERSION } from './docker-mapping.js'
export { startShipyardEngines } from './shipyard-engines.js'
export type { ShipyardEnginesOptions } from './shipyard-engines.js'
