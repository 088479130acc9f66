import { ErrorCode, SwarmError, request, type Sender } from '@libswarm/core'
import { decodeDockerReply, encodeDockerRequest, parseFilters, replyJson, type DockerQuery } from '@libswarm/docker-api'

type JsonObject = Record<string, unknown>
const object = (value: unknown): JsonObject => typeof value === 'object' && value !== null && !Array.isArray(value) ? value as JsonObject : {}

/** The engine's own words for a missing object, so another client's looks the same as none. */
export const notFound = {
  container: (name: string) => new SwarmError(ErrorCode.NotFound, `No such container: ${name}`),
  network: (name: string) => new SwarmError(ErrorCode.NotFound, `network ${name} not found`),
  volume: (name: string) => new SwarmError(ErrorCode.NotFound, `get ${name}: no such volume`),
  exec: (id: string) => new SwarmError(ErrorCode.NotFound, `No such exec instance: ${id}`)
}

/** The owner label's value on an inspected container (`Config.Labels`) or network/volume (`Labels`). */
export function ownerOf (inspected: unknown, label: string): string | undefined {
  const record = object(inspected)
  const labels = object(record.Config ?? record).Labels
  const value = object(labels)[label]
  return typeof value === 'string' ? value : undefined
}

/** `filters` with `label=OWNER_LABEL=owner` added to whatever the client asked, as the engine ANDs label filters. */
export function withOwnerFilter (query: DockerQuery | undefined, label: string, owner: string): DockerQuery {
  const filters = parseFilters(query)
  filters.label = [...(filters.label ?? []), `${label}=${owner}`]
  return { ...query, filters: JSON.stringify(filters) }
}

/**
 * Looks objects up through the rest of the chain and answers whether the owner has them. A
 * found object comes back by its full id (name for volumes), so the request that follows acts on
 * exactly the object checked, whatever the name or id prefix it used.
 */
export class OwnershipLookup {
  /** Exec ids created through this policy, with their owner: ExecStart needs no lookup for them. */
  private readonly execOwners = new Map<string, string>()

  constructor (private readonly next: Sender, private readonly label: string, private readonly maxExecs = 10_000) {}

  private async inspect (operation: string, target: string, signal: AbortSignal | undefined): Promise<unknown> {
    const message = encodeDockerRequest({ operation, target })
    const reply = decodeDockerReply(await request(this.next, message.verb, message.args, { signal }))
    if (reply.status >= 300) throw new SwarmError(reply.status === 404 ? ErrorCode.NotFound : ErrorCode.Internal, reply.body ?? `status ${reply.status}`)
    return replyJson(reply)
  }

  /** The container's full id when the owner has it; NOT_FOUND in the engine's words otherwise. */
  async container (name: string, owner: string, signal?: AbortSignal): Promise<string> {
    const inspected = await this.inspect('ContainerInspect', name, signal)
    if (ownerOf(inspected, this.label) !== owner) throw notFound.container(name)
    return String(object(inspected).Id)
  }

  async network (name: string, owner: string, signal?: AbortSignal): Promise<string> {
    const inspected = await this.inspect('NetworkInspect', name, signal)
    if (ownerOf(inspected, this.label) !== owner) throw notFound.network(name)
    return String(object(inspected).Id)
  }

  async volume (name: string, owner: string, signal?: AbortSignal): Promise<string> {
    const inspected = await this.inspect('VolumeInspect', name, signal)
    if (ownerOf(inspected, this.label) !== owner) throw notFound.volume(name)
    return String(object(inspected).Name)
  }

  /**
   * A volume a create mounts by name: the owner's, or a new one made now with the owner label (the
   * engine would make it unlabelled, and nobody could use it again). Another client's: refused.
   */
  async volumeForMount (name: string, owner: string, signal?: AbortSignal): Promise<void> {
    let inspected: unknown
    try {
      inspected = await this.inspect('VolumeInspect', name, signal)
    } catch (error) {
      if ((error as SwarmError).code !== ErrorCode.NotFound) throw error
      const message = encodeDockerRequest({ operation: 'VolumeCreate', target: '', body: { Name: name, Labels: { [this.label]: owner } } })
      decodeDockerReply(await request(this.next, message.verb, message.args, { signal }))
      return
    }
    if (ownerOf(inspected, this.label) !== owner) throw new SwarmError(ErrorCode.Forbidden, `policy: volume ${name} belongs to another client`)
  }

  /** Remembers an exec created through the policy. */
  rememberExec (id: string, owner: string): void {
    if (this.execOwners.size >= this.maxExecs) this.execOwners.delete(this.execOwners.keys().next().value as string)
    this.execOwners.set(id, owner)
  }

  /** An exec session's id when it runs in one of the owner's containers. */
  async exec (id: string, owner: string, signal?: AbortSignal): Promise<string> {
    if (this.execOwners.get(id) === owner) return id
    let inspected: unknown
    try {
      inspected = await this.inspect('ExecInspect', id, signal)
    } catch (error) {
      if ((error as SwarmError).code === ErrorCode.NotFound) throw notFound.exec(id)
      throw error
    }
    const container = String(object(inspected).ContainerID ?? '')
    try {
      await this.container(container, owner, signal)
    } catch (error) {
      if ((error as SwarmError).code === ErrorCode.NotFound) throw notFound.exec(id)
      throw error
    }
    return String(object(inspected).ID ?? id)
  }
}
