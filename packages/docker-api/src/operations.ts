import type { Verb } from '@libswarm/core'

/** How a request carries its body. */
export type RequestBodyKind = 'none' | 'json' | 'stream'
/**
 * How the engine answers: `json` (a JSON body, possibly empty), `stream` (a byte
 * stream: logs, events, tar, progress), `hijack` (the HTTP connection becomes a raw
 * bidirectional stream: attach, exec start, BuildKit session).
 */
export type ResponseKind = 'json' | 'stream' | 'hijack'

/** One operation of the Docker Engine API. */
export interface DockerOperationSpec {
  /** The Engine API's operationId (moby's swagger.yaml), or `Unmapped` for anything else. */
  readonly operation: string
  readonly method: 'GET' | 'HEAD' | 'POST' | 'PUT' | 'DELETE'
  /**
   * The path template; `{name}` matches one segment, `{name*}` several, slashes included, as
   * dockerd's `{name:.*}` routes do: image names (`localhost:5000/a/b`), and container,
   * network and volume references that name their node (`node-0/web`) in front of aggregate.
   */
  readonly path: string
  readonly verb: Verb
  readonly body: RequestBodyKind
  readonly response: ResponseKind
}

type Row = [string, DockerOperationSpec['method'], string, Verb, RequestBodyKind?, ResponseKind?]

/*
 * The mapping of the Engine API onto libswarm's verbs. Listing: Ls. Inspecting and
 * reading: Get. Creating: Spawn. Starting or resuming: Start. Stopping, killing,
 * pausing, removing, pruning: Stop. Changing: Set. Logs: Log. Event and stat streams,
 * waiting: Watch. Interactive streams: Attach. Tar and image transfers: File.
 * Joining something else (networks, registries, swarms, sessions): Connect.
 */
