import type { Handler } from '../options.js'
import { attemptAt, seqAt } from '../protocol/jobs-batch.js'
import type { Failure, JobsMessage } from '../protocol/messages.js'
import { yieldToIO } from '../yield-to-io.js'
import type { Batching } from './batch-strategy.js'
import { BatchStrategy } from './batch-strategy.js'
import { JobQueue } from './job-queue.js'
import { JobStrategy } from './job-strategy.js'
import type { Lane, LaneHost, LaneStrategy } from './lane-strategy.js'
import type { RunScope } from './run-scope.js'
import { emptyScope } from './run-scope.js'

/**
 * Called when a lane's slot is free again: job `seq` (from `connection`) ended, with
 * `failure` if the handler threw. `report` is false for an attempt the master took back
 * (abandoned): its slot is free, but there is nothing to tell.
 */
export type FinishedCallback = (seq: number, connection: number, failure: Failure | undefined, report: boolean) => void

/** Called when `count` abandoned jobs are still running in the process (the limit is reached). */
export type AbandonedCallback = (count: number) => void

/** Options of a {@link Runner}: what every runner takes, and one handler, of jobs or of batches. */
export type RunnerOptions = RunnerBase & ({ handler: Handler; batching?: undefined } | { batching: Batching; handler?: undefined })

/** What every {@link Runner} takes. */
interface RunnerBase {
  /** Lanes: handler calls at once. */
  concurrency: number
  /** Called as each job's slot is free again (see {@link FinishedCallback}). */
  onFinished: FinishedCallback
  /** Called when `abandonedLimit` abandoned jobs are still running, and again with each one more. @default nothing */
  onAbandoned?: AbandonedCallback
  /** How many abandoned calls still running make `onAbandoned` be called. @default Infinity */
  abandonedLimit?: number
  /** State and arguments every call sees (`ctx.state`, `ctx.args`). @default an empty scope */
  scope?: RunScope
}

/**
 * A lane running sync jobs back to back lets the event loop serve sockets (acks out,
 * jobs in, heartbeat pongs) after this many units of work or this many milliseconds,
 * whichever comes first: a slow sync handler must not make its slave miss heartbeats.
 */
const YIELD_JOBS = 512
const YIELD_MS = 2

/** Why a job taken back by the master has its signal aborted. */
const TAKEN_BACK = 'The master took the job back (--job-timeout)'

/**
 * Runs the handler over received jobs with `concurrency` lanes. Jobs wait in the batches
 * they came in (see {@link JobQueue}); each lane runs one loop, and a {@link LaneStrategy}
 * says what it takes and calls: one job ({@link JobStrategy}) or a batch of them
 * ({@link BatchStrategy}). The runner counts the running jobs and keeps the attempts the
 * master took back: an abandoned running call frees its lane at once (a fresh lane takes
 * the slot and the call's promise runs on unawaited), so a handler that never settles
 * cannot hold a lane for ever.
 */
export class Runner {
  readonly #queue = new JobQueue()
  readonly #strategy: LaneStrategy
  readonly #onFinished: FinishedCallback
  readonly #onAbandoned: AbandonedCallback
  readonly #abandonedLimit: number
  /** The working lanes (orphaned ones leave this list). */
  readonly #lanes: Lane[] = []
  #running = 0
  #idle: (() => void) | undefined
  /**
   * Attempts the master took back (timed out), as `seq * 256 + attempt`: not run if still
   * queued, not reported if running. A later attempt of the same job runs as usual.
   */
  readonly #abandoned = new Set<number>()
  /** Abandoned jobs (or batch calls) whose handler has not settled yet. */
  #orphans = 0

