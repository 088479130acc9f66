import { ErrorCode, SwarmError } from '@libswarm/core'
import {
  fillGoZeros, goArray, goBool, goDecodeError, goInt, goMap, goSlice, goString, goStruct, goUint, strSlice, type GoType
} from './go-json.js'

// The request bodies of dockerd 20.10 (moby v20.10.24, api/types) as Go types, field for field:
// a body whose types Go would not decode is refused with Go's message, so nothing wrongly typed
// reaches a service (one `"Entrypoint": 0` stored by the simulator made every later `docker ps` fail).

const int64 = goInt('int64')
const int = goInt('int')
const strings = goSlice(goString())
const stringMap = goMap(goString())

const endpointSettings = goStruct('network.EndpointSettings', {
  IPAMConfig: goStruct('network.EndpointIPAMConfig', { IPv4Address: goString(), IPv6Address: goString(), LinkLocalIPs: strings }),
  Links: strings,
  Aliases: strings,
  NetworkID: goString(),
  EndpointID: goString(),
  Gateway: goString(),
  IPAddress: goString(),
  IPPrefixLen: int,
  IPv6Gateway: goString(),
  GlobalIPv6Address: goString(),
  GlobalIPv6PrefixLen: int,
  MacAddress: goString(),
  DriverOpts: stringMap
})

const throttleDevices = goSlice(goStruct('blkiodev.ThrottleDevice', { Path: goString(), Rate: goUint('uint64', 64) }), '[]*blkiodev.ThrottleDevice')

/** container.Resources, embedded in HostConfig and UpdateConfig. */
const RESOURCES: Record<string, GoType> = {
  CpuShares: int64,
  Memory: int64,
  NanoCpus: int64,
  CgroupParent: goString(),
  BlkioWeight: goUint('uint16', 16),
  BlkioWeightDevice: goSlice(goStruct('blkiodev.WeightDevice', { Path: goString(), Weight: goUint('uint16', 16) }), '[]*blkiodev.WeightDevice'),
  BlkioDeviceReadBps: throttleDevices,
  BlkioDeviceWriteBps: throttleDevices,
  BlkioDeviceReadIOps: throttleDevices,
  BlkioDeviceWriteIOps: throttleDevices,
  CpuPeriod: int64,
  CpuQuota: int64,
  CpuRealtimePeriod: int64,
  CpuRealtimeRuntime: int64,
  CpusetCpus: goString(),
  CpusetMems: goString(),
  Devices: goSlice(goStruct('container.DeviceMapping', { PathOnHost: goString(), PathInContainer: goString(), CgroupPermissions: goString() })),
  DeviceCgroupRules: strings,
  DeviceRequests: goSlice(goStruct('container.DeviceRequest', {
    Driver: goString(), Count: int, DeviceIDs: strings, Capabilities: goSlice(strings), Options: stringMap
  })),
  KernelMemory: int64,
  KernelMemoryTCP: int64,
  MemoryReservation: int64,
  MemorySwap: int64,
  MemorySwappiness: int64,
  OomKillDisable: goBool,
  PidsLimit: int64,
  Ulimits: goSlice(goStruct('units.Ulimit', { Name: goString(), Hard: int64, Soft: int64 }), '[]*units.Ulimit'),
  CpuCount: int64,
  CpuPercent: int64,
  IOMaximumIOps: goUint('uint64', 64),
  IOMaximumBandwidth: goUint('uint64', 64)
}

const restartPolicy = goStruct('container.RestartPolicy', { Name: goString(), MaximumRetryCount: int })

/** container.HostConfig's own fields and its embedded Resources. */
const HOST_CONFIG: Record<string, GoType> = {
  Binds: strings,
  ContainerIDFile: goString(),
  LogConfig: goStruct('container.LogConfig', { Type: goString(), Config: stringMap }),
  NetworkMode: goString('container.NetworkMode'),
  PortBindings: goMap(goSlice(goStruct('nat.PortBinding', { HostIp: goString(), HostPort: goString() })), 'nat.PortMap'),
  RestartPolicy: restartPolicy,
  AutoRemove: goBool,
  VolumeDriver: goString(),
  VolumesFrom: strings,
  CapAdd: strSlice,
  CapDrop: strSlice,
  CgroupnsMode: goString('container.CgroupnsMode'),
  Dns: strings,
  DnsOptions: strings,
  DnsSearch: strings,
  ExtraHosts: strings,
  GroupAdd: strings,
  IpcMode: goString('container.IpcMode'),
  Cgroup: goString('container.CgroupSpec'),
  Links: strings,
  OomScoreAdj: int,
  PidMode: goString('container.PidMode'),
  Privileged: goBool,
  PublishAllPorts: goBool,
  ReadonlyRootfs: goBool,
  SecurityOpt: strings,
  StorageOpt: stringMap,
  Tmpfs: stringMap,
  UTSMode: goString('container.UTSMode'),
  UsernsMode: goString('container.UsernsMode'),
  ShmSize: int64,
  Sysctls: stringMap,
  Runtime: goString(),
  ConsoleSize: goArray(2, goUint('uint', 64)),
  Isolation: goString('container.Isolation'),
  ...RESOURCES,
  Mounts: goSlice(goStruct('mount.Mount', {
    Type: goString('mount.Type'),
    Source: goString(),
    Target: goString(),
    ReadOnly: goBool,
    Consistency: goString('mount.Consistency'),
    BindOptions: goStruct('mount.BindOptions', { Propagation: goString('mount.Propagation'), NonRecursive: goBool }),
    VolumeOptions: goStruct('mount.VolumeOptions', {
      NoCopy: goBool, Labels: stringMap, DriverConfig: goStruct('mount.Driver', { Name: goString(), Options: stringMap })
    }),
    TmpfsOptions: goStruct('mount.TmpfsOptions', { SizeBytes: int64, Mode: goUint('fs.FileMode', 32) })
  })),
  MaskedPaths: strings,
  ReadonlyPaths: strings,
  Init: goBool
}

