import { decodeEngineBody, filterMatcher, jsonReply, parseFilters } from '@libswarm/docker-api'
import { now, parseClientTime, rfc3339 } from './clock.js'
import { macFor } from './container-operations.js'
import { ipText, type Engine, type SimNetwork } from './engine.js'
import { engineErrors } from './errors.js'
import { labelMatches } from './event-log.js'
import { bodyObject, emptyReply, type Operation } from './operation.js'

const LIST_FILTERS = new Set(['dangling', 'driver', 'id', 'label', 'name', 'scope', 'type'])
const DRIVERS = new Set(['bridge', 'macvlan', 'ipvlan', 'host', 'null'])

/** A network as `GET /networks/{id}` shows it; with `containers`, its running containers' endpoints. */
export function networkInspect (engine: Engine, network: SimNetwork, containers: boolean): Record<string, unknown> {
  const endpoints: Record<string, unknown> = {}
  if (containers) {
    for (const [id, endpoint] of network.endpoints) {
      const container = engine.containers.get(id)
      if (container === undefined || !container.running) continue
      const address = engine.address(endpoint)
      endpoints[id] = {
        Name: container.name,
        EndpointID: endpoint.endpointId,
        MacAddress: address === '' ? '' : macFor(address),
        IPv4Address: address === '' ? '' : `${address}/${network.subnet?.prefix ?? 0}`,
        IPv6Address: ''
      }
    }
  }
  return {
    Name: network.name,
    Id: network.id,
    Created: rfc3339(network.created),
    Scope: 'local',
    Driver: network.driver,
    EnableIPv6: network.ipv6,
    IPAM: {
      Driver: 'default',
      Options: network.builtin ? null : {},
      Config: network.subnet === undefined ? [] : [{ Subnet: `${ipText(network.subnet.base)}/${network.subnet.prefix}`, Gateway: engine.gateway(network) }]
    },
    Internal: network.internal,
    Attachable: network.attachable,
    Ingress: false,
    ConfigFrom: { Network: '' },
    ConfigOnly: false,
    Containers: endpoints,
    Options: network.options,
    Labels: network.labels
  }
}

const list: Operation = (engine, request) => {
  const filters = parseFilters(request.query)
  for (const key of Object.keys(filters)) if (!LIST_FILTERS.has(key)) throw engineErrors.badRequest(`Invalid filter '${key}'`)
  for (const type of filters.type ?? []) if (type !== 'custom' && type !== 'builtin') throw engineErrors.badRequest(`invalid filter: 'type'='${type}'`)
  const names = filters.name === undefined ? undefined : filterMatcher(filters.name)
  const ids = filters.id === undefined ? undefined : filterMatcher(filters.id)
  const result: Array<Record<string, unknown>> = []
  for (const network of engine.networks.values()) {
    if (filters.driver !== undefined && !filters.driver.includes(network.driver)) continue
    if (names !== undefined && !names(network.name)) continue
    if (ids !== undefined && !ids(network.id)) continue
    if (filters.label !== undefined && !filters.label.every((label) => labelMatches(label, network.labels))) continue
    if (filters.scope !== undefined && !filters.scope.includes('local')) continue
    if (filters.type !== undefined && !filters.type.includes(network.builtin ? 'builtin' : 'custom')) continue
    if (filters.dangling !== undefined) {
      const wanted = filters.dangling[0] === 'true' || filters.dangling[0] === '1'
      if (wanted !== (!network.builtin && network.endpoints.size === 0)) continue
    }
    result.push(networkInspect(engine, network, false))
  }
  return jsonReply(result)
}

function parseSubnet (text: string): { base: number, prefix: number } {
  const match = /^(\d+)\.(\d+)\.(\d+)\.(\d+)\/(\d+)$/.exec(text)
  if (match === null) throw engineErrors.badRequest(`invalid CIDR address: ${text}`)
  const prefix = Number(match[5])
  const address = ((Number(match[1]) << 24) | (Number(match[2]) << 16) | (Number(match[3]) << 8) | Number(match[4])) >>> 0
  const mask = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0
  if (prefix > 30) throw engineErrors.badRequest(`invalid subnet ${text}: too small`)
  return { base: (address & mask) >>> 0, prefix }
}