const rows: Row[] = [
  // system
  ['SystemPing', 'GET', '/_ping', 'Get'],
  ['SystemPingHead', 'HEAD', '/_ping', 'Get'],
  ['SystemInfo', 'GET', '/info', 'Get'],
  ['SystemVersion', 'GET', '/version', 'Get'],
  ['SystemEvents', 'GET', '/events', 'Watch', 'none', 'stream'],
  ['SystemDataUsage', 'GET', '/system/df', 'Get'],
  ['SystemAuth', 'POST', '/auth', 'Set', 'json'],
  // containers
  ['ContainerList', 'GET', '/containers/json', 'Ls'],
  ['ContainerCreate', 'POST', '/containers/create', 'Spawn', 'json'],
  ['ContainerPrune', 'POST', '/containers/prune', 'Stop'],
  ['ContainerInspect', 'GET', '/containers/{id*}/json', 'Get'],
  ['ContainerTop', 'GET', '/containers/{id*}/top', 'Get'],
  ['ContainerLogs', 'GET', '/containers/{id*}/logs', 'Log', 'none', 'stream'],
  ['ContainerChanges', 'GET', '/containers/{id*}/changes', 'Get'],
  ['ContainerExport', 'GET', '/containers/{id*}/export', 'File', 'none', 'stream'],
  ['ContainerStats', 'GET', '/containers/{id*}/stats', 'Watch', 'none', 'stream'],
  ['ContainerResize', 'POST', '/containers/{id*}/resize', 'Set'],
  ['ContainerStart', 'POST', '/containers/{id*}/start', 'Start'],
  ['ContainerStop', 'POST', '/containers/{id*}/stop', 'Stop'],
  ['ContainerRestart', 'POST', '/containers/{id*}/restart', 'Start'],
  ['ContainerKill', 'POST', '/containers/{id*}/kill', 'Stop'],
  ['ContainerUpdate', 'POST', '/containers/{id*}/update', 'Set', 'json'],
  ['ContainerRename', 'POST', '/containers/{id*}/rename', 'Set'],
  ['ContainerPause', 'POST', '/containers/{id*}/pause', 'Stop'],
  ['ContainerUnpause', 'POST', '/containers/{id*}/unpause', 'Start'],
  ['ContainerAttach', 'POST', '/containers/{id*}/attach', 'Attach', 'stream', 'hijack'],
  ['ContainerAttachWebsocket', 'GET', '/containers/{id*}/attach/ws', 'Attach', 'stream', 'hijack'],
  ['ContainerWait', 'POST', '/containers/{id*}/wait', 'Watch', 'none', 'stream'],
  ['ContainerDelete', 'DELETE', '/containers/{id*}', 'Stop'],
  ['ContainerArchiveInfo', 'HEAD', '/containers/{id*}/archive', 'Get'],
  ['ContainerArchive', 'GET', '/containers/{id*}/archive', 'File', 'none', 'stream'],
  ['PutContainerArchive', 'PUT', '/containers/{id*}/archive', 'File', 'stream'],
  ['ContainerExec', 'POST', '/containers/{id*}/exec', 'Spawn', 'json'],
  // exec
  ['ExecStart', 'POST', '/exec/{id*}/start', 'Attach', 'stream', 'hijack'],
  ['ExecResize', 'POST', '/exec/{id*}/resize', 'Set'],
  ['ExecInspect', 'GET', '/exec/{id*}/json', 'Get'],
  // images
  ['ImageList', 'GET', '/images/json', 'Ls'],
  ['ImageBuild', 'POST', '/build', 'Spawn', 'stream', 'stream'],
  ['BuildPrune', 'POST', '/build/prune', 'Stop'],
  ['ImageCreate', 'POST', '/images/create', 'Spawn', 'stream', 'stream'],
  ['ImageSearch', 'GET', '/images/search', 'Ls'],
  ['ImagePrune', 'POST', '/images/prune', 'Stop'],
  ['ImageGetAll', 'GET', '/images/get', 'File', 'none', 'stream'],
  ['ImageLoad', 'POST', '/images/load', 'File', 'stream', 'stream'],
  ['ImageInspect', 'GET', '/images/{name*}/json', 'Get'],
  ['ImageHistory', 'GET', '/images/{name*}/history', 'Get'],
  ['ImagePush', 'POST', '/images/{name*}/push', 'Connect', 'none', 'stream'],
  ['ImageTag', 'POST', '/images/{name*}/tag', 'Set'],
  ['ImageGet', 'GET', '/images/{name*}/get', 'File', 'none', 'stream'],
  ['ImageDelete', 'DELETE', '/images/{name*}', 'Stop'],
  ['ImageCommit', 'POST', '/commit', 'Spawn', 'json'],
  ['DistributionInspect', 'GET', '/distribution/{name*}/json', 'Get'],
  // networks
  ['NetworkList', 'GET', '/networks', 'Ls'],
  ['NetworkCreate', 'POST', '/networks/create', 'Spawn', 'json'],
  ['NetworkPrune', 'POST', '/networks/prune', 'Stop'],
  ['NetworkInspect', 'GET', '/networks/{id*}', 'Get'],
  ['NetworkDelete', 'DELETE', '/networks/{id*}', 'Stop'],
  ['NetworkConnect', 'POST', '/networks/{id*}/connect', 'Connect', 'json'],
  ['NetworkDisconnect', 'POST', '/networks/{id*}/disconnect', 'Connect', 'json'],
  // volumes
  ['VolumeList', 'GET', '/volumes', 'Ls'],
  ['VolumeCreate', 'POST', '/volumes/create', 'Spawn', 'json'],
  ['VolumePrune', 'POST', '/volumes/prune', 'Stop'],
  ['VolumeInspect', 'GET', '/volumes/{name*}', 'Get'],
  ['VolumeUpdate', 'PUT', '/volumes/{name*}', 'Set', 'json'],
  ['VolumeDelete', 'DELETE', '/volumes/{name*}', 'Stop'],
  // swarm
  ['SwarmInspect', 'GET', '/swarm', 'Get'],
  ['SwarmInit', 'POST', '/swarm/init', 'Spawn', 'json'],
  ['SwarmJoin', 'POST', '/swarm/join', 'Connect', 'json'],
  ['SwarmLeave', 'POST', '/swarm/leave', 'Stop'],
  ['SwarmUpdate', 'POST', '/swarm/update', 'Set', 'json'],
  ['SwarmUnlockkey', 'GET', '/swarm/unlockkey', 'Get'],
  ['SwarmUnlock', 'POST', '/swarm/unlock', 'Set', 'json'],
  ['NodeList', 'GET', '/nodes', 'Ls'],
  ['NodeInspect', 'GET', '/nodes/{id}', 'Get'],
  ['NodeDelete', 'DELETE', '/nodes/{id}', 'Stop'],
  ['NodeUpdate', 'POST', '/nodes/{id}/update', 'Set', 'json'],
  ['ServiceList', 'GET', '/services', 'Ls'],
  ['ServiceCreate', 'POST', '/services/create', 'Spawn', 'json'],
  ['ServiceInspect', 'GET', '/services/{id}', 'Get'],
  ['ServiceDelete', 'DELETE', '/services/{id}', 'Stop'],
  ['ServiceUpdate', 'POST', '/services/{id}/update', 'Set', 'json'],
  ['ServiceLogs', 'GET', '/services/{id}/logs', 'Log', 'none', 'stream'],
  ['TaskList', 'GET', '/tasks', 'Ls'],
  ['TaskInspect', 'GET', '/tasks/{id}', 'Get'],
  ['TaskLogs', 'GET', '/tasks/{id}/logs', 'Log', 'none', 'stream'],
  ['SecretList', 'GET', '/secrets', 'Ls'],
  ['SecretCreate', 'POST', '/secrets/create', 'Spawn', 'json'],
  ['SecretInspect', 'GET', '/secrets/{id}', 'Get'],
  ['SecretDelete', 'DELETE', '/secrets/{id}', 'Stop'],
  ['SecretUpdate', 'POST', '/secrets/{id}/update', 'Set', 'json'],
  ['ConfigList', 'GET', '/configs', 'Ls'],
  ['ConfigCreate', 'POST', '/configs/create', 'Spawn', 'json'],
  ['ConfigInspect', 'GET', '/configs/{id}', 'Get'],
  ['ConfigDelete', 'DELETE', '/configs/{id}', 'Stop'],
  ['ConfigUpdate', 'POST', '/configs/{id}/update', 'Set', 'json'],
  // plugins
  ['PluginList', 'GET', '/plugins', 'Ls'],
  ['GetPluginPrivileges', 'GET', '/plugins/privileges', 'Get'],
  ['PluginPull', 'POST', '/plugins/pull', 'Spawn', 'json', 'stream'],
  ['PluginCreate', 'POST', '/plugins/create', 'File', 'stream'],
  ['PluginInspect', 'GET', '/plugins/{name*}/json', 'Get'],
  ['PluginDelete', 'DELETE', '/plugins/{name*}', 'Stop'],
  ['PluginEnable', 'POST', '/plugins/{name*}/enable', 'Start'],
  ['PluginDisable', 'POST', '/plugins/{name*}/disable', 'Stop'],
  ['PluginUpgrade', 'POST', '/plugins/{name*}/upgrade', 'Set', 'json', 'stream'],
  ['PluginPush', 'POST', '/plugins/{name*}/push', 'Connect', 'none', 'stream'],
  ['PluginSet', 'POST', '/plugins/{name*}/set', 'Set', 'json'],
  // BuildKit: both upgrade the connection and carry a byte stream each way
  ['Session', 'POST', '/session', 'Connect', 'stream', 'hijack'],
  ['Grpc', 'POST', '/grpc', 'Connect', 'stream', 'hijack']
]

/** Every operation of the Engine API that this vocabulary names, by operationId. */
export const DOCKER_OPERATIONS: ReadonlyMap<string, DockerOperationSpec> = new Map(rows.map(([operation, method, path, verb, body = 'none', response = 'json']) =>
  [operation, { operation, method, path, verb, body, response }]))

/**
 * A request the table does not name (an API newer than this table, say) still travels
 * the chain: as `Unmapped`, carrying its method and path, with the verb its method implies.
 */
export const UNMAPPED_OPERATION = 'Unmapped'

/** The verb an unmapped request travels as, by HTTP method. */
export function verbForMethod (method: string): Verb {
  switch (method.toUpperCase()) {
    case 'GET': case 'HEAD': return 'Get'
    case 'DELETE': return 'Stop'
    default: return 'Set'
  }
}
