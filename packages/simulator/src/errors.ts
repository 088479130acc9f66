import { ErrorCode, SwarmError } from '@libswarm/core'

/**
 * The errors a simulated engine answers, with dockerd 20.10's texts (API 1.41) and the
 * codes whose HTTP statuses match dockerd's: clients compare these texts.
 */
export const engineErrors = {
  noSuchContainer: (name: string) => new SwarmError(ErrorCode.NotFound, `No such container: ${name}`),
  noSuchImage: (name: string) => new SwarmError(ErrorCode.NotFound, `No such image: ${name}`),
  noSuchExec: (id: string) => new SwarmError(ErrorCode.NotFound, `No such exec instance: ${id}`),
  noSuchNetwork: (name: string) => new SwarmError(ErrorCode.NotFound, `network ${name} not found`),
  noSuchPlugin: (name: string) => new SwarmError(ErrorCode.NotFound, `plugin "${name}" not found`),
  noSuchVolume: (name: string) => new SwarmError(ErrorCode.NotFound, `get ${name}: no such volume`),
  ambiguousPrefix: (prefix: string) => new SwarmError(ErrorCode.Internal, `multiple IDs found with provided prefix: ${prefix}`),
  nameInUse: (name: string, id: string) => new SwarmError(ErrorCode.Conflict,
    `Conflict. The container name "/${name}" is already in use by container "${id}". You have to remove (or rename) that container to be able to reuse that name.`),
  invalidName: (name: string) => new SwarmError(ErrorCode.BadRequest, `Invalid container name (${name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed`),
  removeRunning: (id: string) => new SwarmError(ErrorCode.Conflict,
    `You cannot remove a running container ${id}. Stop the container before attempting removal or force remove`),
  removePaused: (id: string) => new SwarmError(ErrorCode.Conflict,
    `You cannot remove a paused container ${id}. Unpause and then stop the container before attempting removal or force remove`),
  notRunning: (id: string) => new SwarmError(ErrorCode.Conflict, `Container ${id} is not running`),
  alreadyPaused: (id: string) => new SwarmError(ErrorCode.Conflict, `Container ${id} is already paused`),
  notPaused: (id: string) => new SwarmError(ErrorCode.Conflict, `Container ${id} is not paused`),
  paused: (id: string) => new SwarmError(ErrorCode.Conflict, `Container ${id} is paused, unpause the container before exec`),
  startPaused: () => new SwarmError(ErrorCode.Conflict, 'cannot start a paused container, try unpause instead'),
  killNotRunning: (id: string) => new SwarmError(ErrorCode.Conflict, `Cannot kill container: ${id}: Container ${id} is not running`),
  internal: (text: string) => new SwarmError(ErrorCode.Internal, text),
  badRequest: (text: string) => new SwarmError(ErrorCode.BadRequest, text),
  conflict: (text: string) => new SwarmError(ErrorCode.Conflict, text),
  forbidden: (text: string) => new SwarmError(ErrorCode.Forbidden, text),
  notImplemented: (what: string) => new SwarmError(ErrorCode.NotImplemented, `the simulator does not implement ${what}`),
  notSwarmManager: () => new SwarmError(ErrorCode.Unavailable,
    'This node is not a swarm manager. Use "docker swarm init" or "docker swarm join" to connect this node to swarm and try again.'),
  simulatedFailure: (operation: string) => new SwarmError(ErrorCode.Internal, `simulated failure of ${operation}`)
}
