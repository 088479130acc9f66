/** Stable error codes of dockerserver, on top of core's `ErrorCode`. */
export const DockerServerErrorCode = {
  /** An address that is not `unix://PATH` or `tcp://HOST:PORT`. */
  BadAddress: 'BAD_ADDRESS',
  /** Another process listens on the address. */
  AddressInUse: 'ADDRESS_IN_USE',
  /** Plain TCP on a host other than loopback, without `--allow-insecure-tcp`. */
  InsecureTcp: 'INSECURE_TCP'
} as const
