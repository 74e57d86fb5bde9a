import { describe, expect, it } from 'vitest'
import { ProtocolError } from '../../../src/errors.js'
import { decodeSlaveMessage, encode } from '../../../src/protocol/codec.js'
import { thrownBy } from '../support.js'

const slave = { id: 'a', hostname: 'h', pid: 7, concurrency: 2 }
const hello = (extra: Record<string, unknown>): Buffer => encode({ type: 'hello', version: 2, slave: { ...slave, ...extra } })

describe("hello: the slave's frame limit (slave.maxFrame)", () => {
  it('is optional within version 2', () => {
    expect(decodeSlaveMessage(hello({}))).toEqual({ type: 'hello', version: 2, slave })
  })

  it('is passed on when given', () => {
    expect(decodeSlaveMessage(hello({ maxFrame: 2048 }))).toEqual({ type: 'hello', version: 2, slave: { ...slave, maxFrame: 2048 } })
    expect(decodeSlaveMessage(hello({ maxFrame: 1024 }))).toEqual({ type: 'hello', version: 2, slave: { ...slave, maxFrame: 1024 } })
  })

  it('is refused below 1024 or when not an integer', () => {
    for (const [value, kind] of [
      [1023, 'number'],
      [2048.5, 'number'],
      ['4096', 'string'],
      [null, 'null'],
    ] as const) {
      const error = thrownBy(() => decodeSlaveMessage(hello({ maxFrame: value })), ProtocolError)
      expect(error.message).toBe(`Invalid 'hello' message: expected \`slave.maxFrame\` to be an integer >= 1024, got ${kind}`)
      expect(error.closeCode).toBe(1002)
    }
  })
})

describe("hello: the slave's id and host name", () => {
  it('are taken up to 255 characters, and refused beyond (they are in every status document, log line and chart)', () => {
    const long = 'h'.repeat(255)
    expect(decodeSlaveMessage(hello({ hostname: long, id: long }))).toEqual({
      type: 'hello',
      version: 2,
      slave: { ...slave, hostname: long, id: long },
    })
    for (const field of ['hostname', 'id']) {
      const error = thrownBy(() => decodeSlaveMessage(hello({ [field]: `<b>${'h'.repeat(300_000)}` })), ProtocolError)
      expect(error.message).toBe(
        `Invalid 'hello' message: expected \`slave.${field}\` to be a string of at most 255 characters, got string`,
      )
      expect(error.closeCode).toBe(1002)
    }
  })
})
