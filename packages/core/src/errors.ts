/**
 * Stable error codes. Codes, not classes, cross process boundaries: the Error verb
 * carries `[code, message]`, and fronts such as dockerserver map codes to statuses
 * in one table.
 */
export const ErrorCode = {
  BadRequest: 'BAD_REQUEST',
  Unauthorized: 'UNAUTHORIZED',
  Forbidden: 'FORBIDDEN',
  NotFound: 'NOT_FOUND',
  NotAcceptable: 'NOT_ACCEPTABLE',
  Conflict: 'CONFLICT',
  Internal: 'INTERNAL',
  NotImplemented: 'NOT_IMPLEMENTED',
  Unavailable: 'UNAVAILABLE',
  Timeout: 'TIMEOUT',
  Aborted: 'ABORTED',
  ChannelClosed: 'CHANNEL_CLOSED',
  MalformedFrame: 'MALFORMED_FRAME',
  MessageTooLarge: 'MESSAGE_TOO_LARGE',
  LimitExceeded: 'LIMIT_EXCEEDED',
  Protocol: 'PROTOCOL_ERROR',
  InvalidArguments: 'INVALID_ARGUMENTS',
  UnknownService: 'UNKNOWN_SERVICE'
} as const

/** A code from {@link ErrorCode}, or any other stable string a service defines. */
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode] | (string & {})

/**
 * The one error base class of libswarm. Recognise it with {@link isSwarmError}
 * (by `name`), not `instanceof`, which fails when two copies of core are installed.
 */
export class SwarmError extends Error {
  override readonly name: string = 'SwarmError'
  readonly code: ErrorCode

  constructor (code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.code = code
  }
}

/** True for a {@link SwarmError} from any copy of this package. */
export function isSwarmError (error: unknown): error is SwarmError {
  return error instanceof Error && typeof (error as { code?: unknown }).code === 'string' &&
    (error.name === 'SwarmError' || (error as { isSwarmError?: boolean }).isSwarmError === true)
}

/** Turns anything thrown into a {@link SwarmError}, keeping the original as `cause`. */
export function toSwarmError (error: unknown, fallback: ErrorCode = ErrorCode.Internal): SwarmError {
  if (isSwarmError(error)) return error
  if (error instanceof Error && error.name === 'AbortError') {
    return new SwarmError(ErrorCode.Aborted, error.message, { cause: error })
  }
  const message = error instanceof Error ? error.message : String(error)
  return new SwarmError(fallback, message, { cause: error })
}
