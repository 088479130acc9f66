/** Stable error codes of serve, on top of core's `ErrorCode`. */
export const ServeErrorCode = {
  /** Plain TCP on a host other than loopback, without `--allow-insecure-tcp` (as dockerserver's). */
  InsecureTcp: 'INSECURE_TCP'
} as const
