import { describe, expect, it } from 'vitest'
import { decode, encode } from '../../../src/protocol/codec.js'
import { FrameSlabs, KEPT_SLABS, SLAB_BYTES } from '../../../src/protocol/frame-slabs.js'
import type { EncodedFrame } from '../../../src/protocol/frame-slabs.js'
import type { JobsMessage } from '../../../src/protocol/messages.js'

/** A jobs frame of `n` jobs whose payloads differ by frame and job, about `bytes` each. */
function jobs(frame: number, n: number, bytes: number): JobsMessage {
  const list = []
  for (let i = 0; i < n; i++) list.push({ id: frame * n + i, payload: `${frame}.${i};`.repeat(bytes).slice(0, bytes) })
  return { type: 'jobs', first: frame * n, jobs: list }
}

/** Copies of what each frame's bytes were when encoded. */
const snapshot = (frames: EncodedFrame[]): Buffer[] => frames.map((f) => Buffer.from(f.bytes))

describe('FrameSlabs', () => {
  it('gives exactly the bytes encode() gives', () => {
    const slabs = new FrameSlabs()
    const messages: JobsMessage[] = [
      jobs(0, 250, 1000),
      {
        type: 'jobs',
        seqs: [4, 9, 2],
        attempts: [1, 3, 2],
        jobs: [{ id: 'a' }, { id: 1n << 60n }, { id: -1.5, nested: { list: [1, null, true] } }],
      },
      { type: 'jobs', first: 0, jobs: [] },
    ]
    for (const message of messages) {
      const frame = slabs.encode(message, 0)
      expect(frame.bytes.equals(encode(message))).toBe(true)
      expect(decode(frame.bytes)).toEqual(message)
    }
  })

  it('never writes over a frame that was not released, however many frames follow', () => {
    const slabs = new FrameSlabs()
    // 40 frames of ~100 KB: four slabs' worth, none released.
    const frames = Array.from({ length: 40 }, (_, i) => slabs.encode(jobs(i, 100, 1000), 100_000))
    const copies = snapshot(frames)
    for (let i = 0; i < 10; i++) slabs.encode(jobs(100 + i, 100, 1000), 100_000)
    frames.forEach((frame, i) => expect(frame.bytes.equals(copies[i]), `frame ${i}`).toBe(true))
    expect(new Set(frames.map((f) => f.bytes.buffer)).size).toBeGreaterThanOrEqual(4)
    expect(slabs.freeSlabs).toBe(0)
  })

  it('reuses a slab once every frame in it was released, and only then', () => {
    const slabs = new FrameSlabs()
    const first = [0, 1, 2].map((i) => slabs.encode(jobs(i, 300, 1000), 300_000))
    const slab = first[0].bytes.buffer
    expect(first.every((f) => f.bytes.buffer === slab)).toBe(true)
    // The fourth frame does not fit: a new slab; the first is not free while its frames are pending.
    const fourth = slabs.encode(jobs(3, 300, 1000), 300_000)
    expect(fourth.bytes.buffer).not.toBe(slab)
    first[0].release()
    first[1].release()
    // Released twice: still one frame pending in the slab.
    first[1].release()
    expect(slabs.freeSlabs).toBe(0)
    first[2].release()
    expect(slabs.freeSlabs).toBe(1)
    const kept = snapshot([fourth])
    // Filling the second slab takes the freed one next.
    const later = [4, 5, 6].map((i) => slabs.encode(jobs(i, 300, 1000), 300_000))
    expect(later.map((f) => f.bytes.buffer === slab)).toEqual([false, false, true])
    expect(fourth.bytes.equals(kept[0])).toBe(true)
    expect(later[2].bytes.equals(encode(jobs(6, 300, 1000)))).toBe(true)
  })

  it('leaves msgpackr writing elsewhere: a message encoded between two frames is not written over', () => {
    const slabs = new FrameSlabs()
    const before = slabs.encode(jobs(0, 10, 100), 1000)
    const between = encode({ type: 'drain' })
    const copy = Buffer.from(between)
    expect(between.buffer).not.toBe(before.bytes.buffer)
    const after = slabs.encode(jobs(1, 10, 100), 1000)
    expect(after.bytes.buffer).toBe(before.bytes.buffer)
    expect(between.equals(copy)).toBe(true)
    // Also after a frame msgpackr could not encode.
    expect(() => slabs.encode({ type: 'jobs', first: 0, jobs: [{ big: 2n ** 70n }] } as unknown as JobsMessage, 0)).toThrow()
    expect(encode({ type: 'drain' }).buffer).not.toBe(before.bytes.buffer)
  })

  it(`keeps at most ${KEPT_SLABS} free slabs`, () => {
    const slabs = new FrameSlabs()
    const frames = Array.from({ length: 4 * (KEPT_SLABS + 4) }, (_, i) => slabs.encode(jobs(i, 250, 1000), 256_000))
    for (const frame of frames) frame.release()
    expect(slabs.freeSlabs).toBe(KEPT_SLABS)
  })

  it('encodes a frame larger than half a slab into memory of its own', () => {
    const slabs = new FrameSlabs()
    const small = slabs.encode(jobs(0, 10, 100), 1000)
    const message = jobs(1, 700, 1000)
    const big = slabs.encode(message, SLAB_BYTES / 2 + 1)
    expect(big.bytes.buffer).not.toBe(small.bytes.buffer)
    expect(big.bytes.equals(encode(message))).toBe(true)
    big.release()
    expect(slabs.freeSlabs).toBe(0)
  })

  it('gives the right bytes when a frame outgrows what was expected, leaving pending frames intact', () => {
    const slabs = new FrameSlabs()
    const pending = Array.from({ length: 3 }, (_, i) => slabs.encode(jobs(i, 200, 1000), 200_000))
    const copies = snapshot(pending)
    // Expected small, but ~400 KB: more than the room left in the slab.
    const message = jobs(9, 400, 1000)
    const grown = slabs.encode(message, 10)
    expect(grown.bytes.equals(encode(message))).toBe(true)
    pending.forEach((frame, i) => expect(frame.bytes.equals(copies[i])).toBe(true))
    grown.release()
    const next = slabs.encode(jobs(10, 10, 10), 100)
    expect(next.bytes.equals(encode(jobs(10, 10, 10)))).toBe(true)
    pending.forEach((frame, i) => expect(frame.bytes.equals(copies[i])).toBe(true))
  })

  it('learns the room frames of long strings need: a frame that outgrew its room does not make every later one do so', () => {
    const slabs = new FrameSlabs()
    // msgpackr reserves three bytes a character before writing a string: a frame of 25 KB
    // strings needs ~50 KB beyond its size. Before the fix the slab stayed current with too
    // little room, and every frame from the third on went to fresh memory (48 buffers of 50).
    const buffers = new Set<ArrayBufferLike>()
    for (let i = 0; i < 50; i++) {
      const message = jobs(i, 10, 25_000)
      const frame = slabs.encode(message, encode(message).length)
      expect(frame.bytes.equals(encode(message))).toBe(true)
      buffers.add(frame.bytes.buffer)
      frame.release()
    }
    expect(buffers.size).toBeLessThanOrEqual(6)
  })

  it('throws what msgpackr throws for a value it cannot encode, and goes on after it', () => {
    const slabs = new FrameSlabs()
    const bad = { type: 'jobs', first: 0, jobs: [{ id: 1, when: new Date(NaN), big: 2n ** 70n }] } as unknown as JobsMessage
    expect(() => slabs.encode(bad, 0)).toThrow()
    const next = slabs.encode(jobs(1, 5, 10), 100)
    expect(next.bytes.equals(encode(jobs(1, 5, 10)))).toBe(true)
  })
})
