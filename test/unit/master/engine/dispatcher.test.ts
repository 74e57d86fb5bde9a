import { describe, expect, it } from 'vitest'
import { JobSourceError } from '../../../../src/errors.js'
import type { DispatchOptions, FrameSink, Recipient } from '../../../../src/master/engine/dispatcher.js'
import { Controls } from '../../../../src/master/engine/controls.js'
import { Dispatcher, FRAME_TARGET, holdsPartialFrame } from '../../../../src/master/engine/dispatcher.js'
import type { LedgerCounts } from '../../../../src/master/engine/ledger.js'
import { Ledger } from '../../../../src/master/engine/ledger.js'
import { decode, encode } from '../../../../src/protocol/codec.js'
import { seqsOf } from '../../../../src/protocol/jobs-batch.js'
import type { JobsMessage, Message } from '../../../../src/protocol/messages.js'

const S1 = 1
const S2 = 2
const key = (seq: number): string => `k${seq}`
/** A slave as dispatch reads it (a session, in a run). */
const slave = (id: number, concurrency: number, maxFrame: number, label: string): Recipient => ({ id, concurrency, maxFrame, label })

/** A 2 KB job: alone in a frame it is 2077 bytes encoded (msgpackr writes its length in 5 bytes). */
const BIG = 'x'.repeat(2048)
const BIG_FRAME = 2077

/** A FrameSink that decodes what it is sent; `taking` says which sessions take jobs. */
class Recorder implements FrameSink {
  readonly taking = new Set<number>()
  readonly frames: { session: number; message: Message }[] = []
  /** Encoded length of each frame, in the order of `frames`. */
  readonly sizes: number[] = []
  /** Called after each frame is recorded (a session that closes as it is sent, ...). */
  afterSend: (session: number) => void = () => {}

  takesJobs(session: number): boolean {
    return this.taking.has(session)
  }

  sendFrame(session: number, bytes: Buffer): void {
    this.frames.push({ session, message: decode(bytes) })
    this.sizes.push(bytes.length)
    this.afterSend(session)
  }

  /** Every seq sent, frame after frame. */
  get seqs(): number[] {
    return this.frames.flatMap((f) => seqsOf(f.message as JobsMessage))
  }

  /** Jobs per frame. */
  get lengths(): number[] {
    return this.frames.map((f) => (f.message as JobsMessage).jobs.length)
  }
}

/** A ledger of `n` jobs, `job(seq)` keyed `k<seq>` (`{ n: seq }` by default). */
function ledgerOf(n: number, job: (seq: number) => unknown = (seq) => ({ n: seq })): Ledger {
  const ledger = new Ledger(n)
  for (let seq = 0; seq < n; seq++) ledger.add(job(seq), key(seq))
  return ledger
}

/** A dispatcher over `ledger` (under `controls`, if given) with a recorder in which `taking` sessions take jobs. */
function dispatcherOf(
  ledger: Ledger,
  { controls, ...options }: Partial<DispatchOptions> & { controls?: Controls },
  ...taking: number[]
): { dispatcher: Dispatcher; sink: Recorder } {
  const sink = new Recorder()
  for (const session of taking) sink.taking.add(session)
  const dispatcher = new Dispatcher(ledger, sink, { batchSize: 1000, maxFrame: 16 * 1024 * 1024, ...options }, controls)
  return { dispatcher, sink }
}

function counts(partial: Partial<LedgerCounts>): LedgerCounts {
  return { queued: 0, inFlight: 0, waiting: 0, done: 0, failed: 0, skipped: 0, ...partial }
}

const jobs = (first: number, jobs: unknown[]): JobsMessage => ({ type: 'jobs', first, jobs })
const ns = (from: number, to: number): { n: number }[] => Array.from({ length: to - from }, (_, i) => ({ n: from + i }))

