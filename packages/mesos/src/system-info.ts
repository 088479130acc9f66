import { bytesSize, clusterSystemInfo, clusterSystemVersion } from '@libswarm/docker-api'
import type { AgentEngines } from './agent-engines.js'
import type { ContainerRecord } from './container-record.js'
import type { MesosFramework } from './mesos-framework.js'
import { attributeText, portRanges, scalarResource } from './mesos-types.js'
import type { MesosOptions } from './mesos-options.js'

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
  return clusterSystemInfo({
    id,
    name: options.name ?? 'libswarm',
    serverVersion: version,
    running,
    paused: 0,
    stopped: records.length - running,
    images: 0,
    systemStatus: [
      ['Role', 'primary'],
      ['Strategy', 'mesos offers'],
      ['Master', options.master],
      ['Framework', options.name ?? 'libswarm'],
      ['Nodes', String(agents.count)],
      ...agents.lines
    ],
    kernelVersion: '',
    operatingSystem: 'Apache Mesos',
    ncpu: Math.floor(agents.ncpu),
    memTotal: Math.round(agents.memTotal)
  })
}

/** The SystemVersion of the framework. */
export function mesosVersion (version: string): Record<string, unknown> {
  return clusterSystemVersion({
    platform: 'libswarm mesos',
    components: [{ Name: 'mesos', Version: version, Details: { ApiVersion: '1.41' } }],
    version: `mesos/${version}`,
    apiVersion: '1.41',
    minApiVersion: '1.12',
    kernelVersion: ''
  })
}
