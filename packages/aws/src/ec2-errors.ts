import { ErrorCode, SwarmError, isSwarmError } from '@libswarm/core'

/** EC2 error codes and what they mean for the user, by the SwarmError code they become. */
const CODES: ReadonlyArray<[RegExp, ErrorCode, string?]> = [
  [/^(AuthFailure|SignatureDoesNotMatch|InvalidClientTokenId|UnrecognizedClientException|IncompleteSignature|ExpiredToken|RequestExpired)$/, ErrorCode.Unauthorized, 'check the credentials (environment, ~/.aws/credentials, --profile) and --region'],
  [/^(UnauthorizedOperation|Blocked|OptInRequired)$/, ErrorCode.Forbidden],
  [/^(InvalidAMIID\.|InvalidParameterValue|InvalidParameterCombination|InvalidParameter|InvalidSubnetID\.|InvalidGroup\.|InvalidGroupId\.|InvalidKeyPair\.|InvalidInstanceType|Unsupported|InvalidAvailabilityZone|MissingParameter|InvalidRequest)/, ErrorCode.InvalidArguments],
  [/^(InsufficientInstanceCapacity|InsufficientCapacity|InsufficientHostCapacity|InsufficientReservedInstanceCapacity|SpotMaxPriceTooLow|MaxSpotInstanceCountExceeded)$/, ErrorCode.Unavailable, 'the zone has no capacity for this instance type now: try another --zone or --instance-type'],
  [/^(InstanceLimitExceeded|VcpuLimitExceeded|ResourceLimitExceeded)$/, ErrorCode.LimitExceeded, 'the account\'s limit is reached'],
  [/^(RequestLimitExceeded|Throttling|ThrottlingException|ServiceUnavailable|Unavailable|InternalError|InternalFailure)$/, ErrorCode.Unavailable, 'EC2 kept refusing after the SDK\'s retries']
]

/**
 * Turns what the SDK throws into a SwarmError with a stable code and one clear line:
 * `aws: RunInstances: InvalidAMIID.NotFound: The image id '[ami-x]' does not exist`.
 */
export function ec2Error (operation: string, error: unknown): SwarmError {
  if (isSwarmError(error)) return error
  const caught = error as { name?: string, Code?: string, message?: string, code?: string, $metadata?: { httpStatusCode?: number } }
  const name = caught.Code ?? caught.name ?? 'Error'
  const message = caught.message ?? String(error)
  if (name === 'CredentialsProviderError' || /Could not load credentials/i.test(message)) {
    return new SwarmError(ErrorCode.Unauthorized, `aws: no AWS credentials found (environment AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, ~/.aws/credentials or config, --profile, SSO): ${message}`, { cause: error })
  }
  if (/Region is missing/i.test(message)) {
    return new SwarmError(ErrorCode.InvalidArguments, 'aws: no region: pass --region, or set AWS_REGION or a region in ~/.aws/config', { cause: error })
  }
  if (caught.code === 'ENOTFOUND' || caught.code === 'EAI_AGAIN' || /getaddrinfo/.test(message)) {
    return new SwarmError(ErrorCode.Unavailable, `aws: ${operation}: cannot resolve the EC2 endpoint (${message}); is --region a real region?`, { cause: error })
  }
  if (caught.code === 'ECONNREFUSED' || caught.code === 'ECONNRESET' || caught.code === 'ETIMEDOUT') {
    return new SwarmError(ErrorCode.Unavailable, `aws: ${operation}: cannot reach the EC2 endpoint: ${message}`, { cause: error })
  }
  if (name === 'AbortError') return new SwarmError(ErrorCode.Aborted, `aws: ${operation} aborted`, { cause: error })
  for (const [pattern, code, hint] of CODES) {
    if (pattern.test(name)) return new SwarmError(code, `aws: ${operation}: ${name}: ${message}${hint === undefined ? '' : ` (${hint})`}`, { cause: error })
  }
  return new SwarmError(ErrorCode.Internal, `aws: ${operation}: ${name}: ${message}`, { cause: error })
}
