import { parseBind } from './container-facts.js'
import type { Rewrites } from './policy-schema.js'

type JsonObject = Record<string, unknown>
const object = (value: unknown): JsonObject => typeof value === 'object' && value !== null && !Array.isArray(value) ? value as JsonObject : {}

/** What a rewrite changed, for the audit line. */
export type RewriteNote = string

/** `-v SRC:DST[:MODE]` made read-only. */
function readOnlyBind (bind: string): string {
  const { source, target, mode } = parseBind(bind)
  if (!source.startsWith('/')) return bind
  const modes = mode === '' ? [] : mode.split(',').filter((item) => item !== 'rw')
  if (!modes.includes('ro')) modes.push('ro')
  return `${source}:${target}:${modes.join(',')}`
}

/**
 * Sets the labels of a create body (`Labels` of ContainerCreate, NetworkCreate, VolumeCreate):
 * the rule's labels, then the owner label, over whatever the request said for those keys. The
 * owner label is removed when there is no owner, so no request can claim an identity.
 */
export function setLabels (body: JsonObject, labels: Readonly<Record<string, string>>, ownerLabel: string, owner: string | undefined, notes: RewriteNote[]): JsonObject {
  const current = { ...object(body.Labels) } as Record<string, unknown>
  for (const [key, value] of Object.entries(labels)) {
    if (current[key] !== value) notes.push(`label ${key}`)
    current[key] = value
  }
  if (owner === undefined) {
    if (Object.hasOwn(current, ownerLabel)) { delete current[ownerLabel]; notes.push(`removed label ${ownerLabel}`) }
  } else {
    if (current[ownerLabel] !== owner) notes.push(`label ${ownerLabel}=${owner}`)
    current[ownerLabel] = owner
  }
  return { ...body, Labels: current }
}

/** The container create body with the rule's rewrites applied (its HostConfig only; labels apart). */
export function rewriteContainerCreate (body: JsonObject, rewrite: Rewrites | undefined, defaultMemory: number | undefined, notes: RewriteNote[]): JsonObject {
  if (rewrite === undefined) return body
  const host = { ...object(body.HostConfig) }
  if (rewrite.readOnlyHostPaths === true) {
    if (Array.isArray(host.Binds)) {
      const binds = (host.Binds as unknown[]).map((bind) => typeof bind === 'string' ? readOnlyBind(bind) : bind)
      if (binds.some((bind, index) => bind !== (host.Binds as unknown[])[index])) notes.push('host paths read-only')
      host.Binds = binds
    }
    if (Array.isArray(host.Mounts)) {
      host.Mounts = (host.Mounts as unknown[]).map((raw) => {
        const mount = object(raw)
        const device = object(object(object(mount.VolumeOptions).DriverConfig).Options).device
        const hostPath = mount.Type === 'bind' || (mount.Type === 'volume' && typeof device === 'string' && device.startsWith('/'))
        if (!hostPath || mount.ReadOnly === true) return raw
        notes.push(`mount ${String(mount.Target)} read-only`)
        return { ...mount, ReadOnly: true }
      })
    }
  }
  if (defaultMemory !== undefined && !(typeof host.Memory === 'number' && host.Memory > 0)) {
    host.Memory = defaultMemory
    notes.push(`memory ${defaultMemory}`)
  }
  if (rewrite.noNewPrivileges === true) {
    const options = Array.isArray(host.SecurityOpt) ? (host.SecurityOpt as unknown[]).filter((item): item is string => typeof item === 'string') : []
    if (!options.some((option) => /^no-new-privileges([:=]true)?$/.test(option))) {
      // a later `no-new-privileges:false` must not undo it
      host.SecurityOpt = [...options.filter((option) => !option.startsWith('no-new-privileges')), 'no-new-privileges:true']
      notes.push('no-new-privileges')
    }
  }
  if (rewrite.dropCapabilities !== undefined && rewrite.dropCapabilities.length > 0) {
    const current = typeof host.CapDrop === 'string' ? [host.CapDrop] : Array.isArray(host.CapDrop) ? (host.CapDrop as unknown[]).filter((item): item is string => typeof item === 'string') : []
    const added = rewrite.dropCapabilities.filter((cap) => !current.includes(cap))
    if (added.length > 0) { host.CapDrop = [...current, ...added]; notes.push(`cap-drop ${added.join(',')}`) }
  }
  return { ...body, HostConfig: host }
}

/** A volume whose driver options bind a host path, made read-only (`o=bind,ro`). */
export function rewriteVolumeCreate (body: JsonObject, rewrite: Rewrites | undefined, notes: RewriteNote[]): JsonObject {
  if (rewrite?.readOnlyHostPaths !== true) return body
  const options = object(body.DriverOpts)
  if (typeof options.device !== 'string' || !options.device.startsWith('/')) return body
  const o = typeof options.o === 'string' && options.o !== '' ? options.o.split(',').filter((item) => item !== 'rw') : []
  if (o.includes('ro')) return body
  notes.push('volume read-only')
  return { ...body, DriverOpts: { ...options, o: [...o, 'ro'].join(',') } }
}
