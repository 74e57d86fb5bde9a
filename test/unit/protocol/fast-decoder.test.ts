import { Packr } from 'msgpackr'
import { describe, expect, it } from 'vitest'
import { decode, encode } from '../../../src/protocol/codec.js'
import { NOT_COMMON, decodeCommon } from '../../../src/protocol/fast-decoder.js'
import type { Message } from '../../../src/protocol/messages.js'

/** msgpackr as the codec configures it: the reference the fast decoder must agree with. */
const reference = new Packr({ useRecords: false, moreTypes: false, mapsAsObjects: true })
const pack = (value: unknown): Buffer => encode(value as Message)

/** Asserts the fast decoder takes `value`'s bytes and gives exactly what msgpackr gives. */
function expectCommon(value: unknown): void {
  const bytes = pack(value)
  const fast = decodeCommon(bytes)
  expect(fast).not.toBe(NOT_COMMON)
  expect(fast).toStrictEqual(reference.unpack(bytes))
}

const ascii = (n: number): string => Array.from({ length: n }, (_, i) => String.fromCharCode(32 + (i % 95))).join('')

describe('decodeCommon: the shapes it decodes', () => {
  it('decodes a jobs frame of { id } maps as msgpackr does', () => {
    expectCommon({ type: 'jobs', first: 7, jobs: Array.from({ length: 1000 }, (_, i) => ({ id: 1_000_000 + i })) })
  })

  it('decodes integers at every width boundary', () => {
    const edges = [
      0,
      1,
      127,
      128,
      255,
      256,
      65535,
      65536,
      2 ** 31 - 1,
      2 ** 31,
      2 ** 32 - 1,
      -1,
      -32,
      -33,
      -128,
      -129,
      -32768,
      -32769,
      -(2 ** 31),
    ]
    for (const n of edges) expectCommon({ n })
    expectCommon(edges)
  })

  it('decodes float64 (msgpackr writes integers beyond 32 bits so), nil and booleans', () => {
    expectCommon([2 ** 40, -(2 ** 53), 0.5, -1.25, 1e300, Number.MIN_VALUE, Infinity, -Infinity, NaN, -0, null, true, false])
  })

  it('decodes ASCII strings of up to 64 bytes (fixstr and str8), built in JS or natively', () => {
    for (const n of [0, 1, 15, 16, 31, 32, 63, 64]) expectCommon({ s: ascii(n) })
  })

  it('decodes short strings of every length, character by character (those built in JS, a few calls each)', () => {
    for (let n = 0; n <= 17; n++) {
      expectCommon({ s: ascii(n), t: ascii(n).split('').reverse().join(''), id: String(10 ** n).slice(0, n) })
      // A byte of 0x80 or more anywhere in it is UTF-8: msgpackr's to decode.
      for (let at = 0; at < n; at++) {
        const text = `${ascii(at)}é${ascii(n - at - 1)}`
        expect(decodeCommon(pack({ s: text }))).toBe(NOT_COMMON)
        expect((decode(pack({ type: 'jobs', first: 0, jobs: [text] })) as { jobs: unknown[] }).jobs).toEqual([text])
      }
    }
  })

  it('decodes maps and arrays past 15 entries (map16, array16) and nested', () => {
    const wide = Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`key${i}`, i]))
    expectCommon({ wide, list: Array.from({ length: 40 }, (_, i) => [i, { i }]), deep: { a: { b: { c: [[[]]] } } }, empty: {} })
  })

  it('leaves a map with a __proto__ key to the codec (which keeps the key), every time: it is never cached', () => {
    // { "__proto__": { "x": 1 } }
    const bytes = Buffer.from([0x81, 0xa9, ...Buffer.from('__proto__'), 0x81, 0xa1, 0x78, 0x01])
    expect(decodeCommon(bytes)).toBe(NOT_COMMON)
    expect(decodeCommon(bytes)).toBe(NOT_COMMON)
    expect(decodeCommon(pack({ a: [{ b: 1 }, JSON.parse('{"__proto__":2}')] }))).toBe(NOT_COMMON)
    expect(({} as Record<string, unknown>).x).toBeUndefined()
    // A look-alike key is an ordinary key.
    expectCommon({ __proto_: 1, ___proto__: 2 })
  })

  it('keeps keys apart when thousands of them share the cache slots', () => {
    const many = Object.fromEntries(Array.from({ length: 10_000 }, (_, i) => [`k${i.toString(36)}`, i]))
    expectCommon(many)
    expectCommon(many)
    expectCommon({ a: 1, b: 2, ab: 3, ba: 4 })
  })

  it('keeps its cached keys when the memory of the frame they came in is reused', () => {
    const frame = pack({ qx: 1 })
    expect(decodeCommon(frame)).toStrictEqual({ qx: 1 })
    // Rewritten in place to a key of the same length and hash slot ('rY': 31 * 0x72 + 0x59
    // = 31 * 0x71 + 0x78): a cache entry that were a view of the frame would match it.
    frame.set(Buffer.from('rY'), 4)
    expect(decodeCommon(frame)).toStrictEqual({ rY: 1 })
    expect(decodeCommon(pack({ qx: 2 }))).toStrictEqual({ qx: 2 })
  })
})

