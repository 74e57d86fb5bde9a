import type { BatchHandler, Handler } from '../options.js'
import { attemptAt, seqAt } from '../protocol/jobs-batch.js'
import { timedOutMessage } from '../protocol/constants.js'
import { yieldToIO } from '../yield-to-io.js'
import { BatchRunContext } from './batch-context.js'
import { failedOf } from './batch-result.js'
import { failureOf } from './failure.js'
import { JobContext } from './job-context.js'
import type { RunScope } from './run-scope.js'
import { emptyScope } from './run-scope.js'
import type { Failure, JobsMessage } from '../protocol/messages.js'

/**
 * Called when a lane's slot is free again: job `seq` (from `connection`) ended, with
 * `failure` if the handler threw. `report` is false for an attempt the master took back
 * (abandoned): its slot is free, but there is nothing to tell.
 */
export type FinishedCallback = (seq: number, connection: number, failure: Failure | undefined, report: boolean) => void

/** Called when `count` abandoned jobs are still running in the process (the limit is reached). */
export type AbandonedCallback = (count: number) => void

/**
 * Called when jobs of a running batch go back to the master unfinished: another job of
 * their batch was taken back (--job-timeout), so the batch's call was abandoned with it.
 */
export type ReleasedCallback = (seqs: number[], connection: number) => void

/** How a runner with a batch handler batches (see {@link RunnerExtras}). */
export interface Batching {
  handler: BatchHandler
  /** Most jobs per call. */
  size: number
  /** Milliseconds a lane waits for a batch to fill before it runs a smaller one. */
  linger: number
  /** Where the jobs of an abandoned batch that were not taken back go (see {@link ReleasedCallback}). */
  onReleased: ReleasedCallback
}

/** Optional parts of a {@link Runner}. */
export interface RunnerExtras {
  /** Run a batch handler instead of the job handler. */
  batching?: Batching
  /** State and arguments every call sees (`ctx.state`, `ctx.args`). */
  scope?: RunScope
}

/** A batch of jobs as received, with the connection it came on. */
interface QueuedBatch {
  message: JobsMessage
  connection: number
  next: number
}

/**
 * A lane running sync jobs back to back lets the event loop serve sockets (acks out,
 * jobs in, heartbeat pongs) after this many jobs or this many milliseconds, whichever
 * comes first: a slow sync handler must not make its slave miss heartbeats.
 */
const YIELD_JOBS = 512
const YIELD_MS = 2

/**
 * One lane: its reused context, the connection of the job it runs, and whether it was
 * orphaned (its job abandoned while running: a fresh lane took its slot, and this one
 * ends when the handler's promise settles, reporting nothing).
 */
interface Lane {
  readonly ctx: JobContext
  connection: number
  orphaned: boolean
}

/** Why an abandoned job's signal is aborted. */
const TAKEN_BACK = 'The master took the job back (--job-timeout)'

/** A job of a running batch whose result is not known yet. */
const PENDING = 0
/** A job of a running batch that was reported (done or failed). */
const SETTLED = 1

/**
 * A lane of a batch handler and the batch it runs: parallel arrays of the jobs, their
 * seqs and attempts, which are settled (a split batch settles its halves in turn), and
 * the calls still to run as ranges `[from, to)` of them, last first.
 */
interface BatchLane {
  ctx: BatchRunContext
  connection: number
  orphaned: boolean
  jobs: unknown[]
  seqs: number[]
  attempts: number[]
  settled: Uint8Array
  ranges: number[]
}

/**
 * Runs the handler over received jobs with up to `concurrency` jobs at once. Jobs wait
 * in the batches they came in (no per-job allocation); `concurrency` lanes take them
 * in order. A lane awaits only what the handler returns as a promise, so sync
 * handlers run without a promise per job.
 */
