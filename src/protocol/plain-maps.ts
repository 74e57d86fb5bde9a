/**
 * Faithful decoding of maps with a `__proto__` key. msgpackr (like the fast decoder
 * before it) renames such a key to `__proto_` so that `object[key] = value` cannot set
 * the object's prototype; that changes the user's data (and clobbers a real `__proto_`
 * key). A frame that may hold one is decoded with maps as Map instead, and each Map is
 * made a plain object here, the `__proto__` key defined as an own data property: the
 * key is kept and no prototype is touched. Such frames are rare, so this stays off the
 * common path.
 */

/** The bytes of the key: a frame without them cannot hold it. */
const PROTO_BYTES = Buffer.from('__proto__')

/** True when `bytes` may hold a `__proto__` key (it may also be in a string value). */
export function mayHoldProtoKey(bytes: Uint8Array): boolean {
  const buffer = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  return buffer.indexOf(PROTO_BYTES) !== -1
}

/** A map key as a property name, as msgpackr's maps-as-objects mode makes it. */
function propertyName(key: unknown): string {
  if (typeof key === 'string') return key
  if (typeof key === 'number' || typeof key === 'boolean' || typeof key === 'bigint') return key.toString()
  if (key === null || key === undefined) return String(key)
  throw new Error(`Invalid property type for record: ${typeof key}`)
}

/**
 * `value` (decoded with maps as Map) with every Map, at any depth, replaced by a plain
 * object holding the same keys, `__proto__` included as an own key.
 */
export function plainMaps(value: unknown): unknown {
  if (value instanceof Map) {
    const object: Record<string, unknown> = {}
    for (const [key, item] of value) {
      const name = propertyName(key)
      if (name === '__proto__')
        Object.defineProperty(object, name, { value: plainMaps(item), writable: true, enumerable: true, configurable: true })
      else object[name] = plainMaps(item)
    }
    return object
  }
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) value[i] = plainMaps(value[i])
  }
  return value
}
