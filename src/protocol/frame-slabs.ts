import { Packr } from 'msgpackr'
import { encode, PACKR_OPTIONS } from './codec.js'
import type { Message } from './messages.js'

/**
 * Bytes of one slab: frames are encoded one after another into it, as msgpackr does into
 * its own buffer, and it is written over only once every frame in it was written out.
 */
export const SLAB_BYTES = 1 << 20

/** Free slabs kept for reuse; more are left to the garbage collector. */
export const KEPT_SLABS = 8

/** A frame too big for this share of a slab is encoded into memory of its own. */
const LARGEST_SHARE = SLAB_BYTES / 2

/**
 * What a frame may need beyond its expected size, to start with: msgpackr reserves three
 * bytes a character before it writes a string (so a frame of long strings needs twice
 * its longest string more), and wants 2 KiB free when it starts a value. Doubled, up to
 * half a slab, each time a frame outgrows its room.
 */
const MARGIN = 16 * 1024

/** One block of frame memory and the frames in it not yet written out. */
interface Slab {
  readonly bytes: Buffer
  /** Bytes given to frames so far. */
  used: number
  /** Frames encoded into it and not yet released. */
  pending: number
}

/** An encoded frame and what to call once its bytes were written out (or dropped). */
export interface EncodedFrame {
  readonly bytes: Buffer
  /** Gives the frame's memory back; the bytes must not be used after it. Idempotent. */
  readonly release: () => void
}

const NOTHING = (): void => {}

/**
 * What msgpackr is left writing into after a frame. Its buffer and position are shared by
 * every Packr in the process (the codec's, the journal's, a user's): left in a slab, the
 * next message encoded anywhere would go there, behind the frame, where the next frame
 * goes. From this empty buffer msgpackr moves to memory of its own at its next message.
 */
const DETACHED = Buffer.alloc(0)

/**
 * Encodes the master's `jobs` frames into reused memory. A fresh buffer for every frame
 * (msgpackr's way) meant page faults on every first write to its pages, a copy whenever
 * msgpackr outgrew its buffer in the middle of a frame, and external memory that only a
 * mark-compact gives back: a fifth of the master's CPU with 1 KB jobs. Here a frame's
 * memory goes back to a free list once the socket has written it, and the next frames
 * are written into pages already mapped. The bytes are exactly {@link encode}'s. (A job
 * with a getter that itself encodes with msgpackr was never supported: msgpackr's state
 * is shared, and such a frame came out corrupt before slabs too.)
 */
export class FrameSlabs {
  readonly #packr = new Packr(PACKR_OPTIONS)
  #current: Slab | undefined
  readonly #free: Slab[] = []
  /** Room asked for beyond a frame's expected size (see MARGIN): learned from frames that outgrew theirs. */
  #margin = MARGIN

  /**
   * Encodes `message`, expected to take about `expected` bytes (0: unknown, small).
   * Throws what msgpackr throws for a value it cannot encode.
   */
  encode(message: Message, expected: number): EncodedFrame {
    if (expected > LARGEST_SHARE) return { bytes: encode(message), release: NOTHING }
    let slab = this.#current
    if (slab === undefined || SLAB_BYTES - slab.used < expected + this.#margin) slab = this.#next()
    const room = slab.bytes.subarray(slab.used)
    let bytes: Buffer
    try {
      this.#packr.useBuffer(room)
      bytes = this.#packr.pack(message)
    } finally {
      this.#packr.useBuffer(DETACHED)
    }
    if (bytes.buffer !== slab.bytes.buffer) {
      // msgpackr moved to memory of its own: the frame outgrew the room (its strings). Nothing
      // to give back; the next frame asks for more room and starts in another slab, or the
      // same frames would outgrow this room one after another.
      this.#margin = Math.min(LARGEST_SHARE, 2 * this.#margin)
      slab.used = SLAB_BYTES
      return { bytes, release: NOTHING }
    }
    // The next frame starts on an 8-byte boundary, as msgpackr starts them.
    slab.used = Math.min(SLAB_BYTES, (slab.used + bytes.length + 7) & ~7)
    slab.pending++
    let released = false
    return {
      bytes,
      release: () => {
        if (released) return
        released = true
        this.#release(slab)
      },
    }
  }

  /** Slabs held for reuse (for tests and memory figures). */
  get freeSlabs(): number {
    return this.#free.length
  }

  /** Starts a new current slab: a free one, or new memory; the old one is freed by its last frame. */
  #next(): Slab {
    const old = this.#current
    const slab = this.#free.pop() ?? { bytes: Buffer.allocUnsafeSlow(SLAB_BYTES), used: 0, pending: 0 }
    this.#current = slab
    if (old !== undefined && old.pending === 0) this.#keep(old)
    return slab
  }

  #release(slab: Slab): void {
    slab.pending--
    if (slab.pending === 0 && slab !== this.#current) this.#keep(slab)
  }

  #keep(slab: Slab): void {
    if (this.#free.length >= KEPT_SLABS) return
    slab.used = 0
    this.#free.push(slab)
  }
}
