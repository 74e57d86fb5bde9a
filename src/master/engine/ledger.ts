import type { JobKey } from '../../options.js'
import { jobsMessage } from '../../protocol/jobs-batch.js'
import type { JobsMessage } from '../../protocol/messages.js'
import type { Ranges } from '../../protocol/ranges.js'
import { appendRange } from '../../protocol/ranges.js'

// Job states. Plain numbers in a Uint8Array: the ledger is on the per-job hot path.
/** In the buffer, waiting to be sent. */
export const QUEUED = 1
/** Sent to a slave, not finished. */
export const IN_FLIGHT = 2
/** Failed an attempt, waiting out its retry delay. */
export const WAITING = 3
/** Finished: the handler succeeded. */
export const DONE = 4
/** Finished: out of attempts, recorded in the failed-jobs log. */
export const FAILED = 5
/** Finished in an earlier incarnation of the run (checkpoint or journal). */
export const SKIPPED = 6

/** A batch taken for one slave: the `jobs` message that carries it, ready to be encoded. */
export type Batch = JobsMessage

/** Counters the status display shows. */
export interface LedgerCounts {
  queued: number
  inFlight: number
  waiting: number
  done: number
  failed: number
  skipped: number
}

/**
 * Every job of the window, by sequence number (position in generator order).
 *
 * The window is `[watermark + 1, next)`: every job before it is finished, and it is
 * held in fixed-size ring buffers, so memory does not grow with the run. Fresh jobs
 * are dispatched in order from a cursor; jobs that come back (released, retried) go
 * to a small retry deque that is served first.
 */
export class Ledger {
  readonly capacity: number
  readonly #mask: number
  readonly #state: Uint8Array
  readonly #attempts: Uint8Array
  readonly #owner: Int32Array
  readonly #sentAt: Float64Array
  readonly #jobs: unknown[]
  readonly #keys: JobKey[]
  /** Seqs to send before fresh ones (released or due retries), oldest first. */
  #retry: number[] = []
  /** Seqs waiting out a retry delay, with the time they are due. */
  #delayed: { seq: number; due: number }[] = []
  #base: number
  #next: number
  #cursor: number
  #lastKey: JobKey | undefined
  readonly counts: LedgerCounts = { queued: 0, inFlight: 0, waiting: 0, done: 0, failed: 0, skipped: 0 }
  /** Jobs in flight by session (sessions with none are left out). */
  readonly #inFlightBy = new Map<number, number>()

  /**
   * @param windowSize most jobs the window may hold (rounded up to a power of two)
   * @param position jobs already known finished: the first seq of this incarnation
   * @param lastKey key of job `position - 1`, if any
   */
  constructor(windowSize: number, position = 0, lastKey?: JobKey) {
    let capacity = 1024
    while (capacity < windowSize) capacity *= 2
    this.capacity = capacity
    this.#mask = capacity - 1
    this.#state = new Uint8Array(capacity)
    this.#attempts = new Uint8Array(capacity)
    this.#owner = new Int32Array(capacity)
    this.#sentAt = new Float64Array(capacity)
    this.#jobs = new Array(capacity).fill(undefined)
    this.#keys = new Array<JobKey>(capacity).fill(undefined as unknown as JobKey)
    this.#base = this.#next = this.#cursor = position
    this.#lastKey = lastKey
  }

  /** Jobs known finished, contiguously from the start: the watermark plus one. */
  get position(): number {
    return this.#base
  }

  /** Key of the watermark job (job `position - 1`), or undefined before the first. */
  get lastKey(): JobKey | undefined {
    return this.#lastKey
  }

  /** Seq the next job from the generator gets. */
  get next(): number {
    return this.#next
  }

  /** Jobs in the window (not yet below the watermark). */
  get span(): number {
    return this.#next - this.#base
  }

  /** True when the window has room for another job. */
  get hasRoom(): boolean {
    return this.#next - this.#base < this.capacity
  }

  /** True when nothing in the window is left to finish. */
  get idle(): boolean {
    return this.#base === this.#next
  }

  /** Adds a job from the generator to the buffer; returns its seq. Caller checks {@link hasRoom}. */
  add(job: unknown, key: JobKey): number {
    const seq = this.#next++
    const i = seq & this.#mask
    this.#state[i] = QUEUED
    this.#attempts[i] = 0
    this.#owner[i] = 0
    this.#jobs[i] = job
    this.#keys[i] = key
    this.counts.queued++
    return seq
  }

