import { ErrorCode, SwarmError } from '@libswarm/core'

/**
 * Error codes of aggregate, beside core's. `NO_SUITABLE_NODE` travels as HTTP 500 out of
 * dockerserver, as classic Swarm answered a placement failure.
 */
export const AggregateErrorCode = {
  NoSuitableNode: 'NO_SUITABLE_NODE'
} as const

/** No node passed the placement filters, or none had room. */
export function noSuitableNode (message: string): SwarmError {
  return new SwarmError(AggregateErrorCode.NoSuitableNode, message)
}

/** A request that names a container, exec or object of a node that is not answering. */
export function nodeUnavailable (node: { name: string, addr: string, lastError?: string | undefined }, what: string): SwarmError {
  const reason = node.lastError === undefined ? '' : `: ${node.lastError}`
  return new SwarmError(ErrorCode.Unavailable, `node ${node.name} (${node.addr}) is unavailable${reason}; cannot reach ${what}`)
}

/**
 * An operation on a container whose node is not answering, in classic Swarm's words
 * (`Container web running on unhealthy node node-1`); the reason follows, when known.
 */
export function containerOnUnhealthyNode (ref: string, node: { name: string, lastError?: string | undefined }): SwarmError {
  const reason = node.lastError === undefined ? '' : ` (${node.lastError})`
  return new SwarmError(ErrorCode.Unavailable, `Container ${ref} running on unhealthy node ${node.name}${reason}`)
}
