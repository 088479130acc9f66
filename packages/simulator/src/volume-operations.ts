import { decodeEngineBody, jsonReply, parseFilters, queryFlag } from '@libswarm/docker-api'
import { now } from './clock.js'
import type { Engine, SimVolume } from './engine.js'
import { engineErrors } from './errors.js'
import { labelMatches } from './event-log.js'
import { bodyObject, emptyReply, type Operation } from './operation.js'

const LIST_FILTERS = new Set(['dangling', 'driver', 'label', 'name'])

/** A volume as `GET /volumes/{name}` shows it; `usage` adds df's UsageData. */
export function volumeInspect (volume: SimVolume, usage = false): Record<string, unknown> {
  const shape: Record<string, unknown> = {
    CreatedAt: new Date(Math.floor(volume.created / 1000) * 1000).toISOString().replace('.000Z', 'Z'),
    Driver: volume.driver,
    Labels: volume.labels,
    Mountpoint: `/var/lib/docker/volumes/${volume.name}/_data`,
    Name: volume.name,
    Options: volume.options,
    Scope: 'local'
  }
  if (usage) shape.UsageData = { RefCount: volume.users.size, Size: 0 }
  return shape
}

function getVolume (engine: Engine, name: string): SimVolume {
  const volume = engine.volumes.get(name)
  if (volume === undefined) throw engineErrors.noSuchVolume(name)
  return volume
}

const list: Operation = (engine, request) => {
  const filters = parseFilters(request.query)
  for (const key of Object.keys(filters)) if (!LIST_FILTERS.has(key)) throw engineErrors.badRequest(`Invalid filter '${key}'`)
  const volumes: Array<Record<string, unknown>> = []
  for (const volume of engine.volumes.values()) {
    if (filters.name !== undefined && !filters.name.some((name) => volume.name.includes(name))) continue
    if (filters.driver !== undefined && !filters.driver.includes(volume.driver)) continue
    if (filters.label !== undefined && !filters.label.every((label) => labelMatches(label, volume.labels))) continue
    if (filters.dangling !== undefined && (filters.dangling[0] === 'true' || filters.dangling[0] === '1') !== (volume.users.size === 0)) continue
    volumes.push(volumeInspect(volume))
  }
  return jsonReply({ Volumes: volumes, Warnings: null })
}

const create: Operation = (engine, request) => {
  decodeEngineBody('VolumeCreate', request.body)
  const body = bodyObject(request)
  const name = typeof body.Name === 'string' && body.Name !== '' ? body.Name : undefined
  if (name !== undefined && !/^[a-zA-Z0-9][a-zA-Z0-9_.-]+$/.test(name)) {
    throw engineErrors.badRequest(`create ${name}: "${name}" includes invalid characters for a local volume name, only "[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed. If you intended to pass a host directory, use absolute path`)
  }
  const driver = typeof body.Driver === 'string' && body.Driver !== '' ? body.Driver : 'local'
  if (driver !== 'local') throw engineErrors.notImplemented(`the volume driver "${driver}"`)
  const { volume } = engine.volume(name, { driver, labels: (body.Labels as Record<string, string> | null | undefined) ?? {}, options: (body.DriverOpts as Record<string, string> | null | undefined) ?? {} })
  return jsonReply(volumeInspect(volume), 201)
}

const inspect: Operation = (engine, request) => jsonReply(volumeInspect(getVolume(engine, request.target)))

function removeVolume (engine: Engine, volume: SimVolume): void {
  engine.volumes.delete(volume.name)
  engine.emit({ time: now(), type: 'volume', action: 'destroy', id: volume.name, attributes: { driver: volume.driver } })
}

const remove: Operation = (engine, request) => {
  const volume = engine.volumes.get(request.target)
  if (volume === undefined) {
    if (queryFlag(request.query, 'force')) return emptyReply()
    throw engineErrors.noSuchVolume(request.target)
  }
  if (volume.users.size > 0) throw engineErrors.conflict(`remove ${volume.name}: volume is in use - [${[...volume.users].join(', ')}]`)
  removeVolume(engine, volume)
  return emptyReply()
}

const prune: Operation = (engine, request) => {
  const filters = parseFilters(request.query)
  for (const key of Object.keys(filters)) if (key !== 'label' && key !== 'label!' && key !== 'all') throw engineErrors.badRequest(`Invalid filter '${key}'`)
  const onlyAnonymous = request.version !== undefined && Number(request.version) >= 1.42 && filters.all?.[0] !== 'true' && filters.all?.[0] !== '1'
  const deleted: string[] = []
  for (const volume of [...engine.volumes.values()]) {
    if (volume.users.size > 0) continue
    if (onlyAnonymous && !volume.anonymous) continue
    if (filters.label !== undefined && !filters.label.every((label) => labelMatches(label, volume.labels))) continue
    if (filters['label!'] !== undefined && filters['label!'].some((label) => labelMatches(label, volume.labels))) continue
    removeVolume(engine, volume)
    deleted.push(volume.name)
  }
  engine.emit({ time: now(), type: 'volume', action: 'prune', id: '', attributes: { reclaimed: '0' } })
  return jsonReply({ VolumesDeleted: deleted.length === 0 ? null : deleted, SpaceReclaimed: 0 })
}

/** The volume operations, by operationId. */
export const volumeOperations: Record<string, Operation> = {
  VolumeList: list,
  VolumeCreate: create,
  VolumeInspect: inspect,
  VolumeDelete: remove,
  VolumePrune: prune
}
