import { ErrorCode, SwarmError } from '@libswarm/core'

/** A policy file that cannot be used (code INVALID_ARGUMENTS); the message is `FILE:LINE: where: what`. */
export class InvalidPolicyError extends SwarmError {
  constructor (message: string, options?: { cause?: unknown }) {
    super(ErrorCode.InvalidArguments, message, options)
  }
}

/** A request the policy refuses: 403 through dockerserver, with the message as the engine's `message`. */
export function denied (rule: string, what: string): SwarmError {
  return new SwarmError(ErrorCode.Forbidden, `policy: "${rule}" denies ${what}`)
}
