import type { BatchHandler } from '../options.js'
import { timedOutMessage } from '../protocol/constants.js'
import { attemptAt, seqAt } from '../protocol/jobs-batch.js'
import type { Failure } from '../protocol/messages.js'
import { BatchRunContext } from './batch-context.js'
import { failedOf } from './batch-result.js'
import { failureOf } from './failure.js'
import type { JobQueue } from './job-queue.js'
import type { Lane, LaneHost, LaneStrategy } from './lane-strategy.js'
import type { RunScope } from './run-scope.js'

/**
 * Called when jobs of a running batch go back to the master unfinished: another job of
 * their batch was taken back (--job-timeout), so the batch's call was abandoned with it.
 */
export type ReleasedCallback = (seqs: number[], connection: number) => void

/** How a runner with a batch handler batches. */
export interface Batching {
  handler: BatchHandler
  /** Most jobs per call. */
  size: number
  /** Milliseconds a lane waits for a batch to fill before it runs a smaller one. */
  linger: number
  /** Where the jobs of an abandoned batch that were not taken back go (see {@link ReleasedCallback}). */
  onReleased: ReleasedCallback
}

/** A job of a running batch whose result is not known yet. */
const PENDING = 0
/** A job of a running batch that was reported (done or failed). */
const SETTLED = 1

/**
 * A lane of a batch handler and the batch it runs: parallel arrays of the jobs, their
 * seqs and attempts, which are settled (a split batch settles its halves in turn), the
 * calls still to run as ranges `[from, to)` of them, last first, and the call running:
 * its range, its jobs and its timer.
 */
export interface BatchLane extends Lane {
  ctx: BatchRunContext
  jobs: unknown[]
  seqs: number[]
  attempts: number[]
  settled: Uint8Array
  ranges: number[]
  from: number
  to: number
  calling: unknown[]
  timer: NodeJS.Timeout | undefined
}

/**
 * Lanes that run a batch handler on up to `size` jobs of one connection at a time. A
 * call that throws is split in halves, each run again in turn, down to single jobs: a
 * bad job ends alone with its own error and every other job of the batch is done. The
 * split is local and spends no attempt (with --retries 3, a batch of 1,000 needs 10
 * halvings to isolate a row): only a job that fails alone, or that the handler returns as
 * failed, reports a failed attempt to the master. A call past the call timeout is split
 * the same way, by an heir lane that takes over the batch (see {@link timeCalls}).
 */
export class BatchStrategy implements LaneStrategy<BatchLane> {
  /** A batch is long: the clock is read after each. */
  readonly clockMask = 0
  readonly #handler: BatchHandler
  readonly #size: number
  readonly #linger: number
  readonly #onReleased: ReleasedCallback
  readonly #scope: RunScope
  readonly #host: LaneHost
  /** Seconds a call may run before this slave times it out itself (0: no limit; see {@link timeCalls}). */
  #callTimeout = 0

  constructor(batching: Batching, scope: RunScope, host: LaneHost) {
    this.#handler = batching.handler
    this.#size = batching.size
    this.#linger = batching.linger
    this.#onReleased = batching.onReleased
    this.#scope = scope
    this.#host = host
  }