describe('decodeCommon: what it leaves to msgpackr', () => {
  const others: [string, unknown][] = [
    ['a bigint (64-bit integer)', { id: 5n }],
    ['a non-ASCII string', { s: 'café' }],
    ['a non-ASCII string decoded natively', { s: `${ascii(40)}é` }],
    ['a string of 65 bytes', { s: ascii(65) }],
    ['a str16 string', { s: ascii(256) }],
    ['a str32 string', { s: ascii(65536) }],
    ['a non-ASCII key', { é: 1 }],
    ['a key longer than 31 bytes', { [ascii(32)]: 1 }],
    ['a Date (timestamp extension)', { at: new Date(0) }],
    ['undefined', { u: undefined }],
    ['binary', { b: Buffer.from([1, 2]) }],
  ]
  for (const [name, value] of others) {
    it(`gives NOT_COMMON for ${name}, and the codec still decodes it as msgpackr does`, () => {
      const bytes = pack({ type: 'jobs', first: 0, jobs: [value] })
      expect(decodeCommon(bytes)).toBe(NOT_COMMON)
      expect(decode(bytes)).toStrictEqual(reference.unpack(bytes))
    })
  }

  it('gives NOT_COMMON for invalid UTF-8 and for U+FFFD in a natively decoded string', () => {
    const invalid = Buffer.concat([Buffer.from([0xd9, 20]), Buffer.from(ascii(19)), Buffer.from([0x80])])
    expect(decodeCommon(invalid)).toBe(NOT_COMMON)
    expect((decode(pack({ type: 'jobs', first: 0, jobs: [`${ascii(20)}\uFFFD`] })) as { jobs: unknown[] }).jobs).toEqual([
      `${ascii(20)}\uFFFD`,
    ])
    expect(decodeCommon(pack(`${ascii(20)}\uFFFD`))).toBe(NOT_COMMON)
  })

  it('gives NOT_COMMON for a float32, a number key and the byte 0xc1', () => {
    expect(decodeCommon(Buffer.from([0xca, 0x3f, 0xc0, 0x00, 0x00]))).toBe(NOT_COMMON)
    expect(decodeCommon(Buffer.from([0x81, 0x01, 0x02]))).toBe(NOT_COMMON)
    expect(decodeCommon(Buffer.from([0x91, 0xc1]))).toBe(NOT_COMMON)
  })

  it('never returns a value for a truncated frame or one with bytes after the value', () => {
    const bytes = pack({ type: 'jobs', first: 3, jobs: [{ id: 1, name: ascii(20), tags: ['a', 'bb'], score: 0.5 }, 70000, -40000] })
    for (let end = 0; end < bytes.length; end++) expect(decodeCommon(bytes.subarray(0, end))).toBe(NOT_COMMON)
    expect(decodeCommon(Buffer.concat([bytes, Buffer.from([0])]))).toBe(NOT_COMMON)
    expect(decodeCommon(bytes)).toStrictEqual(reference.unpack(bytes))
  })

  it('decodes a Uint8Array that is not a Buffer, at an offset into its memory', () => {
    const bytes = pack({ id: 9, s: ascii(20) })
    const inner = new Uint8Array(bytes.length + 4)
    inner.set(bytes, 4)
    expect(decodeCommon(inner.subarray(4))).toStrictEqual({ id: 9, s: ascii(20) })
  })
})

describe('decodeCommon: agrees with msgpackr on random values', () => {
  // A small deterministic generator (mulberry32), so a failure reproduces.
  let state = 42
  const random = (): number => {
    state = (state + 0x6d2b79f5) | 0
    let t = Math.imul(state ^ (state >>> 15), 1 | state)
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
  const pick = <T>(list: T[]): T => list[Math.floor(random() * list.length)]
  const text = (): string =>
    Array.from({ length: Math.floor(random() ** 3 * 60) }, () =>
      random() < 0.97 ? String.fromCharCode(32 + Math.floor(random() * 95)) : pick(['é', '€', '😀']),
    ).join('')
  const value = (depth: number): unknown => {
    const kind = depth > 3 ? Math.floor(random() * 5) : Math.floor(random() * 7)
    switch (kind) {
      case 0:
        return Math.floor((random() - 0.5) * 2 ** Math.floor(random() * 34))
      case 1:
        return pick([null, true, false, random() * 1e6 - 5e5, 2 ** 53 - 1])
      case 2:
      case 3:
        return text()
      case 4:
        return pick([undefined, 7n, new Date(1000)]) ?? (random() < 0.5 ? -0 : 0)
      case 5:
        return Array.from({ length: Math.floor(random() * 20) }, () => value(depth + 1))
      default:
        return Object.fromEntries(Array.from({ length: Math.floor(random() * 20) }, () => [text().slice(0, 20), value(depth + 1)]))
    }
  }

  // Heavy CPU work (about a second alone): vitest's 5 s default is too short on a loaded machine.
  it('gives the same value as msgpackr for 2,000 random frames, or leaves them to it', () => {
    let common = 0
    for (let i = 0; i < 2000; i++) {
      const bytes = pack({ type: 'jobs', first: i, jobs: Array.from({ length: 1 + Math.floor(random() * 5) }, () => value(0)) })
      const fast = decodeCommon(bytes)
      if (fast === NOT_COMMON) continue
      common++
      expect(fast).toStrictEqual(reference.unpack(bytes))
    }
    // The generator makes many frames the fast decoder takes, and some it does not.
    expect(common).toBeGreaterThan(200)
    expect(common).toBeLessThan(2000)
  }, 120_000)
})
