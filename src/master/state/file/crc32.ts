import * as zlib from 'node:zlib'

let table: Uint32Array | undefined

/** CRC-32 (IEEE, as zlib and gzip compute it) in plain code: for Node 20 before 20.15, which lacks `zlib.crc32`. */
export function crc32Portable(data: Uint8Array): number {
  if (table === undefined) {
    table = new Uint32Array(256)
    for (let n = 0; n < 256; n++) {
      let c = n
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1
      table[n] = c >>> 0
    }
  }
  let crc = 0xffffffff
  for (let i = 0; i < data.length; i++) crc = table[(crc ^ data[i]) & 0xff] ^ (crc >>> 8)
  return (crc ^ 0xffffffff) >>> 0
}

// The namespace import keeps this loadable on a Node without the export.
const native = (zlib as { crc32?: (data: Uint8Array) => number }).crc32

/** CRC-32 of `data` (IEEE): zlib's native one where Node has it, else {@link crc32Portable}. */
export const crc32: (data: Uint8Array) => number = native ?? crc32Portable
