/**
 * The parts of Mesos' v1 protobuf messages this framework reads and writes, in their JSON
 * mapping (field names as in `mesos.proto` and `scheduler/scheduler.proto`, enums as their
 * names, `bytes` as base64). Only what is used is declared; everything is optional as the
 * mapping leaves out unset fields.
 */

/** `{ value }`: FrameworkID, AgentID, OfferID, TaskID, ExecutorID. */
export interface MesosId { value: string }

/** Value.Scalar, Value.Ranges, Value.Set, Value.Text. */
export interface MesosRange { begin: number, end: number }

/** A Resource: `cpus`, `mem` (MB), `disk`, `ports` (ranges). */
export interface MesosResource {
  name: string
  type: 'SCALAR' | 'RANGES' | 'SET' | 'TEXT'
  scalar?: { value: number }
  ranges?: { range?: MesosRange[] }
  set?: { item?: string[] }
  role?: string
  allocation_info?: { role?: string }
}

/** An agent's Attribute: text, scalar, ranges or set. */
export interface MesosAttribute {
  name: string
  type: 'SCALAR' | 'RANGES' | 'SET' | 'TEXT'
  scalar?: { value: number }
  ranges?: { range?: MesosRange[] }
  set?: { item?: string[] }
  text?: { value: string }
}

/** An Offer: the resources of one agent. */
export interface MesosOffer {
  id: MesosId
  framework_id: MesosId
  agent_id: MesosId
  hostname: string
  resources?: MesosResource[]
  attributes?: MesosAttribute[]
}

/** Mesos' TaskState names. */
export type TaskState =
  | 'TASK_STAGING' | 'TASK_STARTING' | 'TASK_RUNNING' | 'TASK_KILLING' | 'TASK_FINISHED' | 'TASK_FAILED' | 'TASK_KILLED'
  | 'TASK_ERROR' | 'TASK_LOST' | 'TASK_DROPPED' | 'TASK_UNREACHABLE' | 'TASK_GONE' | 'TASK_GONE_BY_OPERATOR' | 'TASK_UNKNOWN'

/** States after which a task never runs again. */
export const TERMINAL_STATES: ReadonlySet<TaskState> = new Set<TaskState>([
  'TASK_FINISHED', 'TASK_FAILED', 'TASK_KILLED', 'TASK_ERROR', 'TASK_LOST', 'TASK_DROPPED', 'TASK_GONE', 'TASK_GONE_BY_OPERATOR'
])

/** A TaskStatus, as an UPDATE event carries it. */
export interface MesosTaskStatus {
  task_id: MesosId
  state: TaskState
  message?: string
  source?: 'SOURCE_MASTER' | 'SOURCE_AGENT' | 'SOURCE_EXECUTOR'
  reason?: string
  /** base64; for a Docker task's TASK_RUNNING, the agent's `docker inspect` JSON. */
  data?: string
  agent_id?: MesosId
  timestamp?: number
  /** base64; present when the update must be acknowledged. */
  uuid?: string
  container_status?: { container_id?: MesosId }
}

/** Label / Labels. */
export interface MesosLabels { labels?: Array<{ key: string, value?: string }> }

/** ContainerInfo of type DOCKER. */
export interface MesosContainerInfo {
  type: 'DOCKER' | 'MESOS'
  volumes?: Array<{ container_path: string, host_path?: string, mode: 'RW' | 'RO' }>
  hostname?: string
  docker?: {
    image: string
    network?: 'HOST' | 'BRIDGE' | 'NONE' | 'USER'
    port_mappings?: Array<{ host_port: number, container_port: number, protocol?: string }>
    privileged?: boolean
    parameters?: Array<{ key: string, value: string }>
    force_pull_image?: boolean
  }
  network_infos?: Array<{ name?: string }>
}

/** CommandInfo (with `shell: false`, `value` is the program and `arguments` its argv). */
export interface MesosCommandInfo {
  shell?: boolean
  value?: string
  arguments?: string[]
  environment?: { variables?: Array<{ name: string, value?: string }> }
  user?: string
}

/** A TaskInfo to LAUNCH. */
export interface MesosTaskInfo {
  name: string
  task_id: MesosId
  agent_id: MesosId
  resources: MesosResource[]
  command?: MesosCommandInfo
  container?: MesosContainerInfo
  labels?: MesosLabels
}

/** FrameworkInfo. */
export interface MesosFrameworkInfo {
  user: string
  name: string
  id?: MesosId
  failover_timeout?: number
  checkpoint?: boolean
  roles?: string[]
  hostname?: string
  principal?: string
  capabilities?: Array<{ type: string }>
}

/** A scheduler Call. */
export interface MesosCall {
  type: 'SUBSCRIBE' | 'TEARDOWN' | 'ACCEPT' | 'DECLINE' | 'REVIVE' | 'KILL' | 'SHUTDOWN' | 'ACKNOWLEDGE' | 'RECONCILE' | 'MESSAGE' | 'REQUEST' | 'SUPPRESS'
  framework_id?: MesosId
  subscribe?: { framework_info: MesosFrameworkInfo }
  accept?: { offer_ids: MesosId[], operations: Array<{ type: 'LAUNCH', launch: { task_infos: MesosTaskInfo[] } }>, filters?: { refuse_seconds?: number } }
  decline?: { offer_ids: MesosId[], filters?: { refuse_seconds?: number } }
  revive?: { roles?: string[] }
  suppress?: { roles?: string[] }
  kill?: { task_id: MesosId, agent_id?: MesosId }
  acknowledge?: { agent_id: MesosId, task_id: MesosId, uuid: string }
  reconcile?: { tasks: Array<{ task_id: MesosId, agent_id?: MesosId }> }
}

/** A scheduler Event. */
export interface MesosEvent {
  type: 'SUBSCRIBED' | 'OFFERS' | 'INVERSE_OFFERS' | 'RESCIND' | 'RESCIND_INVERSE_OFFER' | 'UPDATE' | 'UPDATE_OPERATION_STATUS' | 'MESSAGE' | 'FAILURE' | 'ERROR' | 'HEARTBEAT' | 'UNKNOWN'
  subscribed?: { framework_id: MesosId, heartbeat_interval_seconds?: number }
  offers?: { offers?: MesosOffer[] }
  rescind?: { offer_id: MesosId }
  update?: { status: MesosTaskStatus }
  failure?: { agent_id?: MesosId, executor_id?: MesosId, status?: number }
  error?: { message: string }
}

/** A scalar resource of an offer or task, 0 when absent. */
export function scalarResource (resources: readonly MesosResource[] | undefined, name: string): number {
  let total = 0
  for (const resource of resources ?? []) if (resource.name === name && resource.scalar !== undefined) total += resource.scalar.value
  return total
}

/** The port ranges of an offer. */
export function portRanges (resources: readonly MesosResource[] | undefined): MesosRange[] {
  return (resources ?? []).filter((resource) => resource.name === 'ports').flatMap((resource) => resource.ranges?.range ?? [])
}

/** An attribute's value as text (a scalar as its number, a set or ranges joined with commas). */
export function attributeText (attribute: MesosAttribute): string {
  if (attribute.text !== undefined) return attribute.text.value
  if (attribute.scalar !== undefined) return String(attribute.scalar.value)
  if (attribute.set !== undefined) return (attribute.set.item ?? []).join(',')
  if (attribute.ranges !== undefined) return (attribute.ranges.range ?? []).map((range) => `[${range.begin}-${range.end}]`).join(',')
  return ''
}