describe('holdsPartialFrame', () => {
  it('holds a partial frame only while a full batch waits beyond the lanes and no job came back', () => {
    // [room, batchSize, inFlight, concurrency, returned] → holds
    const table: [number, number, number, number, boolean, boolean][] = [
      [3, 4, 8, 4, false, true],
      [0, 4, 8, 4, false, true],
      [3, 4, 100, 4, false, true],
      // Less than a full batch beyond the lanes: the slave could run dry.
      [3, 4, 7, 4, false, false],
      [3, 4, 4, 4, false, false],
      [3, 4, 0, 4, false, false],
      // Jobs that came back never wait.
      [3, 4, 8, 4, true, false],
      [3, 4, 100, 4, true, false],
      // A full room is a full frame: it never waits.
      [4, 4, 8, 4, false, false],
      [5, 4, 100, 4, false, false],
      [4, 4, 100, 4, true, false],
    ]
    expect(
      table.map(([room, batch, inFlight, concurrency, returned]) => holdsPartialFrame(room, batch, inFlight, concurrency, returned)),
    ).toEqual(table.map((row) => row[5]))
  })
})

describe('Dispatcher', () => {
  it('knows the credit of open sessions only, and ignores grants to unknown or closed ones', () => {
    const { dispatcher } = dispatcherOf(ledgerOf(0), {})
    expect(dispatcher.creditOf(S1)).toBe(0)
    dispatcher.grant(S1, 5)
    expect(dispatcher.creditOf(S1)).toBe(0)
    dispatcher.open(slave(S1, 4, Infinity, `slave ${S1}`))
    expect(dispatcher.creditOf(S1)).toBe(0)
    dispatcher.grant(S1, 5)
    dispatcher.grant(S1, 3)
    expect(dispatcher.creditOf(S1)).toBe(8)
    dispatcher.close(S1)
    expect(dispatcher.creditOf(S1)).toBe(0)
    dispatcher.grant(S1, 5)
    expect(dispatcher.creditOf(S1)).toBe(0)
  })

  it('sends up to each credit, a batch per session per round, in connection order', () => {
    const ledger = ledgerOf(20)
    // Session 9 takes jobs but is closed; session 7 is open with credit but does not take jobs.
    const { dispatcher, sink } = dispatcherOf(ledger, { batchSize: 2 }, 5, 2, 9)
    for (const session of [5, 2, 7, 9]) dispatcher.open(slave(session, 4, Infinity, `slave ${session}`))
    dispatcher.grant(5, 5)
    dispatcher.grant(2, 3)
    dispatcher.grant(7, 4)
    dispatcher.grant(9, 4)
    dispatcher.close(9)
    dispatcher.grant(42, 10)
    expect(dispatcher.dispatch(0)).toBeUndefined()
    expect(sink.frames).toEqual([
      { session: 5, message: jobs(0, ns(0, 2)) },
      { session: 2, message: jobs(2, ns(2, 4)) },
      { session: 5, message: jobs(4, ns(4, 6)) },
      { session: 2, message: jobs(6, ns(6, 7)) },
      { session: 5, message: jobs(7, ns(7, 8)) },
    ])
    expect([5, 2, 7, 9, 42].map((s) => dispatcher.creditOf(s))).toEqual([0, 0, 4, 0, 0])
    expect([ledger.inFlightCount(5), ledger.inFlightCount(2), ledger.inFlightCount(7)]).toEqual([5, 3, 0])
    expect(ledger.counts).toEqual(counts({ queued: 12, inFlight: 8 }))

    // Whether a session takes jobs is asked at each dispatch.
    sink.taking.add(7)
    expect(dispatcher.dispatch(0)).toBeUndefined()
    expect(sink.frames.slice(5)).toEqual([
      { session: 7, message: jobs(8, ns(8, 10)) },
      { session: 7, message: jobs(10, ns(10, 12)) },
    ])
    expect(dispatcher.creditOf(7)).toBe(0)
    expect(ledger.counts).toEqual(counts({ queued: 8, inFlight: 12 }))
  })

  it('sends nothing without credit, and keeps the credit when nothing is queued', () => {
    const empty = dispatcherOf(ledgerOf(0), {}, S1)
    empty.dispatcher.open(slave(S1, 4, Infinity, `slave ${S1}`))
    empty.dispatcher.grant(S1, 10)
    expect(empty.dispatcher.dispatch(0)).toBeUndefined()
    expect(empty.sink.frames).toEqual([])
    expect(empty.dispatcher.creditOf(S1)).toBe(10)

    const ledger = ledgerOf(3)
    const { dispatcher, sink } = dispatcherOf(ledger, {}, S1)
    dispatcher.open(slave(S1, 4, Infinity, `slave ${S1}`))
    expect(dispatcher.dispatch(0)).toBeUndefined()
    expect(sink.frames).toEqual([])
    expect(ledger.counts).toEqual(counts({ queued: 3 }))
  })

  it('sends no more to a session that stops taking jobs during a dispatch', () => {
    const ledger = ledgerOf(10)
    const { dispatcher, sink } = dispatcherOf(ledger, { batchSize: 2 }, S1, S2)
    dispatcher.open(slave(S1, 4, Infinity, `slave ${S1}`))
    dispatcher.open(slave(S2, 4, Infinity, `slave ${S2}`))
    dispatcher.grant(S1, 6)
    dispatcher.grant(S2, 6)
    sink.afterSend = (session) => {
      if (session === S1) sink.taking.delete(S1)
    }
    expect(dispatcher.dispatch(0)).toBeUndefined()
    expect(sink.frames).toEqual([
      { session: S1, message: jobs(0, ns(0, 2)) },
      { session: S2, message: jobs(2, ns(2, 4)) },
      { session: S2, message: jobs(4, ns(4, 6)) },
      { session: S2, message: jobs(6, ns(6, 8)) },
    ])
    expect([dispatcher.creditOf(S1), dispatcher.creditOf(S2)]).toEqual([4, 0])
    expect(ledger.counts).toEqual(counts({ queued: 2, inFlight: 8 }))
  })

  it('gives a retry to another session than the one it failed on, when another takes jobs', () => {
    const ledger = ledgerOf(4)
    const { dispatcher, sink } = dispatcherOf(ledger, { batchSize: 2 }, S1, S2)
    dispatcher.open(slave(S1, 4, Infinity, `slave ${S1}`))
    dispatcher.open(slave(S2, 4, Infinity, `slave ${S2}`))
    dispatcher.grant(S1, 1)
    expect(dispatcher.dispatch(0)).toBeUndefined()
    // Counted: its second try.
    expect(ledger.requeue(0, S1)).toBe(true)
    dispatcher.grant(S1, 1)
    dispatcher.grant(S2, 1)
    expect(dispatcher.dispatch(0)).toBeUndefined()
    expect(sink.frames).toEqual([
      { session: S1, message: jobs(0, [{ n: 0 }]) },
      { session: S1, message: jobs(1, [{ n: 1 }]) },
      { session: S2, message: { type: 'jobs', first: 0, jobs: [{ n: 0 }], attempts: [2] } },
    ])
    // Alone, a session takes its own retry.
    expect(ledger.requeue(1, S1)).toBe(true)
    dispatcher.grant(S1, 1)
    expect(dispatcher.dispatch(0)).toBeUndefined()
    expect(sink.frames[3]).toEqual({ session: S1, message: { type: 'jobs', first: 1, jobs: [{ n: 1 }], attempts: [2] } })
    expect(ledger.counts).toEqual(counts({ queued: 2, inFlight: 2 }))
  })

  it('holds a partial frame while a full batch waits beyond the lanes, and sends it once jobs came back', () => {
    const ledger = ledgerOf(10)
    const { dispatcher, sink } = dispatcherOf(ledger, { batchSize: 4 }, S1)
    dispatcher.open(slave(S1, 2, Infinity, `slave ${S1}`))
    dispatcher.grant(S1, 10)
    expect(dispatcher.dispatch(0)).toBeUndefined()
    // Third round: room 2 < 4, and 8 in flight - 2 lanes >= 4: held.
    expect(sink.frames).toEqual([
      { session: S1, message: jobs(0, ns(0, 4)) },
      { session: S1, message: jobs(4, ns(4, 8)) },
    ])
    expect(dispatcher.creditOf(S1)).toBe(2)
    expect(dispatcher.dispatch(0)).toBeUndefined()
    expect(sink.frames).toHaveLength(2)
    expect(ledger.counts).toEqual(counts({ queued: 2, inFlight: 8 }))

    // A job that came back (released, never ran): nothing waits any more.
    expect(ledger.requeue(0, S1, true)).toBe(true)
    expect(ledger.hasReturnedJobs).toBe(true)
    expect(dispatcher.dispatch(0)).toBeUndefined()
    expect(sink.frames.slice(2)).toEqual([{ session: S1, message: { type: 'jobs', seqs: [0, 8], jobs: [{ n: 0 }, { n: 8 }] } }])
    expect(dispatcher.creditOf(S1)).toBe(0)
    expect(ledger.counts).toEqual(counts({ queued: 1, inFlight: 9 }))
  })

  it('sends a partial frame when less than a full batch waits beyond the lanes', () => {
    const ledger = ledgerOf(10)
    const { dispatcher, sink } = dispatcherOf(ledger, { batchSize: 4 }, S1)
    // 8 in flight - 5 lanes < 4: the slave could run dry.
    dispatcher.open(slave(S1, 5, Infinity, `slave ${S1}`))
    dispatcher.grant(S1, 10)
    expect(dispatcher.dispatch(0)).toBeUndefined()
    expect(sink.frames).toEqual([
      { session: S1, message: jobs(0, ns(0, 4)) },
      { session: S1, message: jobs(4, ns(4, 8)) },
      { session: S1, message: jobs(8, ns(8, 10)) },
    ])
    expect(dispatcher.creditOf(S1)).toBe(0)
    expect(ledger.counts).toEqual(counts({ inFlight: 10 }))
  })

  it('splits a batch over --max-frame into frames that fit, each job sent once', () => {
    // Each job is 1,000 characters: 2 or 3 fit a 4 KB frame, a batch of 10 does not.
    const text = (seq: number): string => String(seq).padEnd(1000, '.')
    const ledger = ledgerOf(20, text)
    const { dispatcher, sink } = dispatcherOf(ledger, { batchSize: 10, maxFrame: 4096 }, S1)
    dispatcher.open(slave(S1, 100, Infinity, `slave ${S1}`))
    dispatcher.grant(S1, 20)
    expect(dispatcher.dispatch(0)).toBeUndefined()
    // The first batch: 10 → 5 + 5 → (2 + 3) + (2 + 3). Later batches are sized from the
    // bytes per job to fit the 4 KB limit (4 jobs), so they need no splitting.
    expect(sink.frames.map((f) => (f.message as JobsMessage).first)).toEqual([0, 2, 5, 7, 10, 14, 18])
    expect(sink.lengths).toEqual([2, 3, 2, 3, 4, 4, 2])
    expect(sink.sizes.every((size) => size <= 4096)).toBe(true)
    expect(sink.seqs).toEqual(Array.from({ length: 20 }, (_, seq) => seq))
    expect(sink.frames.flatMap((f) => (f.message as JobsMessage).jobs)).toEqual(Array.from({ length: 20 }, (_, seq) => text(seq)))
    expect(dispatcher.creditOf(S1)).toBe(0)
    expect(ledger.counts).toEqual(counts({ inFlight: 20 }))
  })

  it('sizes later batches from the bytes per job of the last frame, to aim at FRAME_TARGET', () => {
    const ledger = ledgerOf(2000, () => BIG)
    const { dispatcher, sink } = dispatcherOf(ledger, { batchSize: 1000 }, S1)
    // Lanes for every job: the hold rule keeps out of it.
    dispatcher.open(slave(S1, 2000, Infinity, `slave ${S1}`))
    dispatcher.grant(S1, 1000)
    expect(dispatcher.dispatch(0)).toBeUndefined()
    expect(sink.lengths).toEqual([1000])
    // As msgpackr packs it (string lengths in 3 bytes, but for one in 5).
    expect(sink.sizes).toEqual([2_051_028])
    const perFrame = Math.floor((FRAME_TARGET * 1000) / 2_051_028)
    expect(perFrame).toBe(127)

    dispatcher.grant(S1, 1000)
    expect(dispatcher.dispatch(0)).toBeUndefined()
    expect(sink.lengths.slice(1)).toEqual([127, 127, 127, 127, 127, 127, 127, 111])
    expect(sink.sizes.slice(1).every((size) => size <= FRAME_TARGET)).toBe(true)
    expect(sink.seqs).toEqual(Array.from({ length: 2000 }, (_, seq) => seq))
    expect(dispatcher.creditOf(S1)).toBe(0)
    expect(ledger.counts).toEqual(counts({ inFlight: 2000 }))
  })

  it('refuses a job larger than --max-frame alone, and puts it back with its credit', () => {
    const ledger = ledgerOf(1, () => BIG)
    const { dispatcher, sink } = dispatcherOf(ledger, { batchSize: 1, maxFrame: 1024 }, S1)
    dispatcher.open(slave(S1, 4, Infinity, `slave ${S1}`))
    dispatcher.grant(S1, 3)
    expect(encode(jobs(0, [BIG]))).toHaveLength(BIG_FRAME)
    const error = dispatcher.dispatch(0)
    expect(error).toBeInstanceOf(JobSourceError)
    expect(error!.code).toBe('TM_ERR_JOB_SOURCE')
    expect(error!.message).toBe(
      `Job k0 is ${BIG_FRAME} bytes encoded, more than --max-frame (1024); raise --max-frame on master and slaves`,
    )
    expect(sink.frames).toEqual([])
    expect(dispatcher.creditOf(S1)).toBe(3)
    expect(ledger.counts).toEqual(counts({ queued: 1 }))
    expect(ledger.inFlightCount(S1)).toBe(0)
    // Not sent, so no attempt counted.
    expect(ledger.take(1, S1, 0)).toEqual(jobs(0, [BIG]))
  })

  it("asks the slave its frame limit and name: a job over a slave's own --max-frame names that slave", () => {
    const ledger = ledgerOf(2, (seq) => (seq === 0 ? 'small' : BIG))
    const { dispatcher, sink } = dispatcherOf(ledger, { batchSize: 1 }, S1)
    const limited = { id: S1, concurrency: 4, maxFrame: 16 * 1024 * 1024, label: 'slave worker:1' }
    dispatcher.open(limited)
    dispatcher.grant(S1, 3)
    expect(dispatcher.dispatch(0)).toBeUndefined()
    expect(sink.seqs).toEqual([0, 1])
    // The slave's limit is read when a frame is built, not copied at open.
    limited.maxFrame = 1024
    ledger.complete([0, 2], S1)
    ledger.add(BIG, key(2))
    const error = dispatcher.dispatch(0)
    expect(error!.message).toBe(
      `Job k2 is ${BIG_FRAME} bytes encoded, more than the --max-frame (1024) of slave worker:1; raise --max-frame on master and slaves`,
    )
    expect(sink.seqs).toEqual([0, 1])
  })

  it('puts a whole split batch back when none of its jobs fits a frame', () => {
    const ledger = ledgerOf(8, () => BIG)
    const { dispatcher, sink } = dispatcherOf(ledger, { batchSize: 8, maxFrame: 1024 }, S1)
    dispatcher.open(slave(S1, 4, Infinity, `slave ${S1}`))
    dispatcher.grant(S1, 10)
    const error = dispatcher.dispatch(0)
    expect(error).toBeInstanceOf(JobSourceError)
    expect(error!.message).toBe(
      `Job k0 is ${BIG_FRAME} bytes encoded, more than --max-frame (1024); raise --max-frame on master and slaves`,
    )
    expect(sink.frames).toEqual([])
    expect(dispatcher.creditOf(S1)).toBe(10)
    expect(ledger.counts).toEqual(counts({ queued: 8 }))
    expect(ledger.inFlightCount(S1)).toBe(0)
    expect(ledger.seqsInFlightOn(S1)).toEqual([])
    // Every job back, in order, none charged an attempt.
    expect(ledger.take(10, S1, 0)).toEqual(
      jobs(
        0,
        Array.from({ length: 8 }, () => BIG),
      ),
    )
  })

  it('sends the jobs before one over --max-frame and puts that one and the rest back', () => {
    for (let big = 0; big < 8; big++) {
      const ledger = ledgerOf(8, (seq) => (seq === big ? BIG : `j${seq}`))
      const { dispatcher, sink } = dispatcherOf(ledger, { batchSize: 8, maxFrame: 1024 }, S1)
      dispatcher.open(slave(S1, 4, Infinity, `slave ${S1}`))
      dispatcher.grant(S1, 10)
      const error = dispatcher.dispatch(0)
      expect(error).toBeInstanceOf(JobSourceError)
      // Alone in its frame, the job's first seq is a one-byte integer whatever it is.
      expect(error!.message).toBe(
        `Job k${big} is ${BIG_FRAME} bytes encoded, more than --max-frame (1024); raise --max-frame on master and slaves`,
      )
      const before = Array.from({ length: big }, (_, seq) => seq)
      expect(sink.seqs).toEqual(before)
      expect(ledger.seqsInFlightOn(S1)).toEqual(before)
      expect(dispatcher.creditOf(S1)).toBe(10 - big)
      expect(ledger.counts).toEqual(counts({ queued: 8 - big, inFlight: big }))
    }
  })

  it('splits around a job over --max-frame: exact frames for a job in the middle', () => {
    const ledger = ledgerOf(8, (seq) => (seq === 5 ? BIG : `j${seq}`))
    const { dispatcher, sink } = dispatcherOf(ledger, { batchSize: 8, maxFrame: 1024 }, S1)
    dispatcher.open(slave(S1, 4, Infinity, `slave ${S1}`))
    dispatcher.grant(S1, 8)
    expect(dispatcher.dispatch(0)!.message).toBe(
      `Job k5 is ${BIG_FRAME} bytes encoded, more than --max-frame (1024); raise --max-frame on master and slaves`,
    )
    // 8 → 4 (fits) + 4 → 2 (fits) + 2 → job 5 refused, then 6 and 7 back unsent.
    expect(sink.frames).toEqual([
      { session: S1, message: jobs(0, ['j0', 'j1', 'j2', 'j3']) },
      { session: S1, message: jobs(4, ['j4']) },
    ])
    expect(dispatcher.creditOf(S1)).toBe(3)
    expect(ledger.counts).toEqual(counts({ queued: 3, inFlight: 5 }))
    expect(ledger.take(8, S1, 0)).toEqual(jobs(5, [BIG, 'j6', 'j7']))
  })

  it('refuses a job that cannot be encoded, naming it, and puts its batch back', () => {
    // msgpackr throws on a symbol (a function it drops, as the README says).
    const bad = { s: Symbol('s') }
    expect(() => encode(jobs(0, [bad]))).toThrow('Unknown type: symbol')
    const ledger = ledgerOf(3, (seq) => (seq === 1 ? bad : `j${seq}`))
    const { dispatcher, sink } = dispatcherOf(ledger, { batchSize: 3 }, S1)
    dispatcher.open(slave(S1, 4, Infinity, `slave ${S1}`))
    dispatcher.grant(S1, 5)
    const error = dispatcher.dispatch(0)
    expect(error).toBeInstanceOf(JobSourceError)
    expect(error!.message).toBe('Job k1 cannot be sent to slaves (Unknown type: symbol); jobs must be plain data')
    expect(sink.frames).toEqual([])
    expect(dispatcher.creditOf(S1)).toBe(5)
    expect(ledger.counts).toEqual(counts({ queued: 3 }))
    expect(ledger.inFlightCount(S1)).toBe(0)
    expect(ledger.take(3, S1, 0)).toEqual(jobs(0, ['j0', bad, 'j2']))
  })
})

