import * as zlib from 'node:zlib'
import { describe, expect, it } from 'vitest'
import { crc32, crc32Portable } from '../../../../../src/master/state/file/crc32.js'

describe('crc32', () => {
  it('is the IEEE CRC-32 (check value of "123456789"), native and portable alike', () => {
    const check = Buffer.from('123456789')
    expect(crc32(check)).toBe(0xcbf43926)
    expect(crc32Portable(check)).toBe(0xcbf43926)
    expect(crc32Portable(new Uint8Array(0))).toBe(0)
  })

  it('the portable one agrees with zlib on every byte value and on a long buffer', () => {
    const bytes = Buffer.alloc(4096)
    for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 7919) & 0xff
    expect(crc32Portable(bytes)).toBe(zlib.crc32(bytes))
    for (let b = 0; b < 256; b++) expect(crc32Portable(Buffer.from([b]))).toBe(zlib.crc32(Buffer.from([b])))
  })
})
