import type { ControlsFigures } from './controls.js'
import type { Ledger } from './ledger.js'
import type { ResumePoint } from '../state/state-store.js'
import type { Session } from './session.js'
import type { FailureFigures, MasterFigures, RunState, RunStatus, SlaveFigures } from './status.js'
import { MovingRate, jsonKey, startingStatus } from './status.js'
import { progressFigures } from './progress.js'
import type { SourceFraction } from './progress.js'
import type { RunTotal } from './total.js'
import type { RunTotals } from './types.js'

/** What the sampler reads of a live run: its identity, its ledger and sessions, where it resumed. */
export interface SamplerParts {
  key: string
  args: Record<string, string>
  ledger: Ledger
  /** Done and failed over the whole run. */
  totals: () => RunTotals
  sessions: ReadonlyMap<number, Session>
  resume: ResumePoint
  /** The source's total, exact or its estimate. */
  total: RunTotal | undefined
  /** The source's last answer from `progress()` (none: no percent from the key space). */
  fraction: () => SourceFraction | undefined
  /** The generator has ended. */
  exhausted: () => boolean
  /** When this master started (ms). */
  startedAt: number
  /** The controls now (the same object until they change). */
  controls: () => ControlsFigures
  /** The last jobs this master wrote to the failed-jobs log, newest first. */
  failures: () => FailureFigures[]
  /** The master's own CPU, memory and port traffic at `now`. */
  master: (now: number) => MasterFigures
}

/**
 * Builds the run's {@link RunStatus} from plain counters, on the master's status timer:
 * the hot path only increments counters, and every view reads the last document.
 */
export class StatusSampler {
  readonly #parts: SamplerParts
  readonly #rate = new MovingRate()
  readonly #resumed: boolean
  readonly #startedAt: string
  /** The percent of the last document: the next is never lower. */
  #percent: number | null = null
  #last: RunStatus

  constructor(parts: SamplerParts) {
    this.#parts = parts
    const resume = parts.resume
    // A checkpoint of an earlier master: it ran for some time or got somewhere.
    this.#resumed = resume.elapsed > 0 || resume.position > 0 || resume.counts.done + resume.counts.failed > 0
    this.#startedAt = new Date(parts.startedAt).toISOString()
    this.#last = this.sample('starting', parts.startedAt)
  }

  /** The last document built. */
  get last(): RunStatus {
    return this.#last
  }

  /** Builds the document of `now` (and keeps it as {@link last}). */
  sample(state: RunState, now = Date.now()): RunStatus {
    const p = this.#parts
    const ledger = p.ledger
    const counts = ledger.counts
    const totals = p.totals()
    const sessionFinished = counts.done + counts.failed
    const rate = this.#rate.sample(sessionFinished, now)
    const controls = p.controls()
    const figures = progressFigures({
      finished: totals.done + totals.failed,
      pending: counts.queued + counts.inFlight + counts.waiting,
      exhausted: p.exhausted(),
      complete: state === 'complete',
      counting: state === 'running' && !controls.paused,
      total: p.total,
      fraction: p.fraction(),
      previous: this.#percent,
      // The ETA counts at the rate the run may go: a limit below the moving rate (one just
      // cut) is what the jobs left will see.
      rate: controls.rate === null ? rate : Math.min(rate, controls.rate),
    })
    this.#percent = figures.percent ?? this.#percent
    const sessionElapsed = state === 'starting' ? 0 : now - p.startedAt
    const slaves: SlaveFigures[] = []
    for (const session of p.sessions.values()) {
      if (session.info !== undefined) slaves.push(session.figures(ledger.inFlightCount(session.id), now))
    }
    const base = startingStatus(p.key, p.args, state, now, p.master(now))
    this.#last = {
      time: base.time,
      run: {
        key: p.key,
        args: base.run.args,
        state,
        resumed: this.#resumed,
        resumedAt: p.resume.position,
        position: ledger.position,
        last: jsonKey(ledger.lastKey ?? p.resume.last),
        done: totals.done,
        failed: totals.failed,
        inFlight: counts.inFlight,
        queued: counts.queued,
        waiting: counts.waiting,
        skipped: counts.skipped,
        total: figures.total,
        totalEstimated: figures.totalEstimated,
        percent: figures.percent,
        rate,
        etaMs: figures.etaMs,
        elapsedMs: p.resume.elapsed + sessionElapsed,
        startedAt: p.resume.startedAt,
        session: { done: counts.done, failed: counts.failed, elapsedMs: sessionElapsed, startedAt: this.#startedAt },
        controls,
      },
      master: base.master,
      slaves,
      failures: p.failures(),
    }
    return this.#last
  }
}