export class Runner {
  readonly #handler: Handler | undefined
  readonly #batching: Batching | undefined
  readonly #scope: RunScope
  /** The batch lanes at work (orphaned ones leave this list). */
  readonly #batchLanes: BatchLane[] = []
  /** Lanes waiting for a batch to fill: woken when it is full (or the queue is emptied). */
  #fillWaiters: (() => void)[] = []
  readonly #onFinished: FinishedCallback
  readonly #onAbandoned: AbandonedCallback
  readonly #abandonedLimit: number
  readonly #batches: QueuedBatch[] = []
  #queued = 0
  #running = 0
  #wake: (() => void) | undefined
  #wakeup: Promise<void> | undefined
  #idle: (() => void) | undefined
  #closed = false
  /**
   * Attempts the master took back (timed out), as `seq * 256 + attempt`: not run if still
   * queued, not reported if running. A later attempt of the same job runs as usual.
   */
  readonly #abandoned = new Set<number>()
  /** The working lanes (orphaned ones leave this list). */
  readonly #lanes: Lane[] = []
  /** Abandoned jobs (or batch calls) whose handler has not settled yet. */
  #orphans = 0
  /** Seconds a batch call may run before this slave times it out itself (0: no limit; see {@link timeCalls}). */
  #callTimeout = 0

  /**
   * `onAbandoned` is called when `abandonedLimit` abandoned jobs are still running (and
   * again with each one more).
   */
  constructor(handler: Handler | undefined, concurrency: number, onFinished: FinishedCallback, onAbandoned: AbandonedCallback = () => {}, abandonedLimit = Infinity, extras: RunnerExtras = {}) {
    this.#handler = handler
    this.#batching = extras.batching
    this.#scope = extras.scope ?? emptyScope()
    this.#onFinished = onFinished
    this.#onAbandoned = onAbandoned
    this.#abandonedLimit = abandonedLimit
    for (let i = 0; i < concurrency; i++) this.#startLane()
  }

  /** Jobs waiting to start. */
  get queued(): number {
    return this.#queued
  }

  /** Jobs running now (abandoned ones not counted). */
  get running(): number {
    return this.#running
  }

  /** Abandoned jobs whose handler is still running in this process. */
  get orphans(): number {
    return this.#orphans
  }

  /**
   * Sets the run's --job-timeout (seconds, 0 for none) for batch calls: a call that runs
   * longer is abandoned like a job the master takes back, and its jobs are split in halves
   * and run again, so a job that hangs its batch ends alone and fails with the timeout,
   * and its neighbours are not charged for it. Only the slave knows which jobs share a
   * call, so the master leaves a batch slave's late jobs to it (see SlaveInfo.batch).
   */
  timeCalls(seconds: number): void {
    this.#callTimeout = seconds
  }

  /** Queues a batch that came on `connection`. */
  push(message: JobsMessage, connection: number): void {
    if (message.jobs.length === 0) return
    this.#batches.push({ message, connection, next: 0 })
    this.#queued += message.jobs.length
    if (this.#fillWaiters.length > 0 && this.#queued >= this.#batching!.size) this.#wakeFillers()
    const wake = this.#wake
    if (wake !== undefined) {
      this.#wake = undefined
      this.#wakeup = undefined
      wake()
    }
  }

  /**
   * Stops caring about attempt `attempt` of job `seq`. If it is queued, it will not run.
   * If it runs, its signal is aborted and its slot is free at once: a fresh lane takes
   * it, and the handler's promise runs on unawaited (its result is ignored), so a handler
   * that never settles cannot hold a lane for ever.
   */
  abandon(seq: number, attempt: number): void {
    if (this.#batching !== undefined && this.#abandonInBatch(seq, attempt)) return
    const lanes = this.#lanes
    for (let i = 0; i < lanes.length; i++) {
      const lane = lanes[i]
      if (lane.ctx.seq === seq && lane.ctx.attempt === attempt) {
        this.#orphan(lane, i)
        return
      }
    }
    this.#abandoned.add(seq * 256 + attempt)
  }

  /**
   * Lane `i` runs an abandoned job. A lane is only between `begin` and `end` while it
   * awaits the handler's promise (a sync handler holds the event loop, so no abandon
   * can arrive then): it is left awaiting, and a fresh lane takes its slot.
   */
  #orphan(lane: Lane, i: number): void {
    const seq = lane.ctx.seq
    lane.orphaned = true
    this.#lanes.splice(i, 1)
    lane.ctx.abort(new Error(TAKEN_BACK))
    this.#running--
    this.#orphans++
    // Not now: the rest of this `abandon` frame may name queued jobs the fresh lane
    // would otherwise start first.
    queueMicrotask(this.#startLane)
    this.#onFinished(seq, lane.connection, undefined, false)
    this.#checkIdle()
    if (this.#orphans >= this.#abandonedLimit) this.#onAbandoned(this.#orphans)
  }

  /** True (and forgotten) if that attempt was abandoned. */
  #wasAbandoned(seq: number, attempt: number): boolean {
    return this.#abandoned.size > 0 && this.#abandoned.delete(seq * 256 + attempt)
  }

  /** Forgets the abandoned attempts (a new connection: nothing from the old one is reported). */
  forgetAbandoned(): void {
    this.#abandoned.clear()
  }

  /** Removes every job not started yet and returns their seqs (to release them). */
  takeQueued(): number[] {
    const seqs: number[] = []
    for (const b of this.#batches) {
      for (let i = b.next; i < b.message.jobs.length; i++) {
        const seq = seqAt(b.message, i)
        if (!this.#wasAbandoned(seq, attemptAt(b.message, i))) seqs.push(seq)
      }
    }
    this.#batches.length = 0
    this.#queued = 0
    this.#wakeFillers()
    return seqs
  }

  /** Resolves when no job is running. */
  idle(): Promise<void> {
    if (this.#running === 0) return Promise.resolve()
    return new Promise((resolve) => (this.#idle = resolve))
  }

  /** Stops the lanes once the queue is empty (the slave is exiting). */
  close(): void {
    this.#closed = true
    this.#wake?.()
    this.#wakeFillers()
  }

  readonly #startLane = (): void => void (this.#batching !== undefined ? this.#batchLane(this.#batching) : this.#lane())

  #wakeFillers(): void {
    const waiters = this.#fillWaiters
    if (waiters.length === 0) return
    this.#fillWaiters = []
    for (const wake of waiters) wake()
  }

  /** Waits until a batch's worth of jobs is queued, the queue is emptied or closed, or `ms` pass. */
  #fill(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms)
      this.#fillWaiters.push(() => {
        clearTimeout(timer)
        resolve()
      })
    })
  }

