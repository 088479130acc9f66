/**
 * @packageDocumentation
 * `@libswarm/dockerserver` serves the Docker Engine API (unix socket, TCP, TLS) and turns
 * every request into a libswarm message in the vocabulary of `@libswarm/docker-api`,
 * sent down the chain; nothing is proxied as raw HTTP, so every service behind it sees
 * and may rewrite every Docker operation, attach and exec streams included.
 */
export { dockerserver, parseDockerServerArgs, DOCKERSERVER_USAGE } from './service.js'
export { createDockerServer, DOCKER_SERVER_LIMITS } from './docker-server.js'
export type { DockerServer, DockerServerOptions, DockerServerTlsOptions } from './docker-server.js'
export { DockerServerErrorCode } from './errors.js'
