import { ErrorCode, SwarmError } from '@libswarm/core'

/**
 * An error from an OpenStack API (Identity, Compute) or from the rackspace service. `code`
 * is a core {@link ErrorCode} (`UNAUTHORIZED`, `NOT_FOUND`, `LIMIT_EXCEEDED`, `UNAVAILABLE`, ...);
 * `status` is the HTTP status the cloud answered, when there was one.
 */
export class OpenStackError extends SwarmError {
  override readonly name = 'SwarmError'
  readonly status: number | undefined

  constructor (code: ErrorCode, message: string, options: { status?: number, cause?: unknown } = {}) {
    super(code, message, { cause: options.cause })
    this.status = options.status
  }
}

/** The core code for an HTTP status of an OpenStack API. */
export function codeForStatus (status: number): ErrorCode {
  switch (status) {
    case 400: return ErrorCode.BadRequest
    case 401: return ErrorCode.Unauthorized
    case 403: return ErrorCode.Forbidden
    case 404: return ErrorCode.NotFound
    case 409: return ErrorCode.Conflict
    case 413: case 429: return ErrorCode.LimitExceeded
    default: return status >= 500 ? ErrorCode.Unavailable : ErrorCode.BadRequest
  }
}

/** `INVALID_ARGUMENTS` with the service's name in front. */
export function invalidArguments (message: string): OpenStackError {
  return new OpenStackError(ErrorCode.InvalidArguments, `rackspace: ${message}`)
}
