import { timedOutMessage } from '../../protocol/constants.js'
import type { Failure } from '../../protocol/messages.js'
import type { Ranges } from '../../protocol/ranges.js'
import { appendSeq } from '../../protocol/ranges.js'
import type { FailedJob } from '../state/failed-log.js'
import type { FailedJobsLog } from '../state/state-store.js'
import type { Ledger } from './ledger.js'

/** What the attempt policy needs of the run's options. */
export interface AttemptOptions {
  /** Retries of a job whose handler throws (--retries). */
  retries: number
  /** Seconds before the first retry, doubling for each next one (--retry-delay). */
  retryDelay: number
  /** Seconds a job may be in flight; 0 is no limit (--job-timeout). */
  jobTimeout: number
}

/** What the attempt policy knows of a slave holding jobs, for --job-timeout. */
export interface SlaveTiming {
  /** Jobs it runs at once (its concurrency). */
  lanes: number
  /**
   * Set for a slave that times out its own batch calls (SlaveInfo.batch): its most jobs
   * per call. Its late jobs are its to charge, as only it knows which share a call.
   */
  batch?: number | undefined
  /** When it last reported a job (done, failed or released) or connected, in ms; read with `batch`. */
  reportedAt?: number
}

/**
 * Milliseconds a slave that times out its own batch calls may go without reporting a job
 * while it holds one sent that long ago, before the master counts it stuck (a SIGSTOP, a
 * sync loop: its timers cannot fire). A batch that hangs is timed out and halved
 * `ceil(log2(batch))` times down to the job that hangs it, each call within --job-timeout,
 * and a half that does not hang reports at once: a slave at work reports within
 * `1 + ceil(log2(batch))` timeouts. Twice that leaves room for a busy machine.
 */
export function stuckAfterMs(jobTimeout: number, batch: number): number {
  return 2 * jobTimeout * 1000 * (1 + Math.ceil(Math.log2(batch)))
}

/** The longest retry delay, whatever the attempt. */
export const MAX_RETRY_DELAY_MS = 60_000

/** Milliseconds before the next try of a job that failed its `attempts`-th attempt. */
export function retryDelayMs(attempts: number, retryDelay: number): number {
  return Math.min(MAX_RETRY_DELAY_MS, retryDelay * 1000 * 2 ** (attempts - 1))
}

/**
 * What happens to an attempt that did not succeed: a failure is retried after a
 * growing delay while the job has tries left, else the job goes to the failed-jobs log
 * (fsynced) and counts as finished; a slave that goes away gives its jobs back; a job
 * in flight past --job-timeout is a failed attempt. Works on the ledger alone, so it
 * is tested without sockets.
 */
export class AttemptPolicy {
  readonly #ledger: Ledger
  readonly #log: FailedJobsLog
  readonly #options: AttemptOptions
  readonly #onDue: () => void
  readonly #warn: (message: string) => void
  #timer: NodeJS.Timeout | undefined
  /** When #timer fires. */
  #timerDue = 0

  /**
   * @param onDue called when deferred jobs are queued again (so they are dispatched)
   * @param warn called with what the failed-jobs log says when it had to be opened again
   */
  constructor(ledger: Ledger, log: FailedJobsLog, options: AttemptOptions, onDue: () => void, warn: (message: string) => void) {
    this.#ledger = ledger
    this.#log = log
    this.#options = options
    this.#onDue = onDue
    this.#warn = warn
  }