  constructor(options: RunnerOptions) {
    this.#onFinished = options.onFinished
    this.#onAbandoned = options.onAbandoned ?? (() => {})
    this.#abandonedLimit = options.abandonedLimit ?? Infinity
    const scope = options.scope ?? emptyScope()
    const host: LaneHost = {
      skipped: (seq, attempt, connection) => {
        if (!this.#wasAbandoned(seq, attempt)) return false
        this.#onFinished(seq, connection, undefined, false)
        return true
      },
      started: (count) => void (this.#running += count),
      ended: (seq, connection, failure, attempt) => {
        this.#running--
        this.#onFinished(seq, connection, failure, !this.#wasAbandoned(seq, attempt))
        this.#checkIdle()
      },
      dropped: (seq, connection) => {
        this.#running--
        this.#onFinished(seq, connection, undefined, false)
        this.#checkIdle()
      },
      orphan: (lane, reason) => this.#orphan(lane, reason),
      replaced: (heir) => this.#replaced(heir),
    }
    this.#strategy =
      options.batching === undefined ? new JobStrategy(options.handler, scope, host) : new BatchStrategy(options.batching, scope, host)
    for (let i = 0; i < options.concurrency; i++) this.#start()
  }

  /** Jobs waiting to start. */
  get queued(): number {
    return this.#queue.length
  }

  /** Jobs running now (abandoned ones not counted). */
  get running(): number {
    return this.#running
  }

  /** Abandoned jobs whose handler is still running in this process. */
  get orphans(): number {
    return this.#orphans
  }

  /** Sets the run's --job-timeout (seconds, 0 for none): a batch handler times its calls (see {@link BatchStrategy.timeCalls}). */
  timeCalls(seconds: number): void {
    this.#strategy.timeCalls(seconds)
  }

  /** Queues a batch that came on `connection`. */
  push(message: JobsMessage, connection: number): void {
    this.#queue.push(message, connection)
  }

  /**
   * Stops caring about attempt `attempt` of job `seq`. If it is queued, it will not run.
   * If it runs, its signal is aborted and its slot is free at once (see {@link Runner}).
   */
  abandon(seq: number, attempt: number): void {
    const lanes = this.#lanes
    for (let i = 0; i < lanes.length; i++) {
      const lane = lanes[i]
      const k = this.#strategy.holds(lane, seq, attempt)
      if (k < 0) continue
      this.#orphan(lane, new Error(TAKEN_BACK))
      this.#strategy.takenBack(lane, k)
      this.#replaced()
      return
    }
    this.#abandoned.add(seq * 256 + attempt)
  }

  /** Forgets the abandoned attempts (a new connection: nothing from the old one is reported). */
  forgetAbandoned(): void {
    this.#abandoned.clear()
  }

  /** Removes every job not started yet and returns their seqs (to release them). */
  takeQueued(): number[] {
    const seqs: number[] = []
    for (const b of this.#queue.clear()) {
      for (let i = b.next; i < b.message.jobs.length; i++) {
        const seq = seqAt(b.message, i)
        if (!this.#wasAbandoned(seq, attemptAt(b.message, i))) seqs.push(seq)
      }
    }
    return seqs
  }

  /** Resolves when no job is running. */
  idle(): Promise<void> {
    if (this.#running === 0) return Promise.resolve()
    return new Promise((resolve) => (this.#idle = resolve))
  }

  /** Stops the lanes once the queue is empty (the slave is exiting). */
  close(): void {
    this.#queue.close()
  }

  /** True (and forgotten) if that attempt was abandoned. */
  #wasAbandoned(seq: number, attempt: number): boolean {
    return this.#abandoned.size > 0 && this.#abandoned.delete(seq * 256 + attempt)
  }

  #checkIdle(): void {
    if (this.#running === 0 && this.#idle !== undefined) {
      const idle = this.#idle
      this.#idle = undefined
      idle()
    }
  }

  /** `lane`'s work is abandoned: it leaves the lanes, and ends reporting nothing when its call settles. */
  #orphan(lane: Lane, reason: Error): void {
    lane.orphaned = true
    this.#lanes.splice(this.#lanes.indexOf(lane), 1)
    lane.ctx.abort(reason)
    this.#orphans++
  }

  /**
   * An orphan's slot is taken: by `heir` now, else by a fresh lane on the next microtask
   * (the rest of an `abandon` frame may name queued jobs the fresh lane would otherwise
   * start first). Then says whether too many abandoned calls still run.
   */
  #replaced(heir?: Lane): void {
    if (heir === undefined) queueMicrotask(this.#start)
    else this.#run(heir)
    if (this.#orphans >= this.#abandonedLimit) this.#onAbandoned(this.#orphans)
  }

  readonly #start = (): void => this.#run(this.#strategy.lane())

  #run(lane: Lane): void {
    this.#lanes.push(lane)
    void this.#lane(lane)
  }

  /**
   * A lane's loop (see {@link LaneStrategy}): until the queue is closed and empty, it
   * takes work and calls the handler, awaiting only what returns a promise.
   */
  async #lane(lane: Lane): Promise<void> {
    const strategy = this.#strategy
    const queue = this.#queue
    const mask = strategy.clockMask
    let more = strategy.busy(lane)
    let streak = 0
    let since = performance.now()
    for (;;) {
      if (!more) {
        if (queue.head === undefined) {
          if (queue.closed) return
          await queue.arrival()
          streak = 0
          since = performance.now()
          continue
        }
        const filling = strategy.ready(queue)
        if (filling !== undefined) {
          await filling
          if (queue.head === undefined) continue
        }
        if (!strategy.take(lane, queue)) continue
      }
      let result: unknown
      let thrown = false
      try {
        result = strategy.call(lane)
        const promise = result as PromiseLike<unknown> | null | undefined
        if (promise !== null && typeof promise === 'object' && typeof promise.then === 'function') {
          strategy.awaiting(lane)
          result = await promise
          streak = 0
          since = performance.now()
        }
      } catch (error) {
        thrown = true
        result = error
      }
      if (lane.orphaned) {
        // Abandoned while its call ran: its slot was given back then, and another lane has it.
        this.#orphans--
        return
      }
      more = strategy.settle(lane, result, thrown)
      if (!more && (++streak & mask) === 0 && (streak >= YIELD_JOBS || performance.now() - since >= YIELD_MS)) {
        await yieldToIO()
        streak = 0
        since = performance.now()
      }
    }
  }
}
