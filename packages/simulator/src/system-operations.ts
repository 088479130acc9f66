import { encodeDockerReply, jsonReply, parseFilters, queryValue } from '@libswarm/docker-api'
import { ByteQueue } from './byte-queue.js'
import { now, parseClientTime, rfc3339 } from './clock.js'
import { containerSummary } from './container-operations.js'
import type { Engine } from './engine.js'
import { engineErrors } from './errors.js'
import { checkEventFilters, renderEvent } from './event-log.js'
import { imageSummary } from './image-operations.js'
import { streamReply, type Operation } from './operation.js'
import { volumeInspect } from './volume-operations.js'

/** The API version the simulator speaks, as dockerd 20.10. */
export const API_VERSION = '1.41'
/** The engine version it reports. */
export const ENGINE_VERSION = '20.10.24'
const MIN_API_VERSION = '1.12'
const KERNEL_VERSION = '6.0.0-libswarm-simulator'
const GIT_COMMIT = '0000000'
const GO_VERSION = 'go1.19.9'
const BUILD_TIME = '2023-05-05T00:00:00.000000000+00:00'
const encoder = new TextEncoder()

const PING_HEADERS: Record<string, string> = {
  'API-Version': API_VERSION,
  OSType: 'linux',
  'Docker-Experimental': 'false',
  'Cache-Control': 'no-cache, no-store, must-revalidate',
  Pragma: 'no-cache',
  'Content-Type': 'text/plain; charset=utf-8'
}

const ping: Operation = () => encodeDockerReply({ status: 200, body: 'OK', headers: PING_HEADERS })
const pingHead: Operation = () => encodeDockerReply({ status: 200, body: '', headers: PING_HEADERS })

const version: Operation = () => jsonReply({
  Platform: { Name: 'libswarm simulator' },
  Components: [{
    Name: 'Engine',
    Version: ENGINE_VERSION,
    Details: { ApiVersion: API_VERSION, Arch: 'amd64', BuildTime: BUILD_TIME, Experimental: 'false', GitCommit: GIT_COMMIT, GoVersion: GO_VERSION, KernelVersion: KERNEL_VERSION, MinAPIVersion: MIN_API_VERSION, Os: 'linux' }
  }],
  Version: ENGINE_VERSION,
  ApiVersion: API_VERSION,
  MinAPIVersion: MIN_API_VERSION,
  GitCommit: GIT_COMMIT,
  GoVersion: GO_VERSION,
  Os: 'linux',
  Arch: 'amd64',
  KernelVersion: KERNEL_VERSION,
  BuildTime: BUILD_TIME
})

/** `GET /info` of a simulated engine. */
export function systemInfo (engine: Engine): Record<string, unknown> {
  const total = engine.containers.size
  return {
    ID: engine.id,
    Containers: total,
    ContainersRunning: engine.running,
    ContainersPaused: engine.paused,
    ContainersStopped: total - engine.running - engine.paused,
    Images: engine.images.size,
    Driver: 'overlay2',
    DriverStatus: [['Backing Filesystem', 'extfs'], ['Supports d_type', 'true'], ['Native Overlay Diff', 'true'], ['userxattr', 'false']],
    Plugins: {
      Volume: ['local'],
      Network: ['bridge', 'host', 'ipvlan', 'macvlan', 'null', 'overlay'],
      Authorization: null,
      Log: ['awslogs', 'fluentd', 'gcplogs', 'gelf', 'journald', 'json-file', 'local', 'logentries', 'splunk', 'syslog']
    },
    MemoryLimit: true,
    SwapLimit: true,
    KernelMemory: false,
    KernelMemoryTCP: false,
    CpuCfsPeriod: true,
    CpuCfsQuota: true,
    CPUShares: true,
    CPUSet: true,
    PidsLimit: true,
    IPv4Forwarding: true,
    BridgeNfIptables: true,
    BridgeNfIp6tables: true,
    Debug: false,
    NFd: 24 + engine.events.listenerCount,
    OomKillDisable: false,
    NGoroutines: 34 + engine.events.listenerCount,
    SystemTime: rfc3339(now()),
    LoggingDriver: 'json-file',
    CgroupDriver: 'systemd',
    CgroupVersion: '2',
    NEventsListener: engine.events.listenerCount,
    KernelVersion: KERNEL_VERSION,
    OperatingSystem: 'libswarm simulator',
    OSVersion: ENGINE_VERSION,
    OSType: 'linux',
    Architecture: 'x86_64',
    IndexServerAddress: 'https://index.docker.io/v1/',
    RegistryConfig: {
      AllowNondistributableArtifactsCIDRs: [],
      AllowNondistributableArtifactsHostnames: [],
      InsecureRegistryCIDRs: ['127.0.0.0/8'],
      IndexConfigs: { 'docker.io': { Name: 'docker.io', Mirrors: [], Secure: true, Official: true } },
      Mirrors: []
    },
    NCPU: engine.options.cpus,
    MemTotal: engine.options.memory,
    GenericResources: null,
    DockerRootDir: '/var/lib/docker',
    HttpProxy: '',
    HttpsProxy: '',
    NoProxy: '',
    Name: engine.options.name,
    Labels: engine.options.labels,
    ExperimentalBuild: false,
    ServerVersion: ENGINE_VERSION,
    Runtimes: { 'io.containerd.runc.v2': { path: 'runc' }, 'io.containerd.runtime.v1.linux': { path: 'runc' }, runc: { path: 'runc' } },
    DefaultRuntime: 'runc',
    Swarm: { NodeID: '', NodeAddr: '', LocalNodeState: 'inactive', ControlAvailable: false, Error: '', RemoteManagers: null },
    LiveRestoreEnabled: false,
    Isolation: '',
    InitBinary: 'docker-init',
    ContainerdCommit: { ID: GIT_COMMIT, Expected: GIT_COMMIT },
    RuncCommit: { ID: GIT_COMMIT, Expected: GIT_COMMIT },
    InitCommit: { ID: GIT_COMMIT, Expected: GIT_COMMIT },
    SecurityOptions: ['name=seccomp,profile=default', 'name=cgroupns'],
    Warnings: null
  }
}