/** container.Config. */
const CONFIG: Record<string, GoType> = {
  Hostname: goString(),
  Domainname: goString(),
  User: goString(),
  AttachStdin: goBool,
  AttachStdout: goBool,
  AttachStderr: goBool,
  ExposedPorts: goMap(goStruct('struct {}', {}), 'nat.PortSet'),
  Tty: goBool,
  OpenStdin: goBool,
  StdinOnce: goBool,
  Env: strings,
  Cmd: strSlice,
  Healthcheck: goStruct('container.HealthConfig', {
    Test: strings,
    Interval: goInt('time.Duration'),
    Timeout: goInt('time.Duration'),
    StartPeriod: goInt('time.Duration'),
    Retries: int
  }),
  ArgsEscaped: goBool,
  Image: goString(),
  Volumes: goMap(goStruct('struct {}', {})),
  WorkingDir: goString(),
  Entrypoint: strSlice,
  NetworkDisabled: goBool,
  MacAddress: goString(),
  OnBuild: strings,
  Labels: stringMap,
  StopSignal: goString(),
  StopTimeout: int,
  Shell: strSlice
}

/**
 * The body of ContainerCreate: runconfig.ContainerConfigWrapper, which embeds Config and (for old
 * clients) HostConfig, so HostConfig's fields are read at the top too.
 */
export const CONTAINER_CREATE_BODY = goStruct('runconfig.ContainerConfigWrapper', {
  ...HOST_CONFIG,
  ...CONFIG,
  HostConfig: goStruct('container.HostConfig', HOST_CONFIG),
  Cpuset: goString(),
  NetworkingConfig: goStruct('network.NetworkingConfig', { EndpointsConfig: goMap(endpointSettings, 'map[string]*network.EndpointSettings') })
})

/** The body of ContainerUpdate: container.UpdateConfig. Its fields are the only ones an update changes. */
export const CONTAINER_UPDATE_BODY = goStruct('container.UpdateConfig', { ...RESOURCES, RestartPolicy: restartPolicy })

/** The body of ContainerExec: types.ExecConfig. */
export const EXEC_CREATE_BODY = goStruct('types.ExecConfig', {
  User: goString(),
  Privileged: goBool,
  Tty: goBool,
  AttachStdin: goBool,
  AttachStderr: goBool,
  AttachStdout: goBool,
  Detach: goBool,
  DetachKeys: goString(),
  Env: strings,
  WorkingDir: goString(),
  Cmd: strings
})

/** The body of ExecStart: types.ExecStartCheck. */
export const EXEC_START_BODY = goStruct('types.ExecStartCheck', { Detach: goBool, Tty: goBool })

/** The body of NetworkCreate: types.NetworkCreateRequest. */
export const NETWORK_CREATE_BODY = goStruct('types.NetworkCreateRequest', {
  CheckDuplicate: goBool,
  Driver: goString(),
  Scope: goString(),
  EnableIPv6: goBool,
  IPAM: goStruct('network.IPAM', {
    Driver: goString(),
    Options: stringMap,
    Config: goSlice(goStruct('network.IPAMConfig', { Subnet: goString(), IPRange: goString(), Gateway: goString(), AuxiliaryAddresses: stringMap }))
  }),
  Internal: goBool,
  Attachable: goBool,
  Ingress: goBool,
  ConfigOnly: goBool,
  ConfigFrom: goStruct('network.ConfigReference', { Network: goString() }),
  Options: stringMap,
  Labels: stringMap,
  Name: goString()
})

/** The body of NetworkConnect: types.NetworkConnect. */
export const NETWORK_CONNECT_BODY = goStruct('types.NetworkConnect', { Container: goString(), EndpointConfig: endpointSettings })

