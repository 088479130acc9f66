/**
 * The `docker info` and `docker version` bodies of a front that stands for many engines, as Classic
 * Swarm (1.2) answered them: the cluster's totals, and its nodes as lines of `SystemStatus`, which
 * both docker CLIs print under `Nodes`. aggregate and mesos answer with these.
 */

/** go-units' BytesSize, as `docker info` prints memory: `256 MiB`, `7.451 GiB`. */
export function bytesSize (bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB', 'EiB']
  let value = bytes
  let unit = 0
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024
    unit++
  }
  return `${Number(value.toPrecision(4))} ${units[unit] ?? 'B'}`
}

/** What differs from one cluster to another in its {@link clusterSystemInfo}. */
export interface ClusterSystemInfoFields {
  /** `ID` and `Name`. */
  id: string
  name: string
  /** `ServerVersion`, such as `libswarm/0.1.0`. */
  serverVersion: string
  /** The cluster's containers by state; `Containers` is their sum. */
  running: number
  paused: number
  stopped: number
  images: number
  /** `[key, value]` lines: `Role`, `Strategy`, ..., `Nodes`, then each node's (a node name line, then `  └ Key` lines). */
  systemStatus: Array<[string, string]>
  kernelVersion: string
  operatingSystem: string
  /** Summed over the nodes that count. */
  ncpu: number
  memTotal: number
}

/** The `SystemInfo` (`GET /info`) body of a cluster; the fields an engine has and a cluster has not are empty. */
export function clusterSystemInfo (fields: ClusterSystemInfoFields): Record<string, unknown> {
  return {
    ID: fields.id,
    Containers: fields.running + fields.paused + fields.stopped,
    ContainersRunning: fields.running,
    ContainersPaused: fields.paused,
    ContainersStopped: fields.stopped,
    Images: fields.images,
    Driver: '',
    DriverStatus: null,
    SystemStatus: fields.systemStatus,
    Plugins: { Volume: null, Network: null, Authorization: null, Log: null },
    MemoryLimit: true,
    SwapLimit: true,
    CpuCfsPeriod: true,
    CpuCfsQuota: true,
    CPUShares: true,
    CPUSet: true,
    IPv4Forwarding: true,
    Debug: false,
    NFd: 0,
    OomKillDisable: true,
    NGoroutines: 0,
    SystemTime: new Date().toISOString(),
    LoggingDriver: '',
    CgroupDriver: '',
    NEventsListener: 0,
    KernelVersion: fields.kernelVersion,
    OperatingSystem: fields.operatingSystem,
    OSType: 'linux',
    Architecture: process.arch === 'x64' ? 'x86_64' : process.arch,
    IndexServerAddress: 'https://index.docker.io/v1/',
    NCPU: fields.ncpu,
    MemTotal: fields.memTotal,
    DockerRootDir: '',
    Name: fields.name,
    Labels: [],
    ExperimentalBuild: false,
    ServerVersion: fields.serverVersion,
    Runtimes: {},
    DefaultRuntime: '',
    Swarm: { NodeID: '', NodeAddr: '', LocalNodeState: 'inactive', ControlAvailable: false, Error: '', RemoteManagers: null },
    LiveRestoreEnabled: false,
    Isolation: '',
    InitBinary: '',
    SecurityOptions: [],
    Warnings: null
  }
}

/** What differs from one cluster to another in its {@link clusterSystemVersion}. */
export interface ClusterSystemVersionFields {
  /** `Platform.Name`, such as `libswarm aggregate`. */
  platform: string
  /** `Components`: the front first, then what it stands for. */
  components: Array<Record<string, unknown>>
  /** `Version`, such as `libswarm/0.1.0`. */
  version: string
  apiVersion: string
  minApiVersion: string
  kernelVersion: string
}

/** The `SystemVersion` (`GET /version`) body of a cluster. */
export function clusterSystemVersion (fields: ClusterSystemVersionFields): Record<string, unknown> {
  return {
    Platform: { Name: fields.platform },
    Components: fields.components,
    Version: fields.version,
    ApiVersion: fields.apiVersion,
    MinAPIVersion: fields.minApiVersion,
    GitCommit: '',
    GoVersion: '',
    Os: 'linux',
    Arch: process.arch === 'x64' ? 'amd64' : process.arch,
    KernelVersion: fields.kernelVersion,
    BuildTime: ''
  }
}
