import { ENGINE_BODY_TYPES, type GoType } from '@libswarm/docker-api'

/**
 * Go's `encoding/json` matches a JSON key to a struct field without regard to case, folding
 * each character as `unicode.ToUpper(unicode.ToLower(r))`: `"privileged"`, `"PRIVILEGED"` and
 * `"Prıvileged"` (dotless i) all set `Privileged`, and a later key overwrites or merges into an
 * earlier one. A policy that read only `HostConfig.Privileged` would miss them all, so every body
 * is first rewritten with each field under its one Go name, merged in document order as Go merges
 * it, and that rewritten body is what goes on to the engine: the engine reads exactly what the
 * policy checked.
 */
export function foldKey (key: string): string {
  // ASCII folds to its upper case; only other characters need Go's two-step fold
  if (/^[\x00-\x7f]*$/.test(key)) return key.toUpperCase()
  let folded = ''
  for (const char of key) folded += char.toLowerCase().toUpperCase()
  return folded
}

type Json = unknown
type JsonObject = Record<string, Json>

const isObject = (value: Json): value is JsonObject => typeof value === 'object' && value !== null && !Array.isArray(value)

const foldedFields = new WeakMap<object, Map<string, string>>()

function fieldName (fields: Readonly<Record<string, GoType>>, key: string): string | undefined {
  if (Object.hasOwn(fields, key)) return key
  let folded = foldedFields.get(fields)
  if (folded === undefined) {
    folded = new Map(Object.keys(fields).map((name) => [foldKey(name), name]))
    foldedFields.set(fields, folded)
  }
  return folded.get(foldKey(key))
}

/** Values of these kinds have no field names inside: they go on as they came. */
const isScalar = (type: GoType): boolean => type.kind !== 'struct' && type.kind !== 'map' && type.kind !== 'slice'

/** `value` decoded into `type` as Go would, with canonical field names; a struct merges into `into`. */
function canonical (value: Json, type: GoType, into: Json): Json {
  if (value === null || value === undefined) return value
  switch (type.kind) {
    case 'struct': {
      if (!isObject(value)) return value
      const out: JsonObject = isObject(into) ? { ...into } : {}
      for (const [key, item] of Object.entries(value)) {
        const name = fieldName(type.fields, key)
        // a field this table does not know (a newer API's) goes on as it came
        if (name === undefined) out[key] = item
        else out[name] = canonical(item, type.fields[name] as GoType, out[name])
      }
      return out
    }
    case 'map': {
      if (!isObject(value)) return value
      if (!isObject(into) && isScalar(type.value)) return value
      // Go decodes into an existing map by adding keys; a map's keys are exact
      const out: JsonObject = isObject(into) ? { ...into } : {}
      for (const [key, item] of Object.entries(value)) out[key] = canonical(item, type.value, undefined)
      return out
    }
    case 'slice':
      if (!Array.isArray(value) || isScalar(type.element)) return value
      return value.map((item) => canonical(item, type.element, undefined))
    default:
      return value
  }
}

/** The body of an operation with a typed body (ContainerCreate, ContainerUpdate, ContainerExec, NetworkCreate, NetworkConnect, VolumeCreate), canonical; other bodies unchanged. */
export function canonicalBody (operation: string, body: Json): Json {
  const spec = Object.hasOwn(ENGINE_BODY_TYPES, operation) ? ENGINE_BODY_TYPES[operation] : undefined
  if (spec === undefined || !isObject(body)) return body
  return canonical(body, spec.type, undefined)
}

/**
 * Every value found at `path` of an untyped body (a swarm service spec), under any spelling Go
 * would take for each key: a check that looks at all of them cannot be dodged by a second
 * spelling. `*` walks a list's items.
 */
export function valuesAt (value: Json, path: readonly string[]): Json[] {
  if (path.length === 0) return [value]
  const [head, ...rest] = path as [string, ...string[]]
  if (head === '*') return Array.isArray(value) ? value.flatMap((item) => valuesAt(item, rest)) : []
  if (!isObject(value)) return []
  const wanted = foldKey(head)
  return Object.entries(value).filter(([key]) => foldKey(key) === wanted).flatMap(([, item]) => valuesAt(item, rest))
}
