/**
 * The defaults dockerd 20.10 (API 1.41) shows in `docker inspect` for what a client
 * left out. Containers store only what differs from these, so that the usual
 * CLI-sent HostConfig, sixty fields of which nearly all are defaults, costs a few
 * fields per container; inspect lays the stored fields over these.
 */
export const CONFIG_DEFAULTS: Readonly<Record<string, unknown>> = Object.freeze({
  Hostname: '',
  Domainname: '',
  User: '',
  AttachStdin: false,
  AttachStdout: false,
  AttachStderr: false,
  Tty: false,
  OpenStdin: false,
  StdinOnce: false,
  Env: null,
  Cmd: null,
  Image: '',
  Volumes: null,
  WorkingDir: '',
  Entrypoint: null,
  OnBuild: null,
  Labels: {}
})

const MASKED_PATHS = ['/proc/asound', '/proc/acpi', '/proc/kcore', '/proc/keys', '/proc/latency_stats', '/proc/timer_list', '/proc/timer_stats', '/proc/sched_debug', '/proc/scsi', '/sys/firmware']
const READONLY_PATHS = ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger']

/** HostConfig as inspect shows it when the client sent nothing. */
export const HOST_CONFIG_DEFAULTS: Readonly<Record<string, unknown>> = Object.freeze({
  Binds: null,
  ContainerIDFile: '',
  LogConfig: { Type: 'json-file', Config: {} },
  NetworkMode: 'default',
  PortBindings: {},
  RestartPolicy: { Name: 'no', MaximumRetryCount: 0 },
  AutoRemove: false,
  VolumeDriver: '',
  VolumesFrom: null,
  CapAdd: null,
  CapDrop: null,
  CgroupnsMode: 'host',
  Dns: [],
  DnsOptions: [],
  DnsSearch: [],
  ExtraHosts: null,
  GroupAdd: null,
  IpcMode: 'private',
  Cgroup: '',
  Links: null,
  OomScoreAdj: 0,
  PidMode: '',
  Privileged: false,
  PublishAllPorts: false,
  ReadonlyRootfs: false,
  SecurityOpt: null,
  UTSMode: '',
  UsernsMode: '',
  ShmSize: 67108864,
  Runtime: 'runc',
  ConsoleSize: [0, 0],
  Isolation: '',
  CpuShares: 0,
  Memory: 0,
  NanoCpus: 0,
  CgroupParent: '',
  BlkioWeight: 0,
  BlkioWeightDevice: [],
  BlkioDeviceReadBps: null,
  BlkioDeviceWriteBps: null,
  BlkioDeviceReadIOps: null,
  BlkioDeviceWriteIOps: null,
  CpuPeriod: 0,
  CpuQuota: 0,
  CpuRealtimePeriod: 0,
  CpuRealtimeRuntime: 0,
  CpusetCpus: '',
  CpusetMems: '',
  Devices: [],
  DeviceCgroupRules: null,
  DeviceRequests: null,
  KernelMemory: 0,
  KernelMemoryTCP: 0,
  MemoryReservation: 0,
  MemorySwap: 0,
  MemorySwappiness: null,
  OomKillDisable: false,
  PidsLimit: null,
  Ulimits: null,
  CpuCount: 0,
  CpuPercent: 0,
  IOMaximumIOps: 0,
  IOMaximumBandwidth: 0,
  MaskedPaths: MASKED_PATHS,
  ReadonlyPaths: READONLY_PATHS
})

/** Values a client sends to mean "default" for fields the defaults above hold differently. */
const EMPTY_EQUIVALENT: Readonly<Record<string, unknown>> = {
  Dns: null, DnsOptions: null, DnsSearch: null, BlkioWeightDevice: null, Devices: null, PortBindings: null, ShmSize: 0,
  ConsoleSize: null, Runtime: '', NetworkMode: '', CgroupnsMode: '', IpcMode: '', MaskedPaths: null, ReadonlyPaths: null,
  MemorySwappiness: -1, PidsLimit: 0,
  LogConfig: { Type: '', Config: null }, RestartPolicy: { Name: '', MaximumRetryCount: 0 }
}

function isEmpty (value: unknown): boolean {
  if (Array.isArray(value)) return value.length === 0
  return typeof value === 'object' && value !== null && Object.keys(value).length === 0
}

function sameValue (a: unknown, b: unknown): boolean {
  if (a === b) return true
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false
  return JSON.stringify(a) === JSON.stringify(b)
}

/**
 * The fields of `value` that differ from `defaults` (and from the client's spellings
 * of a default): what a container stores of its Config and HostConfig.
 */
export function compactAgainst (value: unknown, defaults: Readonly<Record<string, unknown>>): Record<string, unknown> {
  const compact: Record<string, unknown> = {}
  if (typeof value !== 'object' || value === null) return compact
  for (const [key, field] of Object.entries(value as Record<string, unknown>)) {
    if (field === undefined) continue
    if (key in defaults && (sameValue(field, defaults[key]) || (key in EMPTY_EQUIVALENT && sameValue(field, EMPTY_EQUIVALENT[key])))) continue
    if (defaults[key] === null && isEmpty(field)) continue
    if (key === 'LogConfig' && (field as { Type?: string }).Type === '' && isEmpty((field as { Config?: unknown }).Config ?? {})) continue
    if (!(key in defaults) && (field === null || field === '' || field === false || field === 0)) continue
    compact[key] = field
  }
  return compact
}
