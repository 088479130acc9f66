/**
 * @packageDocumentation
 * `@libswarm/core` is libswarm's protocol in TypeScript: the verbs, messages with a
 * return channel and a byte-stream attachment, channels with backpressure, the server
 * and client helpers, the service contract, chains, and the wire that carries all of
 * it between processes and machines.
 */
export { Verb, VERBS, isVerb } from './verbs.js'
export { ErrorCode, SwarmError, isSwarmError, toSwarmError } from './errors.js'
export { abandonedSignal, message, isSender } from './message.js'
export type { AbortOptions, ByteStream, Caller, CallerCertificate, Message, Receiver, Sender } from './message.js'
export { pipe } from './pipe.js'
export type { PipeOptions } from './pipe.js'
export { createServer, errorMessage, errorFromMessage, replyAndClose } from './server.js'
export type { MessageHandler, ServerOptions, VerbHandlers } from './server.js'
export { Client, request, requestStream } from './client.js'
export type { RequestOptions } from './client.js'
export { defineService, isService } from './service.js'
export type { Service, ServiceContext, ServiceInstance } from './service.js'
export { endOfChain, parseServiceSpec, spawnChain, spawnService } from './chain.js'
export type { Chain, ChainLink, ServiceResolver, SpawnChainOptions } from './chain.js'
export { createTree } from './tree.js'
export { createTask } from './task.js'
export type { TaskContext } from './task.js'
export { jsonLogger, silentLogger, LOG_LEVELS } from './logger.js'
export type { LogFields, LogLevel, Logger } from './logger.js'
export { connectStreams, dial, listen } from './wire/transport.js'
export type { ListenOptions, WireListener } from './wire/transport.js'
export type { TlsOptions, WireConnection, WireOptions } from './wire/connection.js'
export { formatWireAddress, isLoopbackHost, parseWireAddress } from './wire/address.js'
export type { WireAddress } from './wire/address.js'
export { parseServiceArgs } from './service-arguments.js'
export type { ParsedServiceArgs, ServiceArgsOptions } from './service-arguments.js'
export { parseWireEndpointArgs } from './wire/endpoint-arguments.js'
export type { WireEndpointOptions } from './wire/endpoint-arguments.js'
