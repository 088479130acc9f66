/**
 * libswarm's verbs. The verb set is the whole interface: every service understands
 * these and nothing else; what a verb means for a given resource is a convention of
 * the vocabulary spoken on top (for Docker, see `@libswarm/docker-api`).
 */
export const Verb = {
  Ack: 'Ack',
  Attach: 'Attach',
  Connect: 'Connect',
  Error: 'Error',
  File: 'File',
  Get: 'Get',
  Log: 'Log',
  Ls: 'Ls',
  Set: 'Set',
  Spawn: 'Spawn',
  Start: 'Start',
  Stop: 'Stop',
  Watch: 'Watch'
} as const

/** One of libswarm's verbs. */
export type Verb = (typeof Verb)[keyof typeof Verb]

/** Every verb, in a stable order (the wire encodes a verb as its index here). */
export const VERBS: readonly Verb[] = [
  'Ack', 'Attach', 'Connect', 'Error', 'File', 'Get', 'Log', 'Ls', 'Set', 'Spawn', 'Start', 'Stop', 'Watch'
]

const verbSet = new Set<string>(VERBS)

/** True when `value` names a libswarm verb. */
export function isVerb (value: unknown): value is Verb {
  return typeof value === 'string' && verbSet.has(value)
}
