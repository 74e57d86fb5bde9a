import type { JobKey } from '../options.js'

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

/** Names of the states, for messages and tests. */
export const STATE_NAMES: Record<number, string> = { [QUEUED]: 'queued', [IN_FLIGHT]: 'in flight', [WAITING]: 'waiting', [DONE]: 'done', [FAILED]: 'failed', [SKIPPED]: 'skipped' }

/** A batch taken for one slave: parallel arrays, ready to be encoded. */
export interface Batch {
  seqs: number[]
  jobs: unknown[]
  attempts: number[]
}

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
    this.#keys = new Array(capacity).fill(undefined)
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
   */
  take(max: number, session: number, now: number, avoid = false): Batch {
    const batch: Batch = { seqs: [], jobs: [], attempts: [] }
    if (this.#retry.length > 0) this.#takeRetries(batch, max, session, now, avoid)
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
    return batch
  }

  #takeRetries(batch: Batch, max: number, session: number, now: number, avoid: boolean): void {
    const retry = this.#retry
    const kept: number[] = []
    let n = 0
    for (; n < retry.length && batch.seqs.length < max; n++) {
      const seq = retry[n]!
      const i = seq & this.#mask
      if (avoid && this.#owner[i] === session) kept.push(seq)
      else this.#send(batch, seq, i, session, now)
    }
    // What was not looked at stays in order behind what was kept.
    this.#retry = n === retry.length ? kept : kept.concat(retry.slice(n))
  }

  #send(batch: Batch, seq: number, i: number, session: number, now: number): void {
    this.#state[i] = IN_FLIGHT
    this.#owner[i] = session
    this.#sentAt[i] = now
    const attempt = ++this.#attempts[i]!
    batch.seqs.push(seq)
    batch.jobs.push(this.#jobs[i])
    batch.attempts.push(attempt)
    this.counts.queued--
    this.counts.inFlight++
  }

  /** Index of `seq` if it is in flight on `session`, else -1 (stale, unknown or foreign). */
  #inFlightOn(seq: number, session: number): number {
    if (seq < this.#base || seq >= this.#next) return -1
    const i = seq & this.#mask
    return this.#state[i] === IN_FLIGHT && this.#owner[i] === session ? i : -1
  }

  /**
   * Marks jobs that `session` reports done. Seqs that are not in flight on that
   * session (timed out and re-sent, from an older connection, made up) are ignored.
   * Returns how many were accepted; their seqs and keys are appended to `out`.
   */
  complete(seqs: readonly number[], session: number, out?: { seqs: number[]; keys: JobKey[] }): number {
    let accepted = 0
    for (let n = 0; n < seqs.length; n++) {
      const seq = seqs[n]!
      const i = this.#inFlightOn(seq, session)
      if (i < 0) continue
      this.#state[i] = DONE
      this.#jobs[i] = undefined
      accepted++
      if (out !== undefined) {
        out.seqs.push(seq)
        out.keys.push(this.#keys[i]!)
      }
    }
    this.counts.inFlight -= accepted
    this.counts.done += accepted
    if (accepted > 0) this.#advance()
    return accepted
  }

  /** Attempts made so far on `seq` if it is in flight on `session`, else 0. */
  attemptsOf(seq: number, session: number): number {
    const i = this.#inFlightOn(seq, session)
    return i < 0 ? 0 : this.#attempts[i]!
  }

  /** The job and key of a seq in the window. */
  entry(seq: number): { job: unknown; key: JobKey; attempts: number } {
    const i = seq & this.#mask
    return { job: this.#jobs[i], key: this.#keys[i]!, attempts: this.#attempts[i]! }
  }

  /** Puts an in-flight job back at the front of the buffer. `uncount` undoes its attempt (it never ran). */
  requeue(seq: number, session: number, uncount = false): boolean {
    const i = this.#inFlightOn(seq, session)
    if (i < 0) return false
    if (uncount) this.#attempts[i]!--
    this.#state[i] = QUEUED
    this.#retry.push(seq)
    this.counts.inFlight--
    this.counts.queued++
    return true
  }

  /** Holds an in-flight job back until `due` (a retry delay), then it is queued again. */
  defer(seq: number, session: number, due: number): boolean {
    const i = this.#inFlightOn(seq, session)
    if (i < 0) return false
    this.#state[i] = WAITING
    this.#delayed.push({ seq, due })
    this.counts.inFlight--
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
    const i = this.#inFlightOn(seq, session)
    if (i < 0) return false
    this.#state[i] = FAILED
    this.#jobs[i] = undefined
    this.counts.inFlight--
    this.counts.failed++
    this.#advance()
    return true
  }

  /** Seqs in flight on `session` (scan of the window; used when a slave goes away). */
  inFlightOn(session: number): number[] {
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
      if (this.#state[i] === IN_FLIGHT && this.#sentAt[i]! < before) found.push({ seq, session: this.#owner[i]! })
    }
    return found
  }

  /** Seqs and keys of the jobs finished beyond the watermark (what a checkpoint must list). */
  finishedBeyond(): { seqs: number[]; keys: JobKey[] } {
    const seqs: number[] = []
    const keys: JobKey[] = []
    for (let seq = this.#base; seq < this.#next; seq++) {
      const s = this.#state[seq & this.#mask]!
      if (s >= DONE) {
        seqs.push(seq)
        keys.push(this.#keys[seq & this.#mask]!)
      }
    }
    return { seqs, keys }
  }

  /** State of a seq: a state number, or DONE below the watermark, or 0 beyond `next`. */
  stateOf(seq: number): number {
    if (seq < this.#base) return DONE
    if (seq >= this.#next) return 0
    return this.#state[seq & this.#mask]!
  }

  /** Moves the watermark over every finished job at the bottom of the window. */
  #advance(): void {
    const mask = this.#mask
    const state = this.#state
    let base = this.#base
    const next = this.#next
    if (base === next || state[base & mask]! < DONE) return
    const keys = this.#keys
    let lastKey: JobKey | undefined
    while (base < next && state[base & mask]! >= DONE) {
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