  /**
   * Attempt `attempt` of job `seq` is pending in a running batch: the batch's call is
   * abandoned (its signal aborted, its slot given to a fresh lane), that job is dropped
   * unreported, and the batch's other pending jobs go back to the master unfinished
   * (released: no attempt spent), since JavaScript cannot stop a call for some of its jobs.
   */
  #abandonInBatch(seq: number, attempt: number): boolean {
    const lanes = this.#batchLanes
    for (let l = 0; l < lanes.length; l++) {
      const lane = lanes[l]
      const { seqs, attempts, settled } = lane
      for (let k = 0; k < seqs.length; k++) {
        if (seqs[k] !== seq || attempts[k] !== attempt || settled[k] !== PENDING) continue
        lane.orphaned = true
        lanes.splice(l, 1)
        lane.ctx.abort(new Error(TAKEN_BACK))
        this.#orphans++
        queueMicrotask(this.#startLane)
        const released: number[] = []
        for (let j = 0; j < seqs.length; j++) if (settled[j] === PENDING && j !== k) released.push(seqs[j])
        if (released.length > 0) this.#batching!.onReleased(released, lane.connection)
        for (let j = 0; j < seqs.length; j++) {
          if (settled[j] !== PENDING) continue
          settled[j] = SETTLED
          this.#running--
          this.#onFinished(seqs[j], lane.connection, undefined, false)
        }
        this.#checkIdle()
        if (this.#orphans >= this.#abandonedLimit) this.#onAbandoned(this.#orphans)
        return true
      }
    }
    return false
  }

  /**
   * Takes the next batch for `lane` from the queue: up to `size` jobs of one connection.
   * A retry (attempt > 1) runs alone: it failed before, most likely by itself, and
   * alone it costs no split of a batch of good jobs. Returns how many were taken.
   */
  #takeBatch(lane: BatchLane, size: number): number {
    const jobs: unknown[] = []
    const seqs: number[] = []
    const attempts: number[] = []
    let connection = -1
    while (jobs.length < size) {
      const batch = this.#batches[0]
      if (batch === undefined || (connection !== -1 && batch.connection !== connection)) break
      const i = batch.next
      const seq = seqAt(batch.message, i)
      const attempt = attemptAt(batch.message, i)
      if (attempt > 1 && jobs.length > 0) break
      batch.next++
      if (batch.next >= batch.message.jobs.length) this.#batches.shift()
      this.#queued--
      if (this.#wasAbandoned(seq, attempt)) {
        this.#onFinished(seq, batch.connection, undefined, false)
        continue
      }
      connection = batch.connection
      jobs.push(batch.message.jobs[i])
      seqs.push(seq)
      attempts.push(attempt)
      if (attempt > 1) break
    }
    lane.jobs = jobs
    lane.seqs = seqs
    lane.attempts = attempts
    lane.settled = new Uint8Array(jobs.length)
    lane.connection = connection
    return jobs.length
  }

