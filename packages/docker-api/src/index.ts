/**
 * @packageDocumentation
 * `@libswarm/docker-api` is the Docker vocabulary every Docker-speaking libswarm
 * service shares: the table mapping each Engine API operation onto a libswarm verb,
 * and the encoding of a Docker request and reply as messages. dockerserver produces
 * these messages, dockerclient, simulator and aggregate answer them.
 */
export { DOCKER_OPERATIONS, UNMAPPED_OPERATION, verbForMethod } from './operations.js'
export type { DockerOperationSpec, RequestBodyKind, ResponseKind } from './operations.js'
export {
  codeForStatus, decodeDockerReply, decodeDockerRequest, encodeDockerReply, encodeDockerRequest, engineError, headerValue,
  isDockerRequest, jsonReply, operationSpec, operationUrl, parseFilters, queryFlag, queryValue, replyJson, statusForCode
} from './docker-message.js'
export type { DockerQuery, DockerReply, DockerRequest } from './docker-message.js'
export { compileClientRegex, filterMatcher } from './client-regex.js'
export type { ClientRegex, ClientRegexOptions } from './client-regex.js'
