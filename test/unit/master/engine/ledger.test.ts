import { describe, expect, it } from 'vitest'
import type { LedgerCounts } from '../../../../src/master/engine/ledger.js'
import { DONE, IN_FLIGHT, Ledger, QUEUED, SKIPPED, WAITING } from '../../../../src/master/engine/ledger.js'
import { attemptAt, seqsOf } from '../../../../src/protocol/jobs-batch.js'
import { rangesOf } from '../../../../src/protocol/ranges.js'

const S1 = 1
const S2 = 2
const key = (seq: number): string => `k${seq}`
/** An ack's ranges for these seqs. */
const acks = (...seqs: number[]): number[] => rangesOf(seqs)

/** A ledger with `n` jobs `{ n: seq }` keyed `k<seq>`, the first `sent` of them in flight on S1 (sent at 0). */
function ledgerWith(n: number, sent = 0): Ledger {
  const ledger = new Ledger(1024)
  for (let seq = 0; seq < n; seq++) expect(ledger.add({ n: seq }, key(seq))).toBe(seq)
  if (sent > 0) expect(seqsOf(ledger.take(sent, S1, 0))).toHaveLength(sent)
  return ledger
}

function counts(partial: Partial<LedgerCounts>): LedgerCounts {
  return { queued: 0, inFlight: 0, waiting: 0, done: 0, failed: 0, skipped: 0, ...partial }
}

