import { DOCKER_OPERATIONS, UNMAPPED_OPERATION } from '@libswarm/docker-api'

const ops = (text: string): string[] => text.trim().split(/\s+/)

const CONTAINERS_READ = ops(`ContainerList ContainerInspect ContainerTop ContainerLogs ContainerChanges ContainerExport
  ContainerStats ContainerWait ContainerArchiveInfo ContainerArchive`)
const CONTAINERS_WRITE = ops(`ContainerCreate ContainerPrune ContainerResize ContainerStart ContainerStop ContainerRestart
  ContainerKill ContainerUpdate ContainerRename ContainerPause ContainerUnpause ContainerAttach ContainerAttachWebsocket
  ContainerDelete PutContainerArchive`)
const IMAGES_READ = ops('ImageList ImageInspect ImageHistory ImageSearch DistributionInspect ImageGet ImageGetAll')
const IMAGES_WRITE = ops('ImageTag ImageDelete ImagePrune ImageCommit ImageLoad ImagePush')
const NETWORKS_READ = ops('NetworkList NetworkInspect')
const NETWORKS_WRITE = ops('NetworkCreate NetworkPrune NetworkDelete NetworkConnect NetworkDisconnect')
const VOLUMES_READ = ops('VolumeList VolumeInspect')
const VOLUMES_WRITE = ops('VolumeCreate VolumePrune VolumeUpdate VolumeDelete')
const SYSTEM_READ = ops('SystemPing SystemPingHead SystemInfo SystemVersion SystemEvents SystemDataUsage')

const swarmOperations = [...DOCKER_OPERATIONS.keys()].filter((name) => /^(Swarm|Node|Service|Task|Secret|Config)/.test(name))
const pluginOperations = [...DOCKER_OPERATIONS.keys()].filter((name) => /^(Plugin|GetPluginPrivileges)/.test(name))

/**
 * The operation groups a rule may name, each a list of docker-api operation names. `*` is every
 * operation of the table; `Unmapped` (a request the table does not know) is in no group and must
 * be named on its own. `build:buildkit` is the raw BuildKit control API (`/grpc`, buildx's docker
 * driver), which reaches BuildKit's own entitlements (host network builds) without the checks
 * `build` makes on ImageBuild's query, so it is a group of its own.
 */
export const OPERATION_GROUPS: ReadonlyMap<string, readonly string[]> = new Map<string, readonly string[]>([
  ['containers:read', CONTAINERS_READ],
  ['containers:write', CONTAINERS_WRITE],
  ['containers', [...CONTAINERS_READ, ...CONTAINERS_WRITE]],
  ['exec', ops('ContainerExec ExecStart ExecResize ExecInspect')],
  ['images:read', IMAGES_READ],
  ['images:pull', ['ImageCreate']],
  ['images:write', IMAGES_WRITE],
  ['images', [...IMAGES_READ, 'ImageCreate', ...IMAGES_WRITE]],
  ['build', ops('ImageBuild BuildPrune Session')],
  ['build:buildkit', ['Grpc']],
  ['networks:read', NETWORKS_READ],
  ['networks:write', NETWORKS_WRITE],
  ['networks', [...NETWORKS_READ, ...NETWORKS_WRITE]],
  ['volumes:read', VOLUMES_READ],
  ['volumes:write', VOLUMES_WRITE],
  ['volumes', [...VOLUMES_READ, ...VOLUMES_WRITE]],
  ['system:read', SYSTEM_READ],
  ['system:auth', ['SystemAuth']],
  ['system', [...SYSTEM_READ, 'SystemAuth']],
  ['swarm', swarmOperations],
  ['plugins', pluginOperations],
  ['*', [...DOCKER_OPERATIONS.keys()]]
])

/** The operations a rule's `operations` entry names: a group, an operation name or `Unmapped`; undefined when it names nothing. */
export function expandOperation (name: string): readonly string[] | undefined {
  const group = OPERATION_GROUPS.get(name)
  if (group !== undefined) return group
  if (DOCKER_OPERATIONS.has(name) || name === UNMAPPED_OPERATION) return [name]
  return undefined
}