  /** Whether the next queued job is a retry. */
  #retryFirst(): boolean {
    const batch = this.#batches[0]
    return batch !== undefined && attemptAt(batch.message, batch.next) > 1
  }

  /** Reports job `k` of `lane`'s batch: done, or failed with `error`. */
  #settle(lane: BatchLane, k: number, failed: boolean, error: unknown): void {
    this.#report(lane, k, failed ? failureOf(lane.seqs[k], error) : undefined)
  }

  #report(lane: BatchLane, k: number, failure: Failure | undefined): void {
    lane.settled[k] = SETTLED
    this.#running--
    const seq = lane.seqs[k]
    this.#onFinished(seq, lane.connection, failure, !this.#wasAbandoned(seq, lane.attempts[k]))
  }

  /**
   * The call over jobs `[from, to)` of `lane`'s batch ran past the call timeout: it is
   * abandoned (its signal aborted, its promise left to run on, its slot given to a fresh
   * lane), and the fresh lane goes on with the batch, the call's jobs split in halves like
   * a thrown batch's (no attempt spent). A single job fails with the timeout: that attempt
   * is charged to it alone.
   */
  #timedOut(lane: BatchLane, from: number, to: number, batching: Batching): void {
    if (lane.orphaned) return
    const message = timedOutMessage(this.#callTimeout)
    lane.orphaned = true
    this.#batchLanes.splice(this.#batchLanes.indexOf(lane), 1)
    lane.ctx.abort(new Error(message))
    this.#orphans++
    if (to - from > 1) {
      const mid = from + ((to - from) >> 1)
      lane.ranges.push(mid, to, from, mid)
    } else {
      this.#report(lane, from, { seq: lane.seqs[from], message })
      this.#checkIdle()
    }
    void this.#batchLane(batching, lane)
    if (this.#orphans >= this.#abandonedLimit) this.#onAbandoned(this.#orphans)
  }

  /**
   * A lane of a batch handler. A call that throws is split in halves, each run again in
   * turn, down to single jobs: a bad job ends alone with its own error and every other
   * job of the batch is done. The split is local and spends no attempt (with --retries 3,
   * a batch of 1,000 needs 10 halvings to isolate a row): only a job that fails alone, or
   * that the handler returns as failed, reports a failed attempt to the master. A call
   * past the call timeout is split the same way, by a fresh lane that takes over the
   * batch of the timed-out lane `heirOf` (see {@link timeCalls}).
   */
  async #batchLane(batching: Batching, heirOf?: BatchLane): Promise<void> {
    const { size, linger } = batching
    const lane: BatchLane = { ctx: new BatchRunContext(this.#scope), connection: 0, orphaned: false, jobs: [], seqs: [], attempts: [], settled: new Uint8Array(0), ranges: [] }
    if (heirOf !== undefined) {
      lane.connection = heirOf.connection
      lane.jobs = heirOf.jobs
      lane.seqs = heirOf.seqs
      lane.attempts = heirOf.attempts
      lane.settled = heirOf.settled
      lane.ranges = heirOf.ranges
    }
    this.#batchLanes.push(lane)
    let since = performance.now()
    for (;;) {
      if (lane.ranges.length > 0) {
        const awaited = await this.#runCalls(lane, batching)
        if (awaited === undefined) return
        if (awaited) since = performance.now()
        this.#checkIdle()
        if (performance.now() - since >= YIELD_MS) {
          await yieldToIO()
          since = performance.now()
        }
        continue
      }
      if (this.#batches.length === 0) {
        if (this.#closed) return
        this.#wakeup ??= new Promise<void>((resolve) => (this.#wake = resolve))
        await this.#wakeup
        since = performance.now()
        continue
      }
      // A retry runs alone (see #takeBatch): nothing to wait for.
      if (linger > 0 && this.#queued < size && !this.#closed && !this.#retryFirst()) {
        await this.#fill(linger)
        if (this.#batches.length === 0) continue
      }
      const n = this.#takeBatch(lane, size)
      if (n === 0) continue
      this.#running += n
      lane.ctx = new BatchRunContext(this.#scope)
      lane.ranges.push(0, n)
    }
  }

  /**
   * Runs `lane`'s calls until none is left: the whole batch, then halves of failed ones.
   * Returns whether a call was awaited, or undefined if the lane was orphaned meanwhile
   * (abandoned by the master, or timed out: its jobs were seen to then, and a fresh lane
   * has its slot).
   */
  async #runCalls(lane: BatchLane, batching: Batching): Promise<boolean | undefined> {
    const { handler } = batching
    const { ranges } = lane
    const n = lane.jobs.length
    let awaited = false
    while (ranges.length > 0) {
      const to = ranges.pop()!
      const from = ranges.pop()!
      const jobs = from === 0 && to === n ? lane.jobs : lane.jobs.slice(from, to)
      lane.ctx.attempts = from === 0 && to === n ? lane.attempts : lane.attempts.slice(from, to)
      let thrown = false
      let error: unknown
      let failed: Map<number, unknown> | undefined
      let timer: NodeJS.Timeout | undefined
      try {
        const returned = handler(jobs, lane.ctx) as PromiseLike<unknown> | null | undefined
        let result: unknown = returned
        if (returned !== null && typeof returned === 'object' && typeof returned.then === 'function') {
          if (this.#callTimeout > 0) timer = setTimeout(() => this.#timedOut(lane, from, to, batching), this.#callTimeout * 1000)
          result = await returned
          awaited = true
        }
        failed = failedOf(result, jobs)
      } catch (caught) {
        thrown = true
        error = caught
      }
      clearTimeout(timer)
      if (lane.orphaned) {
        this.#orphans--
        return undefined
      }
      if (thrown && to - from > 1) {
        const mid = from + ((to - from) >> 1)
        ranges.push(mid, to, from, mid)
        continue
      }
      for (let k = from; k < to; k++) {
        if (thrown) this.#settle(lane, k, true, error)
        else if (failed !== undefined && failed.has(k - from)) this.#settle(lane, k, true, failed.get(k - from))
        else this.#settle(lane, k, false, undefined)
      }
    }
    return awaited
  }

  #checkIdle(): void {
    if (this.#running === 0 && this.#idle !== undefined) {
      const idle = this.#idle
      this.#idle = undefined
      idle()
    }
  }

  async #lane(): Promise<void> {
    const handler = this.#handler!
    const ctx = new JobContext(this.#scope)
    const lane: Lane = { ctx, connection: 0, orphaned: false }
    this.#lanes.push(lane)
    let streak = 0
    let since = performance.now()
    for (;;) {
      const batch = this.#batches[0]
      if (batch === undefined) {
        if (this.#closed) return
        this.#wakeup ??= new Promise<void>((resolve) => (this.#wake = resolve))
        await this.#wakeup
        streak = 0
        since = performance.now()
        continue
      }
      const i = batch.next++
      if (batch.next >= batch.message.jobs.length) this.#batches.shift()
      this.#queued--
      const seq = seqAt(batch.message, i)
      const attempt = attemptAt(batch.message, i)
      if (this.#wasAbandoned(seq, attempt)) {
        this.#onFinished(seq, batch.connection, undefined, false)
        continue
      }
      const job = batch.message.jobs[i]
      this.#running++
      let failure: Failure | undefined
      lane.connection = batch.connection
      ctx.begin(seq, attempt)
      try {
        const result = handler(job, ctx) as PromiseLike<unknown> | undefined
        if (result !== null && typeof result === 'object' && typeof result.then === 'function') {
          await result
          streak = 0
          since = performance.now()
        }
      } catch (error) {
        failure = failureOf(seq, error)
      }
      if (lane.orphaned) {
        // Abandoned while running: its slot was given back then, and a fresh lane has it.
        this.#orphans--
        return
      }
      ctx.end()
      this.#running--
      this.#onFinished(seq, batch.connection, failure, !this.#wasAbandoned(seq, attempt))
      this.#checkIdle()
      if ((++streak & 7) === 0 && (streak >= YIELD_JOBS || performance.now() - since >= YIELD_MS)) {
        await yieldToIO()
        streak = 0
        since = performance.now()
      }
    }
  }
}