const create: Operation = (engine, request) => {
  decodeEngineBody('NetworkCreate', request.body)
  const body = bodyObject(request)
  const name = typeof body.Name === 'string' ? body.Name : ''
  if (name === '') throw engineErrors.badRequest('network name must not be empty')
  for (const network of engine.networks.values()) if (network.name === name) throw engineErrors.conflict(`network with name ${name} already exists`)
  const driver = typeof body.Driver === 'string' && body.Driver !== '' ? body.Driver : 'bridge'
  if (!DRIVERS.has(driver)) throw engineErrors.notImplemented(`the network driver "${driver}"`)
  if (driver === 'host' || driver === 'null') throw engineErrors.forbidden(`only one instance of "${driver}" network is allowed`)
  const ipam = body.IPAM as { Config?: Array<{ Subnet?: string }> | null } | undefined
  const requested = ipam?.Config?.[0]?.Subnet
  const subnet = requested === undefined || requested === '' ? engine.allocateSubnet() : parseSubnet(requested)
  for (const network of engine.networks.values()) {
    if (network.subnet !== undefined && network.subnet.base === subnet.base) throw engineErrors.forbidden('Pool overlaps with other one on this address space')
  }
  const network = engine.addNetwork({
    name,
    driver,
    internal: body.Internal === true,
    attachable: body.Attachable === true,
    ipv6: body.EnableIPv6 === true,
    options: (body.Options as Record<string, string> | null | undefined) ?? {},
    labels: (body.Labels as Record<string, string> | null | undefined) ?? {},
    subnet
  })
  engine.emit({ time: now(), type: 'network', action: 'create', id: network.id, attributes: { name, type: driver } })
  return jsonReply({ Id: network.id, Warning: '' }, 201)
}

const inspect: Operation = (engine, request) => jsonReply(networkInspect(engine, engine.getNetwork(request.target), true))

function removeNetwork (engine: Engine, network: SimNetwork): void {
  engine.networks.delete(network.id)
  engine.emit({ time: now(), type: 'network', action: 'destroy', id: network.id, attributes: { name: network.name, type: network.driver } })
}

const remove: Operation = (engine, request) => {
  const network = engine.getNetwork(request.target)
  if (network.builtin) throw engineErrors.forbidden(`${network.name} is a pre-defined network and cannot be removed`)
  for (const id of network.endpoints.keys()) {
    if (engine.containers.get(id)?.running === true) throw engineErrors.forbidden(`error while removing network: network ${network.name} id ${network.id} has active endpoints`)
  }
  removeNetwork(engine, network)
  return emptyReply()
}

const connect: Operation = (engine, request) => {
  decodeEngineBody('NetworkConnect', request.body)
  const network = engine.getNetwork(request.target)
  const body = bodyObject(request)
  const container = engine.getContainer(typeof body.Container === 'string' ? body.Container : '')
  if (network.driver === 'host' || network.driver === 'null') throw engineErrors.forbidden(`container cannot be disconnected from host network or connected to host network`)
  const config = body.EndpointConfig as { Aliases?: string[] | null, IPAMConfig?: unknown } | undefined
  engine.connect(container, network, config?.Aliases ?? null, config?.IPAMConfig ?? null)
  return emptyReply(200)
}

const disconnect: Operation = (engine, request) => {
  decodeEngineBody('NetworkDisconnect', request.body)
  const network = engine.getNetwork(request.target)
  const body = bodyObject(request)
  const container = engine.getContainer(typeof body.Container === 'string' ? body.Container : '')
  engine.disconnect(container, network)
  return emptyReply(200)
}

const prune: Operation = (engine, request) => {
  const filters = parseFilters(request.query)
  for (const key of Object.keys(filters)) if (key !== 'until' && key !== 'label' && key !== 'label!') throw engineErrors.badRequest(`Invalid filter '${key}'`)
  const until = parseClientTime(filters.until?.[0])
  const deleted: string[] = []
  for (const network of [...engine.networks.values()]) {
    if (network.builtin || network.endpoints.size > 0) continue
    if (until !== undefined && network.created > until) continue
    if (filters.label !== undefined && !filters.label.every((label) => labelMatches(label, network.labels))) continue
    if (filters['label!'] !== undefined && filters['label!'].some((label) => labelMatches(label, network.labels))) continue
    removeNetwork(engine, network)
    deleted.push(network.name)
  }
  engine.emit({ time: now(), type: 'network', action: 'prune', id: '', attributes: { reclaimed: '0' } })
  return jsonReply({ NetworksDeleted: deleted.length === 0 ? null : deleted })
}

/** The network operations, by operationId. */
export const networkOperations: Record<string, Operation> = {
  NetworkList: list,
  NetworkCreate: create,
  NetworkInspect: inspect,
  NetworkDelete: remove,
  NetworkConnect: connect,
  NetworkDisconnect: disconnect,
  NetworkPrune: prune
}