  /** Adds a job that an earlier incarnation finished: it takes a seq but is not run. */
  addSkipped(key: JobKey): number {
    const seq = this.#next++
    const i = seq & this.#mask
    this.#state[i] = SKIPPED
    this.#keys[i] = key
    this.counts.skipped++
    if (seq === this.#base) this.#advance()
    return seq
  }

  /**
   * Moves up to `max` queued jobs in flight to `session`, retries first. With `avoid`,
   * retries whose last attempt ran on this same session are left for another one.
   *
   * Without retries (nearly always) the batch is one run of fresh jobs from the cursor:
   * the ring's slots are marked with `fill` and the jobs copied with one `slice`, so
   * nothing is done per job but what the ring itself needs.
   */
  take(max: number, session: number, now: number, avoid = false): Batch {
    if (this.#retry.length > 0) return this.#takeEach(max, session, now, avoid)
    const mask = this.#mask
    const state = this.#state
    const end = this.#next
    let first = this.#cursor
    // Jobs an earlier incarnation finished sit among the fresh ones; they are never sent.
    while (first < end && state[first & mask] !== QUEUED) first++
    const limit = Math.min(end, first + max)
    let stop = first
    while (stop < limit && state[stop & mask] === QUEUED) stop++
    if (stop < limit) {
      // A job finished in an earlier incarnation breaks the run: take the rest one by one.
      this.#cursor = first
      return this.#takeEach(max, session, now, avoid)
    }
    this.#cursor = stop
    const n = stop - first
    if (n === 0) return { type: 'jobs', first, jobs: [] }
    const from = first & mask
    const to = from + n
    if (to <= this.capacity) {
      this.#mark(from, to, session, now)
    } else {
      this.#mark(from, this.capacity, session, now)
      this.#mark(0, to - this.capacity, session, now)
    }
    const jobs = this.#slice(this.#jobs, first, stop)
    this.counts.queued -= n
    this.counts.inFlight += n
    this.#countInFlight(session, n)
    return { type: 'jobs', first, jobs }
  }

  /** Marks ring slots `[from, to)` as fresh jobs in flight on `session`, first attempt. */
  #mark(from: number, to: number, session: number, now: number): void {
    this.#state.fill(IN_FLIGHT, from, to)
    this.#owner.fill(session, from, to)
    this.#sentAt.fill(now, from, to)
    this.#attempts.fill(1, from, to)
  }

  /** The general take: retries (in order, some maybe avoided), then fresh jobs, one by one. */
  #takeEach(max: number, session: number, now: number, avoid: boolean): Batch {
    const batch = { seqs: [] as number[], jobs: [] as unknown[], attempts: [] as number[] }
    const retry = this.#retry
    const kept: number[] = []
    let n = 0
    for (; n < retry.length && batch.seqs.length < max; n++) {
      const seq = retry[n]
      const i = seq & this.#mask
      if (avoid && this.#owner[i] === session) kept.push(seq)
      else this.#send(batch, seq, i, session, now)
    }
    // What was not looked at stays in order behind what was kept.
    this.#retry = n === retry.length ? kept : kept.concat(retry.slice(n))
    const mask = this.#mask
    const state = this.#state
    let cursor = this.#cursor
    const end = this.#next
    while (batch.seqs.length < max && cursor < end) {
      const i = cursor & mask
      if (state[i] === QUEUED) this.#send(batch, cursor, i, session, now)
      cursor++
    }
    this.#cursor = cursor
    return jobsMessage(batch.seqs, batch.jobs, batch.attempts)
  }

  #send(batch: { seqs: number[]; jobs: unknown[]; attempts: number[] }, seq: number, i: number, session: number, now: number): void {
    this.#state[i] = IN_FLIGHT
    this.#owner[i] = session
    this.#sentAt[i] = now
    const attempt = ++this.#attempts[i]
    batch.seqs.push(seq)
    batch.jobs.push(this.#jobs[i])
    batch.attempts.push(attempt)
    this.counts.queued--
    this.counts.inFlight++
    this.#countInFlight(session, 1)
  }

  /** True when jobs that came back (released, due retries) are queued to go out first. */
  get hasReturnedJobs(): boolean {
    return this.#retry.length > 0
  }

  /** How many jobs are in flight on `session`. */
  inFlightCount(session: number): number {
    return this.#inFlightBy.get(session) ?? 0
  }

  #countInFlight(session: number, delta: number): void {
    const n = (this.#inFlightBy.get(session) ?? 0) + delta
    if (n === 0) this.#inFlightBy.delete(session)
    else this.#inFlightBy.set(session, n)
  }

  /** Ring slot of `seq` if it is in flight on `session`, else -1 (stale, unknown or foreign). */
  #slotInFlightOn(seq: number, session: number): number {
    if (seq < this.#base || seq >= this.#next) return -1
    const i = seq & this.#mask
    return this.#state[i] === IN_FLIGHT && this.#owner[i] === session ? i : -1
  }

  /**
   * Marks jobs that `session` reports done, given as {@link Ranges}. Seqs that are not in
   * flight on that session (timed out and re-sent, from an older connection, made up)
   * are ignored, and a range is only walked where it meets the window, however long it
   * claims to be; ranges that together walk more than the window's capacity (a slave
   * repeating itself) are cut there. Returns how many were accepted; their seqs are
   * appended to `out`.
   */
  complete(ranges: readonly number[], session: number, out?: Ranges): number {
    const mask = this.#mask
    const state = this.#state
    const owner = this.#owner
    const jobs = this.#jobs
    const base = this.#base
    const next = this.#next
    let accepted = 0
    let budget = this.capacity
    for (let r = 0; r + 1 < ranges.length && budget > 0; r += 2) {
      const from = Math.max(base, ranges[r])
      const end = Math.min(next, ranges[r] + ranges[r + 1], from + budget)
      budget -= Math.max(0, end - from)
      // Accepted seqs go to `out` a run at a time, not one by one.
      let run = -1
      for (let seq = from; seq < end; seq++) {
        const i = seq & mask
        if (state[i] !== IN_FLIGHT || owner[i] !== session) {
          if (run >= 0 && out !== undefined) appendRange(out, run, seq - run)
          run = -1
          continue
        }
        state[i] = DONE
        jobs[i] = undefined
        accepted++
        if (run < 0) run = seq
      }
      if (run >= 0 && out !== undefined) appendRange(out, run, end - run)
    }
    this.counts.inFlight -= accepted
    this.counts.done += accepted
    if (accepted > 0) {
      this.#countInFlight(session, -accepted)
      this.#advance()
    }
    return accepted
  }

  /**
   * The seqs of `ranges` still in the window (finished beyond the watermark), as ranges,
   * with their keys: what a journal record must name one by one.
   */
  stillInWindow(ranges: readonly number[]): { ranges: Ranges; keys: JobKey[] } {
    const beyond: Ranges = []
    let keys: JobKey[] = []
    for (let r = 0; r + 1 < ranges.length; r += 2) {
      const from = Math.max(this.#base, ranges[r])
      const end = Math.min(this.#next, ranges[r] + ranges[r + 1])
      if (from >= end) continue
      appendRange(beyond, from, end - from)
      keys = keys.concat(this.#slice(this.#keys, from, end))
    }
    return { ranges: beyond, keys }
  }

  /** The entries of ring array `ring` for seqs `[from, to)` (at most a window). */
  #slice<T>(ring: T[], from: number, to: number): T[] {
    const i = from & this.#mask
    const j = i + (to - from)
    return j <= this.capacity ? ring.slice(i, j) : ring.slice(i).concat(ring.slice(0, j - this.capacity))
  }

  /** Attempts made so far on `seq` if it is in flight on `session`, else 0. */
  attemptsOf(seq: number, session: number): number {
    const i = this.#slotInFlightOn(seq, session)
    return i < 0 ? 0 : this.#attempts[i]
  }

  /** The job and key of a seq in the window. */
  entry(seq: number): { job: unknown; key: JobKey; attempts: number } {
    const i = seq & this.#mask
    return { job: this.#jobs[i], key: this.#keys[i], attempts: this.#attempts[i] }
  }

  /** Puts an in-flight job back at the front of the buffer. `uncount` undoes its attempt (it never ran). */
  requeue(seq: number, session: number, uncount = false): boolean {
    const i = this.#slotInFlightOn(seq, session)
    if (i < 0) return false
    if (uncount) this.#attempts[i]--
    this.#state[i] = QUEUED
    this.#retry.push(seq)
    this.counts.inFlight--
    this.#countInFlight(session, -1)
    this.counts.queued++
    return true
  }

  /** Holds an in-flight job back until `due` (a retry delay), then it is queued again. */
  defer(seq: number, session: number, due: number): boolean {
    const i = this.#slotInFlightOn(seq, session)
    if (i < 0) return false
    this.#state[i] = WAITING
    this.#delayed.push({ seq, due })
    this.counts.inFlight--
    this.#countInFlight(session, -1)
    this.counts.waiting++
    return true
  }

  /** Queues the deferred jobs that are due by `now`; returns how many. */
  promote(now: number): number {
    if (this.#delayed.length === 0) return 0
    const still: { seq: number; due: number }[] = []
    let promoted = 0
    for (const d of this.#delayed) {
      if (d.due > now) {
        still.push(d)
        continue
      }
      this.#state[d.seq & this.#mask] = QUEUED
      this.#retry.push(d.seq)
      promoted++
    }
    this.#delayed = still
    this.counts.waiting -= promoted
    this.counts.queued += promoted
    return promoted
  }

  /** Earliest time a deferred job is due, or undefined. */
  get nextDue(): number | undefined {
    let due: number | undefined
    for (const d of this.#delayed) if (due === undefined || d.due < due) due = d.due
    return due
  }

  /** Marks an in-flight job finished as failed (it is in the failed-jobs log). */
  finishFailed(seq: number, session: number): boolean {
    const i = this.#slotInFlightOn(seq, session)
    if (i < 0) return false
    this.#state[i] = FAILED
    this.#jobs[i] = undefined
    this.counts.inFlight--
    this.#countInFlight(session, -1)
    this.counts.failed++
    this.#advance()
    return true
  }

  /** Seqs in flight on `session` (scan of the window; used when a slave goes away). */
  seqsInFlightOn(session: number): number[] {
    const seqs: number[] = []
    for (let seq = this.#base; seq < this.#next; seq++) {
      const i = seq & this.#mask
      if (this.#state[i] === IN_FLIGHT && this.#owner[i] === session) seqs.push(seq)
    }
    return seqs
  }

  /** In-flight jobs sent before `before`, with the session holding each. */
  sentBefore(before: number): { seq: number; session: number }[] {
    const found: { seq: number; session: number }[] = []
    for (let seq = this.#base; seq < this.#next; seq++) {
      const i = seq & this.#mask
      if (this.#state[i] === IN_FLIGHT && this.#sentAt[i] < before) found.push({ seq, session: this.#owner[i] })
    }
    return found
  }

  /** When an in-flight job was sent (ms since the epoch), to order jobs by it. */
  sentAtOf(seq: number): number {
    return this.#sentAt[seq & this.#mask]
  }

  /** Seqs and keys of the jobs finished beyond the watermark (what a checkpoint must list). */
  finishedInWindow(): { seqs: number[]; keys: JobKey[] } {
    const seqs: number[] = []
    const keys: JobKey[] = []
    for (let seq = this.#base; seq < this.#next; seq++) {
      const s = this.#state[seq & this.#mask]
      if (s >= DONE) {
        seqs.push(seq)
        keys.push(this.#keys[seq & this.#mask])
      }
    }
    return { seqs, keys }
  }

  /** State of a seq: a state number, or DONE below the watermark, or 0 beyond `next`. */
  stateOf(seq: number): number {
    if (seq < this.#base) return DONE
    if (seq >= this.#next) return 0
    return this.#state[seq & this.#mask]
  }

  /** Moves the watermark over every finished job at the bottom of the window. */
  #advance(): void {
    const mask = this.#mask
    const state = this.#state
    let base = this.#base
    const next = this.#next
    if (base === next || state[base & mask] < DONE) return
    const keys = this.#keys
    let lastKey: JobKey | undefined
    while (base < next && state[base & mask] >= DONE) {
      const i = base & mask
      lastKey = keys[i]
      state[i] = 0
      this.#jobs[i] = undefined
      keys[i] = undefined as unknown as JobKey
      base++
    }
    this.#lastKey = lastKey
    this.#base = base
    if (this.#cursor < base) this.#cursor = base
  }
}