describe("Dispatcher with a credit that changes over time (the slave's adaptive window)", () => {
  it('sizes frames from the credit given at the time, and holds a partial frame only while a full batch waits beyond the lanes', () => {
    const ledger = ledgerOf(20_000)
    const { dispatcher, sink } = dispatcherOf(ledger, {}, S1)
    dispatcher.open(slave(S1, 1, 16 * 1024 * 1024, 'slave'))
    // The window opens at 2 (twice the concurrency): a frame of 2.
    dispatcher.grant(S1, 2)
    dispatcher.dispatch(0)
    expect(sink.lengths).toEqual([2])
    // Both done; the window grew to 102: the ack carries 102 of room.
    ledger.complete([0, 2], S1)
    dispatcher.grant(S1, 102)
    dispatcher.dispatch(0)
    expect(sink.lengths).toEqual([2, 102])
    // Done; the window reached the cap: full frames of --batch-size; the 600 left wait
    // (a full batch is queued beyond the lane) to go out with more credit, as a fuller frame.
    ledger.complete([2, 102], S1)
    dispatcher.grant(S1, 2600)
    dispatcher.dispatch(0)
    expect(sink.lengths).toEqual([2, 102, 1000, 1000])
    expect(dispatcher.creditOf(S1)).toBe(600)
    // 500 done, and the window shrank: the ack carries no credit, nothing goes.
    ledger.complete([104, 500], S1)
    dispatcher.grant(S1, 0)
    dispatcher.dispatch(0)
    expect(sink.lengths).toHaveLength(4)
    // 200 more of room while 1500 are in flight (a full batch beyond the lane): still held.
    dispatcher.grant(S1, 200)
    dispatcher.dispatch(0)
    expect(sink.lengths).toHaveLength(4)
    // Down to 400 in flight (less than a full batch beyond the lane): the 800 go, in one frame.
    ledger.complete([604, 1100], S1)
    dispatcher.dispatch(0)
    expect(sink.lengths).toEqual([2, 102, 1000, 1000, 800])
    expect(dispatcher.creditOf(S1)).toBe(0)
    expect(sink.seqs).toEqual(Array.from({ length: 2904 }, (_, i) => i))
  })
})

