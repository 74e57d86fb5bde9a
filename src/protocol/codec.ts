import { C1, Packr } from 'msgpackr'
import { ProtocolError } from '../errors.js'
import { NOT_COMMON, decodeCommon } from './fast-decoder.js'
import type { MasterMessage, Message, SlaveMessage } from './messages.js'
import { MAX_SLAVE_TEXT, MIN_FRAME, PROTOCOL_VERSION } from './messages.js'
import { mayHoldProtoKey, plainMaps } from './plain-maps.js'

// Plain MessagePack maps (no msgpackr record extension), so any MessagePack library
// can speak the protocol and the bytes are stable enough to pin in golden tests.
// 64-bit integers decode as bigint, so bigint job keys survive the round trip.
/** The encoder's options: every encoder of frames (see frame-slabs.ts) uses these. */
export const PACKR_OPTIONS = { useRecords: false, moreTypes: false, mapsAsObjects: true } as const
const packr = new Packr(PACKR_OPTIONS)
/** The same, with maps as Map: for frames that may hold a `__proto__` key (see plain-maps.ts). */
const mapsPackr = new Packr({ useRecords: false, moreTypes: false, mapsAsObjects: false })

/** Encodes one message as the bytes of one binary frame. Pure: no state between calls. */
export function encode(message: Message): Buffer {
  return packr.pack(message)
}

type Check = (message: Record<string, unknown>) => void

/** Human-readable type of a value for "Expected ..., got ..." messages. */
function kindOf(value: unknown): string {
  if (value === null) return 'null'
  if (Array.isArray(value)) return 'array'
  if (value instanceof Uint8Array) return 'binary'
  if (typeof value === 'object' && Object.getPrototypeOf(value) !== Object.prototype) return value.constructor?.name ?? 'object'
  return typeof value
}

function fail(type: string, field: string, expected: string, value: unknown): never {
  throw new ProtocolError(`Invalid '${type}' message: expected \`${field}\` to be ${expected}, got ${kindOf(value)}`)
}

function count(m: Record<string, unknown>, field: string): void {
  const value = m[field]
  if (!Number.isSafeInteger(value) || (value as number) < 0) fail(m.type as string, field, 'a non-negative integer', value)
}

function text(m: Record<string, unknown>, field: string, optional = false): void {
  const value = m[field]
  if (optional && value === undefined) return
  if (typeof value !== 'string') fail(m.type as string, field, 'a string', value)
}

/** A run's identity (see WelcomeMessage.identity). */
const IDENTITY = /^[0-9a-f]{16}$/

/** A sequence number: an integer >= 0 (a plain number on the wire). */
const isSeq = (value: unknown): boolean => typeof value === 'number' && value >= 0 && value % 1 === 0

function seqList(m: Record<string, unknown>, field = 'seqs'): void {
  const value = m[field]
  if (!Array.isArray(value)) fail(m.type as string, field, 'an array of sequence numbers', value)
  for (let i = 0; i < value.length; i++) {
    if (!isSeq(value[i])) fail(m.type as string, `${field}[${i}]`, 'a sequence number', value[i])
  }
}

function rangeList(m: Record<string, unknown>): void {
  const value = m.ranges
  if (!Array.isArray(value) || value.length % 2 !== 0)
    fail(m.type as string, 'ranges', 'a flat array of [first seq, count] pairs (an even length)', value)
  for (let i = 0; i < value.length; i += 2) {
    if (!isSeq(value[i])) fail(m.type as string, `ranges[${i}]`, 'a sequence number', value[i])
    if (!isSeq(value[i + 1]) || value[i + 1] === 0) fail(m.type as string, `ranges[${i + 1}]`, 'a count of at least 1', value[i + 1])
  }
}

