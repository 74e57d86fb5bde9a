/**
 * A MessagePack decoder for the values frames carry most: maps with short ASCII keys,
 * arrays, ASCII strings of up to 64 bytes, integers of up to 32 bits, float64, nil and
 * booleans. It gives exactly what msgpackr gives for them, and NOT_COMMON for a frame
 * with anything else (or anything wrong, or a `__proto__` key): the codec then decodes that
 * frame with msgpackr.
 *
 * Why: msgpackr's key cache only serves buffers under 180 bytes. In a frame of a
 * thousand `{ id }` jobs every key is a new string that V8 looks up in its string table
 * on the store, which was a third of a slave's CPU. Here a key's bytes map to one
 * interned string, and the decoder runs at about twice msgpackr's speed on such frames.
 */
export const NOT_COMMON: unique symbol = Symbol('not common')

/** Thrown inside the decoder to give up on a frame (any other error gives up too). */
// GIVE_UP is thrown, not an Error: the throw that leaves a frame to msgpackr must cost no
// stack capture, and it never escapes this file.
/* eslint-disable @typescript-eslint/only-throw-error */
const GIVE_UP: unique symbol = Symbol('give up')

/** Keys (fixstr, at most 31 bytes) by a hash of their bytes; a collision replaces the entry. */
interface KeyEntry {
  bytes: Uint8Array
  key: string
}
const KEY_SLOTS = 4096
const keys: (KeyEntry | undefined)[] = new Array<KeyEntry | undefined>(KEY_SLOTS)

/** Below this length a string is built in JS; above, decoded natively. */
const SHORT_STRING = 16
/**
 * A frame with a string longer than this goes to msgpackr, whose native helper
 * extracts all of a frame's strings in one call: with 1 KB strings a slave spent 10 %
 * more CPU decoding them one by one here.
 */
const LONG_STRING = 64

// The frame being decoded. Module-level `var`s, as in msgpackr: V8 reads them faster
// than `let` bindings, which carry a hole check.
let src: Buffer
let view: DataView
let pos = 0
/** What the decoder holds between frames (not the last frame: it may be big). */
const EMPTY = Buffer.alloc(0)
const EMPTY_VIEW = new DataView(EMPTY.buffer)

/** Decodes one frame, or NOT_COMMON when it holds something this decoder leaves to msgpackr. */
export function decodeCommon(bytes: Uint8Array): unknown {
  src = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  pos = 0
  try {
    const value = read()
    return pos === bytes.length ? value : NOT_COMMON
  } catch {
    // GIVE_UP, or a read past the end (RangeError): msgpackr decodes or rejects it.
    return NOT_COMMON
  } finally {
    src = EMPTY
    view = EMPTY_VIEW
  }
}

function read(): unknown {
  const token = src[pos++]
  if (token < 0x80) return token
  if (token < 0x90) return readMap(token - 0x80)
  if (token < 0xa0) return readArray(token - 0x90)
  if (token < 0xc0) return readString(token - 0xa0)
  if (token >= 0xe0) return token - 0x100
  switch (token) {
    case 0xc0:
      return null
    case 0xc2:
      return false
    case 0xc3:
      return true
    case 0xcc:
      return view.getUint8(pos++)
    case 0xcd:
      return uint16()
    case 0xce:
      return uint32()
    case 0xd0:
      return view.getInt8(pos++)
    case 0xd1:
      return advance(2, view.getInt16(pos))
    case 0xd2:
      return advance(4, view.getInt32(pos))
    case 0xcb:
      return advance(8, view.getFloat64(pos))
    case 0xd9:
      return readString(view.getUint8(pos++))
    case 0xda:
      return readString(uint16())
    case 0xdb:
      return readString(uint32())
    case 0xdc:
      return readArray(uint16())
    case 0xdd:
      return readArray(uint32())
    case 0xde:
      return readMap(uint16())
    case 0xdf:
      return readMap(uint32())
  }
  // 64-bit integers (bigint), float32, binary, extensions and 0xc1 are msgpackr's.
  throw GIVE_UP
}

/** `value`, read at `pos`, after moving `pos` past its `width` bytes. */
function advance(width: number, value: number): number {
  pos += width
  return value
}

