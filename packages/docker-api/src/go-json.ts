/**
 * A Go type as `encoding/json` decodes into it: enough of Go's rules to refuse the bodies dockerd
 * refuses, with its messages. `name` is the type as Go prints it (`[]string`, `nat.PortMap`).
 */
export type GoType =
  | { readonly kind: 'string' | 'bool' | 'float' | 'any', readonly name: string }
  | { readonly kind: 'int', readonly name: string, readonly min: number, readonly max: number }
  /** Docker's strslice.StrSlice: a string or a list of strings, through its own UnmarshalJSON. */
  | { readonly kind: 'strslice', readonly name: string }
  /** A slice, or with `length` a Go array (`[2]uint`), whose elements past `length` Go skips. */
  | { readonly kind: 'slice', readonly name: string, readonly element: GoType, readonly length?: number }
  | { readonly kind: 'map', readonly name: string, readonly value: GoType }
  | { readonly kind: 'struct', readonly name: string, readonly fields: Readonly<Record<string, GoType>> }

/** Go's integer types; an int64 goes to 2^63 (a double cannot say 2^63 - 1). */
export const goInt = (name: string, min = -(2 ** 63), max = 2 ** 63): GoType => ({ kind: 'int', name, min, max })
export const goUint = (name: string, bits: number): GoType => goInt(name, 0, 2 ** bits - 1)
export const goString = (name = 'string'): GoType => ({ kind: 'string', name })
export const goBool: GoType = { kind: 'bool', name: 'bool' }
export const strSlice: GoType = { kind: 'strslice', name: 'string' }
export const goSlice = (element: GoType, name = `[]${element.name}`): GoType => ({ kind: 'slice', name, element })
export const goArray = (length: number, element: GoType): GoType => ({ kind: 'slice', name: `[${length}]${element.name}`, element, length })
export const goMap = (value: GoType, name = `map[string]${value.name}`): GoType => ({ kind: 'map', name, value })
export const goStruct = (name: string, fields: Record<string, GoType>): GoType => ({ kind: 'struct', name, fields })

/** Where the decoder is, as Go's errorContext: the innermost struct and the field names from the root. */
interface Context {
  readonly struct: string
  readonly path: readonly string[]
}

/** An error from a type's own UnmarshalJSON: Go stops decoding there. */
class Fatal {
  constructor (readonly message: string) {}
}

function kindOf (value: unknown): string {
  if (Array.isArray(value)) return 'array'
  if (typeof value === 'boolean') return 'bool'
  return typeof value
}

function unmarshalError (value: string, type: GoType, context: Context | undefined): string {
  if (context === undefined) return `json: cannot unmarshal ${value} into Go value of type ${type.name}`
  return `json: cannot unmarshal ${value} into Go struct field ${context.struct}.${context.path.join('.')} of type ${type.name}`
}

/** A struct's fields by name, exact first, then without regard to case as Go matches them. */
const foldedFields = new WeakMap<Readonly<Record<string, GoType>>, Map<string, [string, GoType]>>()

function fieldOf (fields: Readonly<Record<string, GoType>>, key: string): [string, GoType] | undefined {
  const exact = fields[key]
  if (exact !== undefined && Object.hasOwn(fields, key)) return [key, exact]
  let folded = foldedFields.get(fields)
  if (folded === undefined) {
    folded = new Map(Object.entries(fields).map(([name, type]) => [name.toLowerCase(), [name, type]]))
    foldedFields.set(fields, folded)
  }
  return folded.get(key.toLowerCase())
}

/**
 * The error Go's `json.Decoder.Decode` would give for `value` (already parsed JSON) decoded into
 * `type`, or `undefined` when it decodes: `null` fits anything, unknown struct fields are ignored,
 * field names match without regard to case, and the first type error in document order wins
 * unless a type's own UnmarshalJSON (strslice) fails, which stops at once. One pass, linear in
 * the size of the value.
 *
 * Go sees the number as written: `1.0` and `1e3` are not integers there; here they are, as the
 * body arrives parsed.
 *
 * @example
 * ```ts
 * goDecodeError({ Tty: 'yes' }, goStruct('ContainerConfigWrapper', { Tty: goBool }))
 * // 'json: cannot unmarshal string into Go struct field ContainerConfigWrapper.Tty of type bool'
 * ```
 */