  /**
   * One failed attempt for each job (in flight on `session`): deferred while it has
   * tries left, else appended to the failed-jobs log and finished, its seq appended to
   * `finished`. Returns the jobs that went to the log. Throws if the log cannot be written
   * (the jobs then stay in flight: they are not lost).
   */
  fail(session: number, failures: readonly Failure[], now: number, finished: Ranges): FailedJob[] {
    const ledger = this.#ledger
    const final: FailedJob[] = []
    const finalSeqs: number[] = []
    const seen = new Set<number>()
    for (const f of failures) {
      const attempts = ledger.attemptsOf(f.seq, session)
      // Not in flight there (stale, foreign), or named twice in one report: no attempt.
      if (attempts === 0 || seen.has(f.seq)) continue
      seen.add(f.seq)
      if (attempts <= this.#options.retries) {
        ledger.defer(f.seq, session, now + retryDelayMs(attempts, this.#options.retryDelay))
        continue
      }
      const { job, key } = ledger.entry(f.seq)
      final.push({ key, job, attempts, error: { message: f.message, stack: f.stack }, at: new Date(now).toISOString() })
      finalSeqs.push(f.seq)
    }
    if (final.length > 0) {
      const warning = this.#log.append(final)
      if (warning !== undefined) this.#warn(warning)
      for (const seq of finalSeqs) if (ledger.finishFailed(seq, session)) appendSeq(finished, seq)
    }
    this.#arm()
    return final
  }

  /**
   * A slave went away with jobs in flight. `handedBack`: it stopped on purpose after
   * reporting every job it ran, so what is left never ran, or it was lost while the master
   * itself stalled (not its fault): what is left costs no attempt. Else
   * each job counts an attempt: back to the front of the buffer, or to the failed-jobs
   * log after the last. Returns how many jobs it held.
   */
  lost(
    session: number,
    reason: string,
    label: string,
    handedBack: boolean,
    now: number,
    finished: Ranges,
  ): { held: number; failed: FailedJob[] } {
    const ledger = this.#ledger
    const seqs = ledger.seqsInFlightOn(session)
    const exhausted: Failure[] = []
    for (const seq of seqs) {
      if (handedBack) ledger.requeue(seq, session, true)
      else if (ledger.attemptsOf(seq, session) > this.#options.retries)
        exhausted.push({ seq, message: `The slave running it went away (${label}: ${reason})` })
      else ledger.requeue(seq, session)
    }
    const failed = exhausted.length > 0 ? this.fail(session, exhausted, now, finished) : []
    return { held: seqs.length, failed }
  }

  /**
   * Jobs in flight longer than --job-timeout, grouped by the session holding them: the
   * attempts to take back (`abandon`, with each one's attempt number) and the failures
   * to charge. A slave runs its jobs in the order they came, `slaveOf(session).lanes` at a
   * time: a late job with that many older late jobs on the same slave never started (it
   * waited behind hung ones), so it goes back to the buffer uncharged. The late jobs of a
   * slave that times out its own batch calls are left to it (see {@link stuck}).
   */
  expired(
    now: number,
    slaveOf: (session: number) => SlaveTiming,
  ): Map<number, { abandon: { seqs: number[]; attempts: number[] }; failures: Failure[] }> {
    const bySession = new Map<number, { abandon: { seqs: number[]; attempts: number[] }; failures: Failure[] }>()
    const limit = this.#options.jobTimeout
    if (limit <= 0) return bySession
    const ledger = this.#ledger
    const timesOwnCalls = new Map<number, boolean>()
    for (const { seq, session } of ledger.sentBefore(now - limit * 1000)) {
      let own = timesOwnCalls.get(session)
      if (own === undefined) timesOwnCalls.set(session, (own = slaveOf(session).batch !== undefined))
      if (own) continue
      let late = bySession.get(session)
      if (late === undefined) bySession.set(session, (late = { abandon: { seqs: [], attempts: [] }, failures: [] }))
      late.abandon.seqs.push(seq)
      late.abandon.attempts.push(ledger.attemptsOf(seq, session))
      late.failures.push({ seq, message: timedOutMessage(limit) })
    }
    for (const [session, { failures }] of bySession) {
      const lanes = Math.max(1, slaveOf(session).lanes)
      if (failures.length <= lanes) continue
      failures.sort((a, b) => ledger.sentAtOf(a.seq) - ledger.sentAtOf(b.seq) || a.seq - b.seq)
      for (const { seq } of failures.splice(lanes)) ledger.requeue(seq, session, true)
    }
    return bySession
  }

  /**
   * Sessions of slaves that time out their own batch calls and look stuck: one holds a job
   * sent more than `quietMs` ({@link stuckAfterMs}) ago and reported none since. Its timers cannot be
   * firing, so the master drops it, and its jobs count an attempt each as a lost slave's.
   */
  stuck(now: number, slaveOf: (session: number) => SlaveTiming): { session: number; quietMs: number }[] {
    const found: { session: number; quietMs: number }[] = []
    const limit = this.#options.jobTimeout
    if (limit <= 0) return found
    const seen = new Set<number>()
    for (const { seq, session } of this.#ledger.sentBefore(now - limit * 1000)) {
      if (seen.has(session)) continue
      const { batch, reportedAt = 0 } = slaveOf(session)
      if (batch === undefined) {
        seen.add(session)
        continue
      }
      const quietMs = stuckAfterMs(limit, batch)
      if (this.#ledger.sentAtOf(seq) >= now - quietMs) continue
      seen.add(session)
      if (reportedAt < now - quietMs) found.push({ session, quietMs })
    }
    return found
  }

  /** Stops the retry timer (the run is over). */
  stop(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer)
    this.#timer = undefined
  }

  /** Sets the timer for the earliest deferred job, if it is earlier than the one set. */
  #arm(): void {
    const due = this.#ledger.nextDue
    if (due === undefined || (this.#timer !== undefined && this.#timerDue <= due)) return
    if (this.#timer !== undefined) clearTimeout(this.#timer)
    this.#timerDue = due
    this.#timer = setTimeout(
      () => {
        this.#timer = undefined
        if (this.#ledger.promote(Date.now()) > 0) this.#onDue()
        this.#arm()
      },
      Math.max(0, due - Date.now()),
    )
    this.#timer.unref()
  }
}
