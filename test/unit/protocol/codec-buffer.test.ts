import { describe, expect, it } from 'vitest'
import { encode, frameBufferSize } from '../../../src/protocol/codec.js'
import type { JobsMessage } from '../../../src/protocol/messages.js'

/** A jobs frame of `n` jobs with a payload of `bytes` characters each, as the benchmark's 1 KB jobs. */
function jobsFrame(first: number, n: number, bytes: number): JobsMessage {
  const payload = 'x'.repeat(bytes)
  return { type: 'jobs', first, jobs: Array.from({ length: n }, (_, i) => ({ id: first + i, payload })) }
}

describe('encode: a buffer sized for the frame', () => {
  it('sizes the buffer from the expected bytes, with room for the estimate to be short', () => {
    expect(frameBufferSize(256 * 1024)).toBe(256 * 1024 + 32 * 1024 + 8192)
    expect(frameBufferSize(1000)).toBe(1000 + 125 + 8192)
  })

  it('encodes a frame at the start of a fresh buffer of that size: no copy into a bigger one, none shared with the frame before', () => {
    const a = jobsFrame(0, 250, 1000)
    const b = jobsFrame(250, 250, 1000)
    const golden = [encode(a), encode(b)].map((bytes) => Buffer.from(bytes).toString('hex'))
    const expected = golden[0].length / 2
    const first = encode(a, expected)
    const second = encode(b, expected)
    // The same bytes as without a hint (the golden bytes do not change).
    expect(first.toString('hex')).toBe(golden[0])
    expect(second.toString('hex')).toBe(golden[1])
    for (const frame of [first, second]) {
      expect(frame.byteOffset).toBe(0)
      expect(frame.buffer.byteLength).toBe(frameBufferSize(expected))
    }
    // ws may still hold the first frame queued: the second never writes over it.
    expect(second.buffer).not.toBe(first.buffer)
    expect(first.toString('hex')).toBe(golden[0])
  })

  it('still encodes a frame bigger than the hint, whole and exact', () => {
    const a = jobsFrame(0, 250, 1000)
    const golden = Buffer.from(encode(a)).toString('hex')
    expect(encode(a, 10_000).toString('hex')).toBe(golden)
  })

  it('leaves small messages to the shared buffer (no hint, or a hint under a few KiB)', () => {
    const one = encode({ type: 'credit', n: 5 })
    const two = encode({ type: 'credit', n: 6 }, 100)
    expect(two.buffer).toBe(one.buffer)
  })
})