export function goDecodeError (value: unknown, type: GoType): string | undefined {
  let first: string | undefined
  const save = (message: string): void => { first ??= message }

  const decode = (value: unknown, type: GoType, context: Context | undefined): void => {
    if (value === null || value === undefined) return
    const kind = kindOf(value)
    switch (type.kind) {
      case 'any':
        return
      case 'string':
        if (kind !== 'string') save(unmarshalError(kind, type, context))
        return
      case 'bool':
        if (kind !== 'bool') save(unmarshalError(kind, type, context))
        return
      case 'float':
        if (kind !== 'number') save(unmarshalError(kind, type, context))
        return
      case 'int':
        if (kind !== 'number') save(unmarshalError(kind, type, context))
        else if (!Number.isInteger(value) || (value as number) < type.min || (value as number) > type.max) save(unmarshalError(`number ${String(value)}`, type, context))
        return
      case 'strslice':
        if (kind === 'string') return
        if (kind === 'array' && (value as unknown[]).every((item) => item === null || typeof item === 'string')) return
        throw new Fatal(unmarshalError(kind, type, context))
      case 'slice': {
        if (kind !== 'array') return save(unmarshalError(kind, type, context))
        const items = value as unknown[]
        const count = type.length === undefined ? items.length : Math.min(type.length, items.length)
        for (let index = 0; index < count; index++) decode(items[index], type.element, context)
        return
      }
      case 'map':
        if (kind !== 'object') return save(unmarshalError(kind, type, context))
        for (const item of Object.values(value as Record<string, unknown>)) decode(item, type.value, context)
        return
      case 'struct': {
        if (kind !== 'object') return save(unmarshalError(kind, type, context))
        const struct = type.name.slice(type.name.lastIndexOf('.') + 1)
        const path = context?.path ?? []
        for (const [key, item] of Object.entries(value as Record<string, unknown>)) {
          const field = fieldOf(type.fields, key)
          if (field !== undefined) decode(item, field[1], { struct, path: [...path, field[0]] })
        }
      }
    }
  }

  try {
    decode(value, type, undefined)
  } catch (error) {
    if (error instanceof Fatal) return error.message
    throw error
  }
  return first
}

function zeroOf (type: GoType): unknown {
  switch (type.kind) {
    case 'string': return ''
    case 'bool': return false
    case 'int': case 'float': return 0
    case 'struct': return {}
    default: return null
  }
}

/**
 * Gives the `null`s inside lists and maps of a value that decodes into `type` the value Go gives
 * them, in place: `["a", null]` into `[]string` is `["a", ""]`, `[null]` into `[]nat.PortBinding`
 * is `[{}]`; a list of pointers (`[]*units.Ulimit`) keeps its `null`s, as Go keeps nil pointers.
 * Run it after {@link goDecodeError} found nothing.
 */
export function fillGoZeros (value: unknown, type: GoType): void {
  if (value === null || typeof value !== 'object') return
  switch (type.kind) {
    case 'strslice':
    case 'slice':
      if (!Array.isArray(value)) return
      for (let index = 0; index < value.length; index++) {
        const element = type.kind === 'strslice' ? goString() : type.element
        if (value[index] === null) {
          if (!isPointer(type)) value[index] = zeroOf(element)
        } else fillGoZeros(value[index], element)
      }
      return
    case 'map':
      for (const [key, item] of Object.entries(value)) {
        if (item === null) {
          if (!isPointer(type)) (value as Record<string, unknown>)[key] = zeroOf(type.value)
        } else fillGoZeros(item, type.value)
      }
      return
    case 'struct':
      for (const [key, item] of Object.entries(value)) {
        const field = fieldOf(type.fields, key)
        if (field !== undefined) fillGoZeros(item, field[1])
      }
  }
}

/** True when a list's or map's elements are pointers (`[]*T`, `map[string]*T`), which stay nil. */
function isPointer (type: GoType): boolean {
  return type.name.startsWith('[]*') || type.name.includes(']*')
}
