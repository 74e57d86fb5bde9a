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
 * Runs the handler over received jobs with up to `concurrency` jobs at once. Jobs wait
 * in the batches they came in (no per-job allocation); `concurrency` lanes take them
 * in order. A lane awaits only what the handler returns as a promise, so sync
 * handlers run without a promise per job.
 */
export class Runner {
  readonly #handler: Handler
  readonly #onFinished: FinishedCallback
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
  /** The context of each lane. */
  readonly #contexts: JobContext[] = []

  constructor(handler: Handler, concurrency: number, onFinished: FinishedCallback) {
    this.#handler = handler
    this.#onFinished = onFinished
    for (let i = 0; i < concurrency; i++) void this.#lane()
  }

  /** Jobs waiting to start. */
  get queued(): number {
    return this.#queued
  }

  /** Jobs running now. */
  get running(): number {
    return this.#running
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

  /** Stops caring about attempt `attempt` of job `seq`; if it runs, its signal is aborted. */
  abandon(seq: number, attempt: number): void {
    this.#abandoned.add(seq * 256 + attempt)
    for (const ctx of this.#contexts) {
      if (ctx.seq === seq && ctx.attempt === attempt) ctx.abort(new Error('The master took the job back (--job-timeout)'))
    }
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

  async #lane(): Promise<void> {
    const handler = this.#handler
    const ctx = new JobContext()
    this.#contexts.push(ctx)
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
      ctx.end()
      this.#running--
      this.#onFinished(seq, batch.connection, failure, !this.#wasAbandoned(seq, attempt))
      if (this.#running === 0 && this.#idle !== undefined) {
        const idle = this.#idle
        this.#idle = undefined
        idle()
      }
      if ((++streak & 7) === 0 && (streak >= YIELD_JOBS || performance.now() - since >= YIELD_MS)) {
        await yieldToIO()
        streak = 0
        since = performance.now()
      }
    }
  }
}