  lane(heirOf?: BatchLane): BatchLane {
    const lane: BatchLane = {
      ctx: new BatchRunContext(this.#scope),
      connection: 0,
      orphaned: false,
      jobs: [],
      seqs: [],
      attempts: [],
      settled: new Uint8Array(0),
      ranges: [],
      from: 0,
      to: 0,
      calling: [],
      timer: undefined,
    }
    if (heirOf !== undefined) {
      lane.connection = heirOf.connection
      lane.jobs = heirOf.jobs
      lane.seqs = heirOf.seqs
      lane.attempts = heirOf.attempts
      lane.settled = heirOf.settled
      lane.ranges = heirOf.ranges
    }
    return lane
  }

  busy(lane: BatchLane): boolean {
    return lane.ranges.length > 0
  }

  /** A lane lingers for a full batch, unless the queue is closed or a retry comes first (see {@link take}). */
  ready(queue: JobQueue): Promise<void> | undefined {
    if (this.#linger === 0 || queue.length >= this.#size || queue.closed) return undefined
    const batch = queue.head!
    if (attemptAt(batch.message, batch.next) > 1) return undefined
    return queue.filled(this.#size, this.#linger)
  }

  /**
   * Takes the next batch for `lane` from the queue: up to `size` jobs of one connection.
   * A retry (attempt > 1) runs alone: it failed before, most likely by itself, and
   * alone it costs no split of a batch of good jobs.
   */
  take(lane: BatchLane, queue: JobQueue): boolean {
    const size = this.#size
    const jobs: unknown[] = []
    const seqs: number[] = []
    const attempts: number[] = []
    let connection = -1
    while (jobs.length < size) {
      const batch = queue.head
      if (batch === undefined || (connection !== -1 && batch.connection !== connection)) break
      const seq = seqAt(batch.message, batch.next)
      const attempt = attemptAt(batch.message, batch.next)
      if (attempt > 1 && jobs.length > 0) break
      const i = queue.take()
      if (this.#host.skipped(seq, attempt, batch.connection)) continue
      connection = batch.connection
      jobs.push(batch.message.jobs[i])
      seqs.push(seq)
      attempts.push(attempt)
      if (attempt > 1) break
    }
    const n = jobs.length
    if (n === 0) return false
    this.#host.started(n)
    lane.jobs = jobs
    lane.seqs = seqs
    lane.attempts = attempts
    lane.settled = new Uint8Array(n)
    lane.connection = connection
    lane.ctx = new BatchRunContext(this.#scope)
    lane.ranges.push(0, n)
    return true
  }

  call(lane: BatchLane): unknown {
    const to = lane.ranges.pop()!
    const from = lane.ranges.pop()!
    const whole = from === 0 && to === lane.jobs.length
    lane.from = from
    lane.to = to
    lane.calling = whole ? lane.jobs : lane.jobs.slice(from, to)
    lane.ctx.attempts = whole ? lane.attempts : lane.attempts.slice(from, to)
    lane.ctx.seqs = whole ? lane.seqs : lane.seqs.slice(from, to)
    // Called as a plain function: `this` in the handler is undefined, never this strategy.
    const handler = this.#handler
    return handler(lane.calling, lane.ctx)
  }

  awaiting(lane: BatchLane): void {
    if (this.#callTimeout === 0) return
    const { from, to } = lane
    lane.timer = setTimeout(() => this.#timedOut(lane, from, to), this.#callTimeout * 1000)
  }

  settle(lane: BatchLane, result: unknown, thrown: boolean): boolean {
    clearTimeout(lane.timer)
    lane.timer = undefined
    const { from, to, calling } = lane
    let failed: Map<number, unknown> | undefined
    if (!thrown) {
      try {
        failed = failedOf(result, calling)
      } catch (error) {
        thrown = true
        result = error
      }
    }
    if (thrown && to - from > 1) {
      const mid = from + ((to - from) >> 1)
      lane.ranges.push(mid, to, from, mid)
      return true
    }
    for (let k = from; k < to; k++) {
      if (thrown) this.#report(lane, k, failureOf(lane.seqs[k], result))
      else if (failed !== undefined && failed.has(k - from)) this.#report(lane, k, failureOf(lane.seqs[k], failed.get(k - from)))
      else this.#report(lane, k, undefined)
    }
    return lane.ranges.length > 0
  }

  holds(lane: BatchLane, seq: number, attempt: number): number {
    const { seqs, attempts, settled } = lane
    for (let k = 0; k < seqs.length; k++) if (seqs[k] === seq && attempts[k] === attempt && settled[k] === PENDING) return k
    return -1
  }

  /**
   * Job `k` was pending in `lane`'s batch: the call is abandoned with it, that job is
   * dropped unreported, and the batch's other pending jobs go back to the master
   * unfinished (released: no attempt spent), since JavaScript cannot stop a call for some
   * of its jobs.
   */
  takenBack(lane: BatchLane, k: number): void {
    clearTimeout(lane.timer)
    const { seqs, settled } = lane
    const released: number[] = []
    for (let j = 0; j < seqs.length; j++) if (settled[j] === PENDING && j !== k) released.push(seqs[j])
    if (released.length > 0) this.#onReleased(released, lane.connection)
    for (let j = 0; j < seqs.length; j++) {
      if (settled[j] !== PENDING) continue
      settled[j] = SETTLED
      this.#host.dropped(seqs[j], lane.connection)
    }
  }

  /**
   * Sets the run's --job-timeout (seconds, 0 for none) for calls: a call that runs longer
   * is abandoned like a job the master takes back, and its jobs are split in halves and
   * run again, so a job that hangs its batch ends alone and fails with the timeout, and
   * its neighbours are not charged for it. Only the slave knows which jobs share a call,
   * so the master leaves a batch slave's late jobs to it (see SlaveInfo.batch).
   */
  timeCalls(seconds: number): void {
    this.#callTimeout = seconds
  }

  /** Reports job `k` of `lane`'s batch: done, or failed with `failure`. */
  #report(lane: BatchLane, k: number, failure: Failure | undefined): void {
    lane.settled[k] = SETTLED
    this.#host.ended(lane.seqs[k], lane.connection, failure, lane.attempts[k])
  }

  /**
   * The call over jobs `[from, to)` of `lane`'s batch ran past the call timeout: it is
   * abandoned (its signal aborted, its promise left to run on), and an heir lane goes on
   * with the batch, the call's jobs split in halves like a thrown batch's (no attempt
   * spent). A single job fails with the timeout: that attempt is charged to it alone.
   */
  #timedOut(lane: BatchLane, from: number, to: number): void {
    if (lane.orphaned) return
    const message = timedOutMessage(this.#callTimeout)
    this.#host.orphan(lane, new Error(message))
    if (to - from > 1) {
      const mid = from + ((to - from) >> 1)
      lane.ranges.push(mid, to, from, mid)
    } else this.#report(lane, from, { seq: lane.seqs[from], message })
    this.#host.replaced(this.lane(lane))
  }
}
