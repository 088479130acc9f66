/**
 * @packageDocumentation
 * `@libswarm/dockerclient` forwards libswarm's Docker messages to a real Docker engine
 * (unix socket or TCP, with TLS as the docker CLI does it): every operation of the
 * `@libswarm/docker-api` table, streams pulled with backpressure, hijacked attach and exec
 * passed through byte for byte, engine errors turned into SwarmErrors with the same status.
 */
export { dockerclient, createDockerClient, DOCKERCLIENT_USAGE } from './dockerclient-service.js'
export { parseDockerClientArgs } from './engine-address.js'
export type { DockerClientOptions } from './engine-address.js'
