import type { MesosTaskInfo, MesosTaskStatus, TaskState } from './mesos-types.js'
import type { TaskSpec } from './task-spec.js'

/** Where a container is in its life, as the framework sees it. */
export type Phase = 'created' | 'waiting-offer' | 'launching' | 'running' | 'exited' | 'lost'

/** One container of the framework: a Mesos task once launched. */
export interface ContainerRecord {
  /** The id `docker create` answered (64 hex), also the Mesos task id's prefix. */
  readonly id: string
  name: string
  readonly created: number
  readonly spec: TaskSpec
  /** The create body as the client sent it, for inspect before the task runs. */
  readonly body: Record<string, unknown>
  phase: Phase
  /** The current Mesos task id (`<id>.<launch>`): a restarted container is a new task. */
  taskId?: string
  launches: number
  task?: MesosTaskInfo
  agentId?: string
  hostname?: string
  /** The container's id on its agent's engine. */
  agentContainerId?: string
  state?: TaskState
  lastStatus?: MesosTaskStatus
  exitCode: number
  startedAt?: string
  finishedAt?: string
  error?: string
}

/** The Docker state a task's phase shows as. */
export function dockerState (record: ContainerRecord): string {
  switch (record.phase) {
    case 'running': return 'running'
    case 'exited': return 'exited'
    case 'lost': return 'dead'
    default: return 'created'
  }
}

function ago (iso: string | undefined): string {
  if (iso === undefined) return ''
  const seconds = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000))
  if (seconds < 1) return 'Less than a second'
  if (seconds < 60) return `${seconds} seconds`
  const minutes = Math.round(seconds / 60)
  if (minutes < 60) return minutes === 1 ? 'About a minute' : `${minutes} minutes`
  const hours = Math.round(minutes / 60)
  return hours === 1 ? 'About an hour' : `${hours} hours`
}

/** The Status column of `docker ps`. */
export function statusText (record: ContainerRecord): string {
  switch (record.phase) {
    case 'running': return `Up ${ago(record.startedAt)}`
    case 'exited': return `Exited (${record.exitCode}) ${ago(record.finishedAt)} ago`
    case 'lost': return `Dead (${record.state ?? 'TASK_LOST'}: ${record.error ?? 'lost'})`
    case 'waiting-offer': return 'Created (waiting for a Mesos offer)'
    case 'launching': return `Created (${record.state ?? 'launching'} on ${record.hostname ?? 'an agent'})`
    default: return 'Created'
  }
}

function commandText (record: ContainerRecord): string {
  const command = record.spec.command
  return [command.value, ...(command.arguments ?? [])].filter((part) => part !== undefined).join(' ')
}

function ports (record: ContainerRecord): Array<Record<string, unknown>> {
  return (record.task?.container?.docker?.port_mappings ?? []).map((mapping) => ({ IP: '0.0.0.0', PrivatePort: mapping.container_port, PublicPort: mapping.host_port, Type: mapping.protocol ?? 'tcp' }))
}

function labels (record: ContainerRecord): Record<string, string> {
  const result: Record<string, string> = {}
  for (const { key, value } of record.spec.container.docker?.parameters ?? []) {
    if (key !== 'label') continue
    const at = value.indexOf('=')
    result[at < 0 ? value : value.slice(0, at)] = at < 0 ? '' : value.slice(at + 1)
  }
  if (record.hostname !== undefined) result['com.docker.swarm.node'] = record.hostname
  if (record.taskId !== undefined) result['libswarm.mesos.task-id'] = record.taskId
  if (record.state !== undefined) result['libswarm.mesos.state'] = record.state
  return result
}

/** A row of `docker ps`, from the framework's own state. */
export function listRow (record: ContainerRecord): Record<string, unknown> {
  return {
    Id: record.id,
    Names: [`/${record.name}`],
    Image: record.spec.image,
    ImageID: '',
    Command: commandText(record),
    Created: Math.floor(record.created / 1000),
    Ports: ports(record),
    Labels: labels(record),
    State: dockerState(record),
    Status: statusText(record),
    HostConfig: { NetworkMode: record.spec.container.docker?.network?.toLowerCase() ?? 'bridge' },
    NetworkSettings: { Networks: {} },
    Mounts: []
  }
}

/** `docker inspect` of a container not (or no longer) running on a reachable agent. */
export function syntheticInspect (record: ContainerRecord): Record<string, unknown> {
  const state = dockerState(record)
  const body = record.body as { HostConfig?: unknown }
  return {
    Id: record.id,
    Created: new Date(record.created).toISOString(),
    Path: record.spec.command.value ?? '',
    Args: record.spec.command.arguments ?? [],
    State: {
      Status: state,
      Running: state === 'running',
      Paused: false,
      Restarting: false,
      OOMKilled: false,
      Dead: state === 'dead',
      Pid: 0,
      ExitCode: record.exitCode,
      Error: record.error ?? '',
      StartedAt: record.startedAt ?? '0001-01-01T00:00:00Z',
      FinishedAt: record.finishedAt ?? '0001-01-01T00:00:00Z'
    },
    Image: record.spec.image,
    Name: `/${record.name}`,
    RestartCount: 0,
    Driver: '',
    Platform: 'linux',
    HostConfig: body.HostConfig ?? {},
    Config: { ...record.body, Labels: labels(record) },
    NetworkSettings: { Ports: {}, Networks: {} },
    Mounts: [],
    Node: record.hostname === undefined ? undefined : { Name: record.hostname, ID: record.agentId ?? '' }
  }
}
