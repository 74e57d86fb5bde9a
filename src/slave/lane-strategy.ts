import type { Failure } from '../protocol/messages.js'
import type { JobQueue } from './job-queue.js'

/**
 * What every lane has, whatever its strategy: the connection its jobs came on, its
 * handler context, and whether it was orphaned (its work abandoned while a call ran: a
 * new lane took its slot, and this one ends when the call settles, reporting nothing).
 */
export interface Lane {
  connection: number
  orphaned: boolean
  readonly ctx: { abort(reason: Error): void }
}

/**
 * What a strategy asks of the runner whose lanes it drives: the runner keeps the count
 * of running jobs, the attempts the master took back and the lanes themselves.
 */
export interface LaneHost {
  /**
   * A job just taken from the queue: true (and its slot given back, unreported) if the
   * master took that attempt back while it was queued, so it must not run.
   */
  skipped(seq: number, attempt: number, connection: number): boolean
  /** `count` jobs start running. */
  started(count: number): void
  /** A running job ended, with `failure` if it failed: reported unless its attempt was taken back meanwhile. */
  ended(seq: number, connection: number, failure: Failure | undefined, attempt: number): void
  /** A running job is given up: its slot is free, nothing is reported. */
  dropped(seq: number, connection: number): void
  /**
   * `lane`'s call is abandoned (its own decision: a call timeout): it leaves the lanes and
   * its signal is aborted with `reason`. Follow with {@link replaced} once its jobs are seen to.
   */
  orphan(lane: Lane, reason: Error): void
  /** The orphaned lane's slot is taken: by `heir` (which goes on with its work) now, else by a fresh lane. */
  replaced(heir?: Lane): void
}

/**
 * How a runner's lanes turn queued jobs into handler calls, and the results of a call
 * into reports. The runner owns the queue, the lanes and the loop each lane runs:
 *
 * ```
 * until the queue is closed and empty:
 *   if not busy: wait for a job; await ready(); take() a unit of work
 *   call(); if it returned a promise: awaiting(), await it
 *   more = settle(result)     // true: calls left before the next take
 * ```
 *
 * A lane awaits only what the handler returns as a promise, so sync handlers run
 * without a promise per call.
 */
export interface LaneStrategy<L extends Lane = Lane> {
  /**
   * A lane looks at the clock (to yield to I/O) after one unit of work in
   * `clockMask + 1`: a power of two less one.
   */
  readonly clockMask: number
  /** A new lane; with `heirOf`, one that goes on with the calls left of that orphaned lane. */
  lane(heirOf?: L): L
  /** Whether `lane` has calls left to run before it takes work (an heir). */
  busy(lane: L): boolean
  /** Something to await before taking work from a queue that is not empty (a batch filling), or undefined. */
  ready(queue: JobQueue): Promise<void> | undefined
  /** Takes work for `lane` from `queue` (not empty); false if it took none to run (jobs taken back while queued). */
  take(lane: L, queue: JobQueue): boolean
  /** Calls the handler for `lane`'s next call; returns what it returned (it may throw). */
  call(lane: L): unknown
  /** The call returned a promise, which the lane awaits now. */
  awaiting(lane: L): void
  /** Reports the call's outcome (`result`, or what it threw); true if `lane` has calls left. */
  settle(lane: L, result: unknown, thrown: boolean): boolean
  /** The index, in `lane`'s work, of attempt `attempt` of job `seq` running there, or -1. */
  holds(lane: L, seq: number, attempt: number): number
  /** The master took job `k` of `lane`'s work back; the lane is orphaned: see to its jobs. */
  takenBack(lane: L, k: number): void
  /** The run's --job-timeout, in seconds (0: none), for strategies that time their calls. */
  timeCalls(seconds: number): void
}