const checks = {
  hello(m) {
    count(m, 'version')
    if (m.version !== PROTOCOL_VERSION) {
      throw new ProtocolError(
        `Unsupported protocol version ${String(m.version)}: this master speaks version ${PROTOCOL_VERSION}; run the same Taskmaster version on master and slaves`,
      )
    }
    text(m, 'token', true)
    const slave = m.slave as Record<string, unknown> | undefined
    if (typeof slave !== 'object' || slave === null || Array.isArray(slave)) fail('hello', 'slave', 'an object', slave)
    const s = { ...slave, type: 'hello' }
    text(s, 'id')
    text(s, 'hostname')
    // Shown in every status document, log line and chart: a host name is at most 255 bytes (POSIX), a slave's id far less.
    for (const field of ['id', 'hostname'] as const)
      if ((slave[field] as string).length > MAX_SLAVE_TEXT)
        fail('hello', `slave.${field}`, `a string of at most ${MAX_SLAVE_TEXT} characters`, slave[field])
    count(s, 'pid')
    count(s, 'concurrency')
    // Below the smallest --max-frame no jobs frame fits, and the slave would get nothing.
    const maxFrame = slave.maxFrame
    if (maxFrame !== undefined && (!Number.isSafeInteger(maxFrame) || (maxFrame as number) < MIN_FRAME))
      fail('hello', 'slave.maxFrame', `an integer >= ${MIN_FRAME}`, maxFrame)
    const batch = slave.batch
    if (batch !== undefined && (!Number.isSafeInteger(batch) || (batch as number) < 1))
      fail('hello', 'slave.batch', 'an integer >= 1', batch)
    if (slave.durable !== undefined && typeof slave.durable !== 'boolean') fail('hello', 'slave.durable', 'true or false', slave.durable)
  },
  welcome(m) {
    count(m, 'version')
    if (m.version !== PROTOCOL_VERSION) {
      throw new ProtocolError(
        `Unsupported protocol version ${String(m.version)}: this slave speaks version ${PROTOCOL_VERSION}; run the same Taskmaster version on master and slaves`,
      )
    }
    text(m, 'run')
    count(m, 'session')
    if (typeof m.heartbeat !== 'number' || !(m.heartbeat > 0)) fail('welcome', 'heartbeat', 'a positive number of seconds', m.heartbeat)
    if (m.jobTimeout !== undefined && (typeof m.jobTimeout !== 'number' || !(m.jobTimeout > 0) || m.jobTimeout === Infinity))
      fail('welcome', 'jobTimeout', 'a positive number of seconds', m.jobTimeout)
    if (m.args !== undefined) {
      const args = m.args as Record<string, unknown>
      if (args === null || typeof args !== 'object' || Array.isArray(args) || Object.values(args).some((v) => typeof v !== 'string')) {
        fail('welcome', 'args', 'a map of names to string values', m.args)
      }
    }
    text(m, 'key', true)
    if (m.identity !== undefined && (typeof m.identity !== 'string' || !IDENTITY.test(m.identity)))
      fail('welcome', 'identity', '16 hex digits', m.identity)
    if (m.durable !== undefined) count(m, 'durable')
  },
  durable(m) {
    count(m, 'position')
  },
  credit(m) {
    count(m, 'n')
  },
  jobs(m) {
    if (!Array.isArray(m.jobs)) fail('jobs', 'jobs', 'an array', m.jobs)
    const n = m.jobs.length
    if (m.seqs !== undefined) {
      if (m.first !== undefined) fail('jobs', 'first', 'absent when `seqs` is given', m.first)
      seqList(m)
      if ((m.seqs as number[]).length !== n) fail('jobs', 'seqs', `an array of ${n} sequence numbers`, m.seqs)
    } else if (!isSeq(m.first)) fail('jobs', 'first', 'a sequence number (or `seqs` given)', m.first)
    if (m.attempts !== undefined) {
      seqList(m, 'attempts')
      if ((m.attempts as number[]).length !== n) fail('jobs', 'attempts', `an array of ${n} numbers`, m.attempts)
    }
  },
  ack(m) {
    rangeList(m)
    count(m, 'credit')
  },
  fail(m) {
    const failures = m.failures
    if (!Array.isArray(failures)) fail('fail', 'failures', 'an array', failures)
    for (let i = 0; i < failures.length; i++) {
      const f = failures[i] as Record<string, unknown>
      if (typeof f !== 'object' || f === null) fail('fail', `failures[${i}]`, 'an object', f)
      const g: Record<string, unknown> = { ...f, type: 'fail' }
      if (!isSeq(g.seq)) fail('fail', `failures[${i}].seq`, 'a sequence number', g.seq)
      text(g, 'message')
      text(g, 'stack', true)
    }
    count(m, 'credit')
  },
  release(m) {
    seqList(m)
  },
  abandon(m) {
    seqList(m)
    seqList(m, 'attempts')
    if ((m.attempts as number[]).length !== (m.seqs as number[]).length)
      fail('abandon', 'attempts', `an array of ${(m.seqs as number[]).length} numbers`, m.attempts)
  },
  stats(m) {
    for (const field of ['cpu', 'rss', 'running']) {
      if (typeof m[field] !== 'number') fail('stats', field, 'a number', m[field])
      // Drawn over time and averaged by the master's history: NaN, an infinity or a negative figure would spoil every chart.
      if (!(Number.isFinite(m[field]) && m[field] >= 0)) fail('stats', field, 'a finite number >= 0', m[field])
    }
    for (const field of ['netIn', 'netOut']) {
      const value = m[field]
      if (value !== undefined && !(typeof value === 'number' && Number.isFinite(value) && value >= 0))
        fail('stats', field, 'a number >= 0', value)
    }
  },
  drain() {},
  end() {},
  error(m) {
    text(m, 'code')
    text(m, 'message')
  },
} satisfies Record<Message['type'], Check>

