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
export {
  CONTAINER_CREATE_BODY, CONTAINER_UPDATE_BODY, ENGINE_BODY_TYPES, EXEC_CREATE_BODY, EXEC_START_BODY, NETWORK_CONNECT_BODY,
  NETWORK_CREATE_BODY, NETWORK_DISCONNECT_BODY, VOLUME_CREATE_BODY, checkPortBindings, decodeEngineBody, goFieldNames
} from './engine-bodies.js'
export { fillGoZeros, goDecodeError } from './go-json.js'
export type { GoType } from './go-json.js'
export { bytesSize, clusterSystemInfo, clusterSystemVersion } from './cluster-info.js'
export type { ClusterSystemInfoFields, ClusterSystemVersionFields } from './cluster-info.js'