/** The body of NetworkDisconnect: types.NetworkDisconnect. */
export const NETWORK_DISCONNECT_BODY = goStruct('types.NetworkDisconnect', { Container: goString(), Force: goBool })

/** The body of VolumeCreate: volume.VolumeCreateBody. */
export const VOLUME_CREATE_BODY = goStruct('volume.VolumeCreateBody', { Driver: goString(), DriverOpts: stringMap, Labels: stringMap, Name: goString() })

/** The JSON bodies dockerd decodes into a Go type, by operation, with the status of its refusal. */
export const ENGINE_BODY_TYPES: Readonly<Record<string, { readonly type: GoType, readonly status: 400 | 500 }>> = {
  // create and update pass Go's error on as it is (500); the others mark it an invalid parameter
  ContainerCreate: { type: CONTAINER_CREATE_BODY, status: 500 },
  ContainerUpdate: { type: CONTAINER_UPDATE_BODY, status: 500 },
  ContainerExec: { type: EXEC_CREATE_BODY, status: 400 },
  ExecStart: { type: EXEC_START_BODY, status: 400 },
  NetworkCreate: { type: NETWORK_CREATE_BODY, status: 400 },
  NetworkConnect: { type: NETWORK_CONNECT_BODY, status: 400 },
  NetworkDisconnect: { type: NETWORK_DISCONNECT_BODY, status: 400 },
  VolumeCreate: { type: VOLUME_CREATE_BODY, status: 400 }
}

/**
 * Decodes the JSON body of an operation as dockerd 20.10 does into its Go type: a body Go would
 * not decode throws Go's message with dockerd's status (INTERNAL, 500, for ContainerCreate and
 * ContainerUpdate; BAD_REQUEST, 400, for the others); one it decodes gets Go's zero values for
 * the `null`s in its lists and maps, in place. A missing body, and an operation without a typed
 * body, pass.
 *
 * @example
 * ```ts
 * decodeEngineBody('ContainerCreate', { Image: 'busybox', Entrypoint: 0 })
 * // throws INTERNAL: json: cannot unmarshal number into Go struct field ContainerConfigWrapper.Entrypoint of type string
 * ```
 */
export function decodeEngineBody (operation: string, body: unknown): void {
  const spec = Object.hasOwn(ENGINE_BODY_TYPES, operation) ? ENGINE_BODY_TYPES[operation] : undefined
  if (spec === undefined || body === undefined) return
  const message = goDecodeError(body, spec.type)
  if (message !== undefined) throw new SwarmError(spec.status === 400 ? ErrorCode.BadRequest : ErrorCode.Internal, message)
  fillGoZeros(body, spec.type)
}

/** The fields of a struct type, as Go names them. */
export function goFieldNames (type: GoType): ReadonlySet<string> {
  return new Set(type.kind === 'struct' ? Object.keys(type.fields) : [])
}

/** Go's `strconv.ParseUint(text, 10, 16)`: a port, or undefined. */
function parsePort (text: string): number | undefined {
  if (!/^[0-9]+$/.test(text)) return undefined
  const port = Number(text)
  return port <= 65535 ? port : undefined
}

/** go-connections' ParsePortRangeToInt: empty, a port, or a range `LOW-HIGH` (what follows a second `-` is not read). */
function portRangeValid (text: string): boolean {
  if (text === '') return true
  const parts = text.split('-')
  const low = parsePort(parts[0] as string)
  if (parts.length === 1) return low !== undefined
  const high = parsePort(parts[1] as string)
  return low !== undefined && high !== undefined && high >= low
}

/**
 * dockerd 20.10's check of a create's `HostConfig.PortBindings` (daemon's validatePortBindings):
 * each container port (`80/tcp`) is a port, each host port empty, a port or a range within
 * 0-65535. Throws BAD_REQUEST `invalid port specification: "1-99999"` as dockerd does. Run it on
 * a body {@link decodeEngineBody} accepted.
 */
export function checkPortBindings (bindings: unknown): void {
  if (bindings === null || typeof bindings !== 'object') return
  for (const [key, list] of Object.entries(bindings as Record<string, unknown>)) {
    // go-connections' SplitProtoPort: the port is what comes before the first `/`
    const port = key.split('/')[0] as string
    if (port !== '' && parsePort(port) === undefined) throw new SwarmError(ErrorCode.BadRequest, `invalid port specification: "${port}"`)
    for (const binding of Array.isArray(list) ? list as Array<{ HostPort?: unknown } | null> : []) {
      const hostPort = typeof binding?.HostPort === 'string' ? binding.HostPort : ''
      // the host port is split as a port/proto too: `8080/udp` is read as 8080
      if (!portRangeValid(hostPort.split('/')[0] as string)) throw new SwarmError(ErrorCode.BadRequest, `invalid port specification: "${hostPort}"`)
    }
  }
}