describe('Ledger', () => {
  it('rounds the window up to a power of two, at least 1024', () => {
    expect(new Ledger(1).capacity).toBe(1024)
    expect(new Ledger(1024).capacity).toBe(1024)
    expect(new Ledger(1025).capacity).toBe(2048)
    expect(new Ledger(10_000).capacity).toBe(16384)
  })

  it('starts at the resume position with its key', () => {
    const ledger = new Ledger(10, 500, 'k499')
    expect([ledger.position, ledger.next, ledger.lastKey, ledger.idle]).toEqual([500, 500, 'k499', true])
    expect(ledger.add('job', 'k500')).toBe(500)
    expect(ledger.stateOf(499)).toBe(DONE)
    expect(ledger.stateOf(500)).toBe(QUEUED)
    expect(ledger.stateOf(501)).toBe(0)
  })

  it('moves the watermark only over contiguous finished jobs', () => {
    const ledger = ledgerWith(5, 5)
    expect(ledger.complete(acks(2, 1), S1)).toBe(2)
    expect(ledger.position).toBe(0)
    expect(ledger.lastKey).toBeUndefined()
    expect(ledger.complete(acks(0), S1)).toBe(1)
    expect(ledger.position).toBe(3)
    expect(ledger.lastKey).toBe('k2')
    expect(ledger.span).toBe(2)
    expect(ledger.counts).toEqual(counts({ inFlight: 2, done: 3 }))
  })

  it('take() respects max and generator order, and reports attempts', () => {
    const ledger = ledgerWith(5)
    const first = ledger.take(2, S1, 100)
    expect(first).toEqual({ type: 'jobs', first: 0, jobs: [{ n: 0 }, { n: 1 }] })
    expect(ledger.take(10, S2, 100)).toEqual({ type: 'jobs', first: 2, jobs: [{ n: 2 }, { n: 3 }, { n: 4 }] })
    expect(seqsOf(ledger.take(10, S2, 100))).toEqual([])
    expect(ledger.counts).toEqual(counts({ inFlight: 5 }))
    expect(ledger.stateOf(0)).toBe(IN_FLIGHT)
  })

  it('serves retries before fresh jobs, with the attempt counted', () => {
    const ledger = ledgerWith(4, 2)
    expect(ledger.requeue(1, S1)).toBe(true)
    expect(ledger.counts).toEqual(counts({ queued: 3, inFlight: 1 }))
    expect(ledger.take(2, S2, 0)).toEqual({ type: 'jobs', first: 1, jobs: [{ n: 1 }, { n: 2 }], attempts: [2, 1] })
  })

  it('keeps retries beyond max for the next take', () => {
    const ledger = ledgerWith(4, 3)
    for (const seq of [2, 0, 1]) ledger.requeue(seq, S1)
    expect(seqsOf(ledger.take(2, S2, 0))).toEqual([2, 0])
    expect(seqsOf(ledger.take(2, S2, 0))).toEqual([1, 3])
  })

  it('requeue with uncount undoes the attempt', () => {
    const ledger = ledgerWith(1, 1)
    expect(ledger.requeue(0, S1, true)).toBe(true)
    expect(ledger.entry(0).attempts).toBe(0)
    expect(attemptAt(ledger.take(1, S1, 0), 0)).toBe(1)
  })

  it('requeue, defer and finishFailed ignore jobs not in flight on that session', () => {
    const ledger = ledgerWith(2, 1)
    expect(ledger.requeue(0, S2)).toBe(false)
    expect(ledger.requeue(1, S1)).toBe(false)
    expect(ledger.defer(0, S2, 10)).toBe(false)
    expect(ledger.finishFailed(0, S2)).toBe(false)
    expect(ledger.finishFailed(7, S1)).toBe(false)
    expect(ledger.attemptsOf(0, S2)).toBe(0)
    expect(ledger.attemptsOf(0, S1)).toBe(1)
    expect(ledger.counts).toEqual(counts({ queued: 1, inFlight: 1 }))
  })

  it('defer holds a job until promote() reaches its due time', () => {
    const ledger = ledgerWith(3, 3)
    expect(ledger.nextDue).toBeUndefined()
    expect(ledger.defer(0, S1, 2000)).toBe(true)
    expect(ledger.defer(1, S1, 1000)).toBe(true)
    expect(ledger.stateOf(0)).toBe(WAITING)
    expect(ledger.counts).toEqual(counts({ inFlight: 1, waiting: 2 }))
    expect(ledger.nextDue).toBe(1000)
    expect(ledger.promote(999)).toBe(0)
    expect(seqsOf(ledger.take(5, S1, 0))).toEqual([])
    expect(ledger.promote(1000)).toBe(1)
    expect(ledger.nextDue).toBe(2000)
    expect(ledger.counts).toEqual(counts({ queued: 1, inFlight: 1, waiting: 1 }))
    expect(ledger.take(5, S2, 1000)).toEqual({ type: 'jobs', first: 1, jobs: [{ n: 1 }], attempts: [2] })
    expect(ledger.promote(5000)).toBe(1)
    expect(ledger.nextDue).toBeUndefined()
    expect(ledger.promote(5000)).toBe(0)
  })

  it('finishFailed counts the job finished and advances the watermark', () => {
    const ledger = ledgerWith(2, 2)
    ledger.complete(acks(1), S1)
    expect(ledger.finishFailed(0, S1)).toBe(true)
    expect(ledger.position).toBe(2)
    expect(ledger.lastKey).toBe('k1')
    expect(ledger.idle).toBe(true)
    expect(ledger.counts).toEqual(counts({ done: 1, failed: 1 }))
    expect(ledger.finishFailed(0, S1)).toBe(false)
  })

  it('ignores acks from the wrong session, unknown seqs and stale seqs', () => {
    const ledger = ledgerWith(3, 2)
    const out: number[] = []
    expect(ledger.complete(acks(0, 1), S2, out)).toBe(0)
    expect(ledger.complete(acks(2, 99, -1), S1, out)).toBe(0)
    expect(out).toEqual([])
    expect(ledger.complete(acks(0, 0, 1), S1, out)).toBe(2)
    expect(out).toEqual([0, 2])
    // Below the watermark now: stale.
    expect(ledger.complete(acks(0, 1), S1)).toBe(0)
    expect(ledger.counts).toEqual(counts({ queued: 1, done: 2 }))
  })

  it('walks an ack range only where it meets the window, however long it claims to be', () => {
    const ledger = ledgerWith(1000, 600)
    expect(seqsOf(ledger.take(400, S2, 0))).toHaveLength(400)
    const out: number[] = []
    // Another session's jobs are not finished by a range that covers them.
    expect(ledger.complete([0, 2 ** 52], S2, out)).toBe(400)
    expect(out).toEqual([600, 400])
    expect(ledger.complete([590, 2 ** 52, 2 ** 52, 2 ** 52], S1, out)).toBe(10)
    expect(out).toEqual([600, 400, 590, 10])
    expect(ledger.counts).toEqual(counts({ inFlight: 590, done: 410 }))
    expect(ledger.position).toBe(0)
  })

  it('cuts ranges that together walk more than the window, so a repeating slave cannot hold the master', () => {
    const ledger = ledgerWith(10, 10)
    const repeated: number[] = []
    for (let i = 0; i < ledger.capacity; i++) repeated.push(0, 1)
    // Job 0 is walked capacity times (accepted once); job 5 is past the cut.
    expect(ledger.complete([...repeated, 5, 1], S1)).toBe(1)
    expect(ledger.stateOf(5)).toBe(IN_FLIGHT)
    expect(ledger.complete([1, 9], S1)).toBe(9)
    expect(ledger.counts).toEqual(counts({ done: 10 }))
  })

  it('retrying tells whether released or due jobs wait to go out first', () => {
    const ledger = ledgerWith(3, 2)
    expect(ledger.hasReturnedJobs).toBe(false)
    ledger.requeue(1, S1)
    expect(ledger.hasReturnedJobs).toBe(true)
    expect(seqsOf(ledger.take(5, S2, 0))).toEqual([1, 2])
    expect(ledger.hasReturnedJobs).toBe(false)
  })

  it('stillInWindow gives the finished seqs still in the window, with their keys', () => {
    const ledger = ledgerWith(6, 6)
    const out: number[] = []
    ledger.complete(acks(0, 1, 3, 4), S1, out)
    expect(out).toEqual([0, 2, 3, 2])
    expect(ledger.position).toBe(2)
    expect(ledger.stillInWindow(out)).toEqual({ ranges: [3, 2], keys: ['k3', 'k4'] })
  })

  it('take() sends one run of fresh jobs across the end of the ring', () => {
    const ledger = new Ledger(1024)
    for (let seq = 0; seq < 1000; seq++) ledger.add({ n: seq }, key(seq))
    ledger.complete([0, 1000], S1)
    expect(ledger.complete([0, 1000], S1)).toBe(0)
    ledger.take(1000, S1, 0)
    expect(ledger.complete([0, 1000], S1)).toBe(1000)
    for (let seq = 1000; seq < 1100; seq++) ledger.add({ n: seq }, key(seq))
    const batch = ledger.take(100, S2, 7)
    expect(batch).toEqual({ type: 'jobs', first: 1000, jobs: Array.from({ length: 100 }, (_, i) => ({ n: 1000 + i })) })
    expect([ledger.stateOf(1023), ledger.stateOf(1024), ledger.stateOf(1099)]).toEqual([IN_FLIGHT, IN_FLIGHT, IN_FLIGHT])
    expect([ledger.entry(1023).attempts, ledger.entry(1024).attempts]).toEqual([1, 1])
    expect(ledger.sentBefore(8)).toHaveLength(100)
    expect(ledger.seqsInFlightOn(S2)).toEqual(Array.from({ length: 100 }, (_, i) => 1000 + i))
  })

  it('counts the jobs in flight on each session through every way out of flight', () => {
    const ledger = ledgerWith(10)
    ledger.take(6, S1, 0)
    ledger.take(3, S2, 0)
    expect([ledger.inFlightCount(S1), ledger.inFlightCount(S2), ledger.inFlightCount(99)]).toEqual([6, 3, 0])
    ledger.complete(acks(0, 1, 7), S1)
    ledger.requeue(2, S1)
    ledger.defer(3, S1, 10)
    ledger.finishFailed(4, S1)
    expect([ledger.inFlightCount(S1), ledger.inFlightCount(S2)]).toEqual([1, 3])
    // The requeued job goes out again, on the other session.
    expect(seqsOf(ledger.take(5, S2, 0))).toEqual([2, 9])
    expect([ledger.inFlightCount(S1), ledger.inFlightCount(S2), ledger.counts.inFlight]).toEqual([1, 5, 6])
  })

  it('ignores an ack for a job that was taken back and sent to another session', () => {
    const ledger = ledgerWith(1, 1)
    ledger.requeue(0, S1)
    ledger.take(1, S2, 0)
    expect(ledger.complete(acks(0), S1)).toBe(0)
    expect(ledger.complete(acks(0), S2)).toBe(1)
  })

  it('seqsInFlightOn lists a session’s jobs; sentBefore lists old ones with their session', () => {
    const ledger = ledgerWith(5)
    ledger.take(2, S1, 100)
    ledger.take(2, S2, 200)
    ledger.complete(acks(0), S1)
    expect(ledger.seqsInFlightOn(S1)).toEqual([1])
    expect(ledger.seqsInFlightOn(S2)).toEqual([2, 3])
    expect(ledger.seqsInFlightOn(3)).toEqual([])
    expect(ledger.sentBefore(100)).toEqual([])
    expect(ledger.sentBefore(201)).toEqual([
      { seq: 1, session: S1 },
      { seq: 2, session: S2 },
      { seq: 3, session: S2 },
    ])
    expect(ledger.sentBefore(150)).toEqual([{ seq: 1, session: S1 }])
  })

  it('finishedInWindow lists exactly the finished jobs beyond the watermark', () => {
    const ledger = ledgerWith(6, 6)
    ledger.complete(acks(1, 3), S1)
    ledger.finishFailed(4, S1)
    expect(ledger.finishedInWindow()).toEqual({ seqs: [1, 3, 4], keys: ['k1', 'k3', 'k4'] })
    ledger.complete(acks(0), S1)
    expect(ledger.position).toBe(2)
    expect(ledger.finishedInWindow()).toEqual({ seqs: [3, 4], keys: ['k3', 'k4'] })
    ledger.complete(acks(2), S1)
    expect(ledger.position).toBe(5)
    expect(ledger.lastKey).toBe('k4')
    expect(ledger.finishedInWindow()).toEqual({ seqs: [], keys: [] })
  })

  it('addSkipped takes a seq, is never sent, and counts as finished', () => {
    const ledger = new Ledger(8)
    expect(ledger.addSkipped('k0')).toBe(0)
    expect(ledger.position).toBe(1)
    expect(ledger.lastKey).toBe('k0')
    ledger.add('j1', 'k1')
    ledger.addSkipped('k2')
    ledger.add('j3', 'k3')
    expect(ledger.stateOf(2)).toBe(SKIPPED)
    expect(ledger.finishedInWindow()).toEqual({ seqs: [2], keys: ['k2'] })
    expect(seqsOf(ledger.take(10, S1, 0))).toEqual([1, 3])
    ledger.complete(acks(1), S1)
    expect(ledger.position).toBe(3)
    expect(ledger.lastKey).toBe('k2')
    expect(ledger.counts).toEqual(counts({ inFlight: 1, done: 1, skipped: 2 }))
  })

  it('avoid leaves a retry for another session', () => {
    const ledger = ledgerWith(3, 1)
    ledger.requeue(0, S1)
    expect(seqsOf(ledger.take(5, S1, 0, true))).toEqual([1, 2])
    expect(seqsOf(ledger.take(5, S1, 0, true))).toEqual([])
    expect(ledger.take(5, S2, 0, true)).toEqual({ type: 'jobs', first: 0, jobs: [{ n: 0 }], attempts: [2] })
  })

  it('avoid does not hold back a retry from a session when asked without it', () => {
    const ledger = ledgerWith(1, 1)
    ledger.requeue(0, S1)
    expect(seqsOf(ledger.take(5, S1, 0))).toEqual([0])
  })

  it('has no room at capacity until the watermark moves', () => {
    const ledger = new Ledger(1024)
    for (let seq = 0; seq < 1024; seq++) {
      expect(ledger.hasRoom).toBe(true)
      ledger.add(seq, seq)
    }
    expect(ledger.hasRoom).toBe(false)
    expect(ledger.span).toBe(1024)
    ledger.take(2, S1, 0)
    ledger.complete(acks(1), S1)
    expect(ledger.hasRoom).toBe(false)
    ledger.complete(acks(0), S1)
    expect(ledger.hasRoom).toBe(true)
    expect(ledger.span).toBe(1022)
  })

  it('wraps its ring buffers around over many jobs, out of order', () => {
    const ledger = new Ledger(1024)
    const total = 10_000
    let added = 0
    let done = 0
    let wrong = 0
    while (done < total) {
      while (ledger.hasRoom && added < total) {
        ledger.add({ n: added }, `k${added}`)
        added++
      }
      const batch = ledger.take(300, S1, 0)
      const seqs = seqsOf(batch)
      expect(seqs.length).toBeGreaterThan(0)
      for (let i = 0; i < seqs.length; i++) if ((batch.jobs[i] as { n: number }).n !== seqs[i]) wrong++
      // Completes the batch backwards so the watermark jumps only at the last ack.
      for (let i = seqs.length - 1; i > 0; i--) done += ledger.complete(acks(seqs[i]), S1)
      if (ledger.position !== seqs[0]) wrong++
      done += ledger.complete(acks(seqs[0]), S1)
      if (ledger.position !== seqs.at(-1)! + 1 || ledger.lastKey !== `k${seqs.at(-1)}`) wrong++
    }
    expect(wrong).toBe(0)
    expect(ledger.position).toBe(total)
    expect(ledger.lastKey).toBe(`k${total - 1}`)
    expect(ledger.idle).toBe(true)
    expect(ledger.counts).toEqual(counts({ done: total }))
    expect(ledger.finishedInWindow()).toEqual({ seqs: [], keys: [] })
  })

  it('keeps counts consistent through a mix of outcomes', () => {
    const ledger = ledgerWith(10, 6)
    ledger.complete(acks(0, 2), S1)
    ledger.requeue(1, S1)
    ledger.defer(3, S1, 50)
    ledger.finishFailed(4, S1)
    const c = ledger.counts
    expect(c).toEqual(counts({ queued: 5, inFlight: 1, waiting: 1, done: 2, failed: 1 }))
    expect(c.queued + c.inFlight + c.waiting + c.done + c.failed).toBe(10)
    expect(ledger.position).toBe(1)
  })

  it('entry gives the job, key and attempts of a seq in the window', () => {
    const ledger = ledgerWith(2, 1)
    expect(ledger.entry(0)).toEqual({ job: { n: 0 }, key: 'k0', attempts: 1 })
    expect(ledger.entry(1)).toEqual({ job: { n: 1 }, key: 'k1', attempts: 0 })
  })
})
