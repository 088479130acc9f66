import type { AgentEngines } from './agent-engines.js'
import type { ContainerRecord } from './container-record.js'
import type { MesosFramework } from './mesos-framework.js'
import { attributeText, portRanges, scalarResource } from './mesos-types.js'
import type { MesosOptions } from './mesos-options.js'

function bytesSize (bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB']
  let value = bytes
  let unit = 0
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024
    unit++
  }
  return `${Number(value.toPrecision(4))} ${units[unit] ?? 'B'}`
}

/** Every agent's lines, as Classic Swarm's `docker info` showed its nodes, and the totals. */
export function agentLines (framework: MesosFramework, engines: AgentEngines): { lines: Array<[string, string]>, ncpu: number, memTotal: number, count: number } {
  const lines: Array<[string, string]> = []
  let ncpu = 0
  let memTotal = 0
  const agents = [...framework.agents.values()].sort((a, b) => a.hostname.localeCompare(b.hostname))
  for (const agent of agents) {
    const tasks = [...framework.records.values()].filter((record) => record.agentId === agent.id && (record.phase === 'running' || record.phase === 'launching'))
    const usedCpus = tasks.reduce((sum, record) => sum + record.spec.cpus, 0)
    const usedMem = tasks.reduce((sum, record) => sum + record.spec.mem, 0)
    // the last offer held what was free then; the framework's own tasks are the rest it knows of
    const cpus = scalarResource(agent.offered, 'cpus') + usedCpus
    const mem = scalarResource(agent.offered, 'mem') + usedMem
    if (!agent.lost) {
      ncpu += cpus
      memTotal += mem * 1024 * 1024
    }
    const running = tasks.filter((record) => record.phase === 'running').length
    lines.push(
      [` ${agent.hostname}`, engines.key({ hostname: agent.hostname, attributes: agent.attributes })],
      ['  └ ID', agent.id],
      ['  └ Status', agent.lost ? 'Lost' : 'Healthy'],
      ['  └ Containers', `${tasks.length} (${running} Running, 0 Paused, ${tasks.length - running} Starting)`],
      ['  └ Reserved CPUs', `${Number(usedCpus.toFixed(3))} / ${Number(cpus.toFixed(3))}`],
      ['  └ Reserved Memory', `${bytesSize(usedMem * 1024 * 1024)} / ${bytesSize(mem * 1024 * 1024)}`],
      ['  └ Ports', portRanges(agent.offered).map((range) => `${range.begin}-${range.end}`).join(', ')],
      ['  └ Labels', agent.attributes.map((attribute) => `${attribute.name}=${attributeText(attribute)}`).join(', ')],
      ['  └ UpdatedAt', agent.seen.toISOString()]
    )
  }
  return { lines, ncpu, memTotal, count: agents.length }
}

/** The SystemInfo of the framework: its containers, and the agents as nodes in SystemStatus. */
export function mesosInfo (id: string, options: MesosOptions, records: ContainerRecord[], agents: ReturnType<typeof agentLines>, version: string): Record<string, unknown> {
  const running = records.filter((record) => record.phase === 'running').length
  return {
    ID: id,
    Containers: records.length,
    ContainersRunning: running,
    ContainersPaused: 0,
    ContainersStopped: records.length - running,
    Images: 0,
    Driver: '',
    DriverStatus: null,
    SystemStatus: [
      ['Role', 'primary'],
      ['Strategy', 'mesos offers'],
      ['Master', options.master],
      ['Framework', options.name ?? 'libswarm'],
      ['Nodes', String(agents.count)],
      ...agents.lines
    ],
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
    KernelVersion: '',
    OperatingSystem: 'Apache Mesos',
    OSType: 'linux',
    Architecture: process.arch === 'x64' ? 'x86_64' : process.arch,
    IndexServerAddress: 'https://index.docker.io/v1/',
    NCPU: Math.floor(agents.ncpu),
    MemTotal: Math.round(agents.memTotal),
    DockerRootDir: '',
    Name: options.name ?? 'libswarm',
    Labels: [],
    ExperimentalBuild: false,
    ServerVersion: version,
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

/** The SystemVersion of the framework. */
export function mesosVersion (version: string): Record<string, unknown> {
  return {
    Platform: { Name: 'libswarm mesos' },
    Components: [{ Name: 'mesos', Version: version, Details: { ApiVersion: '1.41' } }],
    Version: `mesos/${version}`,
    ApiVersion: '1.41',
    MinAPIVersion: '1.12',
    GitCommit: '',
    GoVersion: '',
    Os: 'linux',
    Arch: process.arch === 'x64' ? 'amd64' : process.arch,
    KernelVersion: '',
    BuildTime: ''
  }
}