const uint16 = (): number => advance(2, view.getUint16(pos))
const uint32 = (): number => advance(4, view.getUint32(pos))

function readArray(length: number): unknown[] {
  if (pos + length > src.length) throw GIVE_UP
  const array = new Array<unknown>(length)
  for (let i = 0; i < length; i++) array[i] = read()
  return array
}

function readMap(length: number): Record<string, unknown> {
  if (pos + 2 * length > src.length) throw GIVE_UP
  const object: Record<string, unknown> = {}
  for (let i = 0; i < length; i++) {
    const key = readKey()
    object[key] = read()
  }
  return object
}

/** A fixstr key, as one interned string per distinct key. */
function readKey(): string {
  const token = src[pos]
  if (token < 0xa0 || token >= 0xc0) throw GIVE_UP
  const length = token - 0xa0
  const start = pos + 1
  const end = start + length
  if (end > src.length) throw GIVE_UP
  let hash = length
  for (let i = start; i < end; i++) hash = (hash * 31 + src[i]) & (KEY_SLOTS - 1)
  const entry = keys[hash]
  if (entry !== undefined && entry.bytes.length === length) {
    const bytes = entry.bytes
    let i = 0
    while (i < length && bytes[i] === src[start + i]) i++
    if (i === length) {
      pos = end
      return entry.key
    }
  }
  pos = start
  const text = readString(length)
  // Assigning it would set the object's prototype: the codec decodes such a (rare) frame
  // faithfully off this path. Never cached, so every occurrence comes through this check.
  if (text === '__proto__') throw GIVE_UP
  const key = intern(text)
  // A copy: Buffer#slice is a view, which would pin the frame and change with its memory.
  keys[hash] = { bytes: Uint8Array.prototype.slice.call(src, start, end), key }
  return key
}

/** The string V8 keeps in its table for `text`: a property store then needs no lookup. */
function intern(text: string): string {
  const holder: Record<string, number> = {}
  holder[text] = 0
  return Object.keys(holder)[0]
}

/**
 * The `n` (at most 8) ASCII bytes at `start` as a string, in one call: adding a character
 * at a time made a string per character (a job's 7-digit id was seven strings, most of a
 * slave's allocation).
 */
function chars(start: number, n: number): string {
  const b = src
  const s = start
  switch (n) {
    case 0:
      return ''
    case 1:
      return String.fromCharCode(b[s])
    case 2:
      return String.fromCharCode(b[s], b[s + 1])
    case 3:
      return String.fromCharCode(b[s], b[s + 1], b[s + 2])
    case 4:
      return String.fromCharCode(b[s], b[s + 1], b[s + 2], b[s + 3])
    case 5:
      return String.fromCharCode(b[s], b[s + 1], b[s + 2], b[s + 3], b[s + 4])
    case 6:
      return String.fromCharCode(b[s], b[s + 1], b[s + 2], b[s + 3], b[s + 4], b[s + 5])
    case 7:
      return String.fromCharCode(b[s], b[s + 1], b[s + 2], b[s + 3], b[s + 4], b[s + 5], b[s + 6])
    default:
      return String.fromCharCode(b[s], b[s + 1], b[s + 2], b[s + 3], b[s + 4], b[s + 5], b[s + 6], b[s + 7])
  }
}

/** An ASCII string of `length` bytes (anything else is left to msgpackr's UTF-8 decoding). */
function readString(length: number): string {
  const start = pos
  const end = start + length
  if (end > src.length) throw GIVE_UP
  pos = end
  if (length < SHORT_STRING) {
    for (let i = start; i < end; i++) if (src[i] >= 0x80) throw GIVE_UP
    return length <= 8 ? chars(start, length) : chars(start, 8) + chars(start + 8, length - 8)
  }
  if (length > LONG_STRING) throw GIVE_UP
  // One native decode. The string is ASCII if it kept one character per byte and holds
  // no U+FFFD (what an invalid byte becomes); checking the bytes first costs more.
  const text = src.toString('utf8', start, end)
  if (text.length !== length || text.indexOf('\uFFFD') >= 0) throw GIVE_UP
  return text
}