const info: Operation = (engine) => jsonReply(systemInfo(engine))

const dataUsage: Operation = (engine) => {
  const imageUsers = new Map<string, number>()
  for (const container of engine.containers.values()) imageUsers.set(container.imageId, (imageUsers.get(container.imageId) ?? 0) + 1)
  let layersSize = 0
  const images = [...engine.images.values()].map((image) => {
    layersSize += image.size
    return imageSummary(engine, image, imageUsers.get(image.id) ?? 0)
  })
  const at = Date.now()
  return jsonReply({
    LayersSize: layersSize,
    Images: images,
    Containers: [...engine.containers.values()].reverse().map((container) => containerSummary(engine, container, true, at)),
    Volumes: [...engine.volumes.values()].map((volume) => volumeInspect(volume, true)),
    BuildCache: []
  })
}

const events: Operation = (engine, request) => {
  const filters = parseFilters(request.query)
  checkEventFilters(filters)
  const sinceText = queryValue(request.query, 'since')
  const untilText = queryValue(request.query, 'until')
  const since = parseClientTime(sinceText)
  const until = parseClientTime(untilText)
  if (sinceText !== undefined && sinceText !== '' && since === undefined) throw engineErrors.badRequest(`invalid value for since: ${sinceText}`)
  if (untilText !== undefined && untilText !== '' && until === undefined) throw engineErrors.badRequest(`invalid value for until: ${untilText}`)
  const queue = new ByteQueue()
  if (since !== undefined || until !== undefined) {
    for (const event of engine.events.past(filters, since, until)) queue.push(encoder.encode(renderEvent(event) + '\n'))
  }
  const remaining = until === undefined ? Infinity : until - now()
  if (remaining <= 0 || engine.isClosed) {
    queue.end()
  } else {
    engine.events.follow(filters, queue)
    if (remaining !== Infinity) {
      const timer = setTimeout(() => { queue.end() }, remaining)
      timer.unref?.()
      const detach = queue.onClose
      queue.onClose = () => {
        clearTimeout(timer)
        detach?.()
      }
    }
  }
  return streamReply(queue, 'application/json')
}

const notSwarmManager: Operation = () => { throw engineErrors.notSwarmManager() }

/** The system operations, by operationId, and the swarm ones a non-swarm engine refuses. */
export const systemOperations: Record<string, Operation> = {
  SystemPing: ping,
  SystemPingHead: pingHead,
  SystemVersion: version,
  SystemInfo: info,
  SystemDataUsage: dataUsage,
  SystemEvents: events,
  SwarmInspect: notSwarmManager,
  SwarmUpdate: notSwarmManager,
  SwarmUnlockkey: notSwarmManager,
  NodeList: notSwarmManager,
  NodeInspect: notSwarmManager,
  NodeDelete: notSwarmManager,
  NodeUpdate: notSwarmManager,
  ServiceList: notSwarmManager,
  ServiceCreate: notSwarmManager,
  ServiceInspect: notSwarmManager,
  ServiceDelete: notSwarmManager,
  ServiceUpdate: notSwarmManager,
  ServiceLogs: notSwarmManager,
  TaskList: notSwarmManager,
  TaskInspect: notSwarmManager,
  TaskLogs: notSwarmManager,
  SecretList: notSwarmManager,
  SecretCreate: notSwarmManager,
  SecretInspect: notSwarmManager,
  SecretDelete: notSwarmManager,
  SecretUpdate: notSwarmManager,
  ConfigList: notSwarmManager,
  ConfigCreate: notSwarmManager,
  ConfigInspect: notSwarmManager,
  ConfigDelete: notSwarmManager,
  ConfigUpdate: notSwarmManager
}