describe('Dispatcher with controls', () => {
  const NONE = { paused: false, rate: undefined, maxInFlight: undefined, throttle: undefined }

  it('sends no more than max in flight over every session, jobs that came back included', () => {
    const ledger = ledgerOf(20)
    const controls = new Controls({ ...NONE, maxInFlight: 5 }, 0)
    const { dispatcher, sink } = dispatcherOf(ledger, { batchSize: 3, controls }, S1, S2)
    dispatcher.open(slave(S1, 4, Infinity, 'slave 1'))
    dispatcher.open(slave(S2, 4, Infinity, 'slave 2'))
    dispatcher.grant(S1, 10)
    dispatcher.grant(S2, 10)
    dispatcher.dispatch(0)
    expect(sink.lengths).toEqual([3, 2])
    expect(ledger.counts.inFlight).toBe(5)
    // Waiting on acks, not on a timer.
    expect(dispatcher.wakeIn(0)).toBeUndefined()
    // S1 hands back its 3 jobs: they come back, and still obey the cap.
    // The 3 the cap lets out are shared by free lanes (S1 4 of 4, S2 2 of 4: 2 and 1), this
    // dispatch starting with S2.
    for (const seq of [0, 1, 2]) ledger.requeue(seq, S1, true)
    dispatcher.dispatch(0)
    expect(sink.lengths).toEqual([3, 2, 1, 2])
    expect(sink.frames.slice(2).map((f) => f.session)).toEqual([S2, S1])
    expect(ledger.counts.inFlight).toBe(5)
  })

  it('sends the tokens of the rate, then asks to be woken when the next are due; nothing while paused', () => {
    const ledger = ledgerOf(100)
    const controls = new Controls({ ...NONE, rate: 100 }, 0)
    const { dispatcher, sink } = dispatcherOf(ledger, { controls }, S1)
    dispatcher.open(slave(S1, 4, Infinity, 'slave 1'))
    dispatcher.grant(S1, 100)
    dispatcher.dispatch(0)
    expect(sink.lengths).toEqual([25])
    expect(dispatcher.wakeIn(0)).toBe(10)
    dispatcher.dispatch(10)
    expect(sink.lengths).toEqual([25, 1])
    dispatcher.dispatch(35)
    expect(sink.lengths).toEqual([25, 1, 2])
    controls.setPaused(true, { kind: 'api' }, 35)
    dispatcher.dispatch(1000)
    expect(sink.lengths).toEqual([25, 1, 2])
    expect(dispatcher.wakeIn(1000)).toBeUndefined()
    controls.setPaused(false, { kind: 'api' }, 1000)
    dispatcher.dispatch(1000)
    expect(sink.lengths).toEqual([25, 1, 2, 25])
    // No jobs left to send: no timer.
    const idle = new Dispatcher(ledgerOf(0), sink, { batchSize: 1000, maxFrame: 16 * 1024 * 1024 }, new Controls({ ...NONE, rate: 100 }, 0))
    idle.open(slave(S1, 4, Infinity, 'slave 1'))
    idle.grant(S1, 10)
    idle.dispatch(0)
    expect(idle.wakeIn(0)).toBeUndefined()
  })

  it("shares the rate's tokens between equally fast slaves equally, whoever connected first", () => {
    // Two equally fast slaves (their jobs acked as soon as they are sent, the credit given
    // back): each gets about half of what the rate lets out, not the first one nearly all.
    const ledger = ledgerOf(4000)
    const controls = new Controls({ ...NONE, rate: 1000 }, 0)
    const { dispatcher, sink } = dispatcherOf(ledger, { controls, batchSize: 64 }, S1, S2)
    dispatcher.open(slave(S1, 8, Infinity, 'slave 1'))
    dispatcher.open(slave(S2, 8, Infinity, 'slave 2'))
    dispatcher.grant(S1, 16)
    dispatcher.grant(S2, 16)
    const sent = new Map([
      [S1, 0],
      [S2, 0],
    ])
    for (let now = 0; now <= 2000; now++) {
      const from = sink.frames.length
      dispatcher.dispatch(now)
      for (const { session, message } of sink.frames.slice(from)) {
        const seqs = seqsOf(message as JobsMessage)
        sent.set(session, sent.get(session)! + seqs.length)
        ledger.complete([seqs[0], seqs.length], session, [])
        dispatcher.grant(session, seqs.length)
      }
    }
    const total = sent.get(S1)! + sent.get(S2)!
    expect(total).toBeGreaterThan(1900)
    expect(sent.get(S1)! / total).toBeGreaterThan(0.45)
    expect(sent.get(S2)! / total).toBeGreaterThan(0.45)
  })

  it("gives a slave with three times the free lanes about three times the rate's tokens", () => {
    const ledger = ledgerOf(1000)
    const controls = new Controls({ ...NONE, rate: 100 }, 0)
    const { dispatcher, sink } = dispatcherOf(ledger, { controls }, S1, S2)
    dispatcher.open(slave(S1, 1, Infinity, 'slave 1'))
    dispatcher.open(slave(S2, 3, Infinity, 'slave 2'))
    dispatcher.grant(S1, 100)
    dispatcher.grant(S2, 300)
    // The first allowance is the burst: 25 tokens.
    dispatcher.dispatch(0)
    const of = (session: number): number =>
      sink.frames.filter((f) => f.session === session).reduce((n, f) => n + (f.message as JobsMessage).jobs.length, 0)
    expect(of(S1) + of(S2)).toBe(25)
    expect(of(S1)).toBeGreaterThanOrEqual(6)
    expect(of(S1)).toBeLessThanOrEqual(7)
  })
})
