import type { Handler } from '../options.js'
import { attemptAt, seqAt } from '../protocol/jobs-batch.js'
import { yieldToIO } from '../yield-to-io.js'
import { failureOf } from './failure.js'
import { JobContext } from './job-context.js'
import type { Failure, JobsMessage } from '../protocol/messages.js'

/**
 * Called when a lane's slot is free again: job `seq` (from `connection`) ended, with
 * `failure` if the handler threw. `report` is false for an attempt the master took back
 * (abandoned): its slot is free, but there is nothing to tell.
 */
export type FinishedCallback = (seq: number, connection: number, failure: Failure | undefined, report: boolean) => void

/** Called when `count` abandoned jobs are still running in the process (the limit is reached). */
export type AbandonedCallback = (count: number) => void

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

/**
 * Runs the handler over received jobs with up to `concurrency` jobs at once. Jobs wait
 * in the batches they came in (no per-job allocation); `concurrency` lanes take them
 * in order. A lane awaits only what the handler returns as a promise, so sync
 * handlers run without a promise per job.
 */
export class Runner {
  readonly #handler: Handler
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
  /** Abandoned jobs whose handler has not settled yet. */
  #orphans = 0

  /**
   * `onAbandoned` is called when `abandonedLimit` abandoned jobs are still running (and
   * again with each one more).
   */
  constructor(handler: Handler, concurrency: number, onFinished: FinishedCallback, onAbandoned: AbandonedCallback = () => {}, abandonedLimit = Infinity) {
    this.#handler = handler
    this.#onFinished = onFinished
    this.#onAbandoned = onAbandoned
    this.#abandonedLimit = abandonedLimit
    for (let i = 0; i < concurrency; i++) void this.#lane()
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

  /** Queues a batch that came on `connection`. */
  push(message: JobsMessage, connection: number): void {
    if (message.jobs.length === 0) return
    this.#batches.push({ message, connection, next: 0 })
    this.#queued += message.jobs.length
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
  }

  readonly #startLane = (): void => void this.#lane()

  #checkIdle(): void {
    if (this.#running === 0 && this.#idle !== undefined) {
      const idle = this.#idle
      this.#idle = undefined
      idle()
    }
  }

  async #lane(): Promise<void> {
    const handler = this.#handler
    const ctx = new JobContext()
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
