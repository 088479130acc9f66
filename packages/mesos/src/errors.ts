import { ErrorCode, SwarmError } from '@libswarm/core'

/** The codes mesos' errors carry, on top of core's. */
export const MesosErrorCode = {
  /** No offer fitted the container within the offer timeout. */
  NoFittingOffer: 'MESOS_NO_FITTING_OFFER',
  /** The master refused a call or broke the protocol. */
  Master: 'MESOS_MASTER',
  /** The task failed, was lost or was dropped before it ran. */
  TaskFailed: 'MESOS_TASK_FAILED'
} as const

/** A malformed RecordIO stream or event from the master. */
export function protocolError (text: string): SwarmError {
  return new SwarmError(ErrorCode.Protocol, `mesos: ${text}`)
}

/** Bad service arguments. */
export function invalidArguments (text: string, usage: string): SwarmError {
  return new SwarmError(ErrorCode.InvalidArguments, `mesos: ${text}; usage: ${usage}`)
}