// The types each side accepts, tied to the message unions: a type added to a union and
// not here (or listed here and not in the union) does not compile.
const SLAVE_TYPES = { hello: true, credit: true, ack: true, fail: true, release: true, stats: true, error: true } as const satisfies Record<
  SlaveMessage['type'],
  true
>
const MASTER_TYPES = {
  welcome: true,
  jobs: true,
  abandon: true,
  drain: true,
  end: true,
  durable: true,
  error: true,
} as const satisfies Record<MasterMessage['type'], true>
const fromSlave: ReadonlySet<string> = new Set(Object.keys(SLAVE_TYPES))
const fromMaster: ReadonlySet<string> = new Set(Object.keys(MASTER_TYPES))

/**
 * Decodes and validates one frame. Throws a {@link ProtocolError} for bytes that are
 * not MessagePack, for a value that is not a message, and for a message of a type
 * or shape this side does not accept.
 */
export function decode(bytes: Uint8Array, allowed?: ReadonlySet<string>): Message {
  let value = decodeCommon(bytes)
  try {
    // The fast decoder leaves a frame with a `__proto__` key to this path.
    if (value === NOT_COMMON) value = mayHoldProtoKey(bytes) ? plainMaps(mapsPackr.unpack(bytes)) : packr.unpack(bytes)
  } catch (error) {
    throw new ProtocolError(`Frame is not valid MessagePack (${(error as Error).message})`)
  }
  // msgpackr decodes the never-used byte 0xc1 to a marker object instead of throwing.
  if (value === C1) throw new ProtocolError('Frame is not valid MessagePack (byte 0xc1 is never used)')
  // Only a plain map is a message (not an array, binary, timestamp, ...).
  if (typeof value !== 'object' || value === null || Object.getPrototypeOf(value) !== Object.prototype) {
    throw new ProtocolError(`Frame is not a message: expected a map with a \`type\`, got ${kindOf(value)}`)
  }
  const message = value as Record<string, unknown>
  const type = message.type
  if (typeof type !== 'string' || !Object.hasOwn(checks, type)) {
    const shown =
      typeof type === 'string'
        ? JSON.stringify(type)
        : ['number', 'bigint', 'boolean'].includes(typeof type)
          ? String(type)
          : `(${kindOf(type)})`
    throw new ProtocolError(`Unknown message type ${shown}`)
  }
  if (allowed !== undefined && !allowed.has(type)) throw new ProtocolError(`Unexpected '${type}' message`)
  const check: Check = (checks as Record<string, Check>)[type]
  check(message)
  return message as unknown as Message
}

/** Decodes a frame a slave sent (what the master accepts). */
export function decodeSlaveMessage(bytes: Uint8Array): SlaveMessage {
  return decode(bytes, fromSlave) as SlaveMessage
}

/** Decodes a frame a master sent (what the slave accepts). */
export function decodeMasterMessage(bytes: Uint8Array): MasterMessage {
  return decode(bytes, fromMaster) as MasterMessage
}
