import type { Handler } from '../options.js'
import { attemptAt, seqAt } from '../protocol/jobs-batch.js'
import { failureOf } from './failure.js'
import type { JobQueue } from './job-queue.js'
import { JobContext } from './job-context.js'
import type { Lane, LaneHost, LaneStrategy } from './lane-strategy.js'
import type { RunScope } from './run-scope.js'

/**
 * A lane of a job handler: its context, reused job after job (it holds the running job's
 * seq and attempt), and the job it runs.
 */
export interface JobLane extends Lane {
  readonly ctx: JobContext
  job: unknown
}

/**
 * Lanes that run the handler on one job at a time. Nothing is allocated per job: the
 * lane keeps its context and the job stays in the batch it came in.
 */
export class JobStrategy implements LaneStrategy<JobLane> {
  /** Jobs are short: the clock is read once every 8 of them. */
  readonly clockMask = 7
  readonly #handler: Handler
  readonly #scope: RunScope
  readonly #host: LaneHost

  constructor(handler: Handler, scope: RunScope, host: LaneHost) {
    this.#handler = handler
    this.#scope = scope
    this.#host = host
  }

  lane(): JobLane {
    return { ctx: new JobContext(this.#scope), connection: 0, orphaned: false, job: undefined }
  }

  busy(): boolean {
    return false
  }

  ready(): undefined {
    return undefined
  }

  take(lane: JobLane, queue: JobQueue): boolean {
    const batch = queue.head!
    const i = queue.take()
    const seq = seqAt(batch.message, i)
    const attempt = attemptAt(batch.message, i)
    if (this.#host.skipped(seq, attempt, batch.connection)) return false
    this.#host.started(1)
    lane.connection = batch.connection
    lane.job = batch.message.jobs[i]
    lane.ctx.begin(seq, attempt)
    return true
  }

  call(lane: JobLane): unknown {
    // Called as a plain function: `this` in the handler is undefined, never this strategy.
    const handler = this.#handler
    return handler(lane.job, lane.ctx)
  }

  /** The master times jobs out itself, and takes them back (see {@link takenBack}). */
  awaiting(): void {}

  settle(lane: JobLane, result: unknown, thrown: boolean): false {
    const ctx = lane.ctx
    const seq = ctx.seq
    ctx.end()
    lane.job = undefined
    this.#host.ended(seq, lane.connection, thrown ? failureOf(seq, result) : undefined, ctx.attempt)
    return false
  }

  holds(lane: JobLane, seq: number, attempt: number): number {
    return lane.ctx.seq === seq && lane.ctx.attempt === attempt ? 0 : -1
  }

  /**
   * The running job is given up. The lane is only between `begin` and `end` while it
   * awaits the handler's promise (a sync handler holds the event loop, so no abandon
   * can arrive then): the promise runs on unawaited, its result ignored.
   */
  takenBack(lane: JobLane): void {
    this.#host.dropped(lane.ctx.seq, lane.connection)
  }

  /** See {@link awaiting}. */
  timeCalls(): void {}
}
