import type { RunTotal } from './total.js'

/**
 * How far a run is, told truthfully: the percent, the total shown and the ETA of a status
 * document, from the run's counts, the source's total and what its `progress()` said. Pure,
 * so every rule is unit-tested (test/unit/master/engine/progress.test.ts).
 *
 * A total that is an estimate is shown as one, and corrected as the run learns: from the
 * source's fraction of its key space at the watermark (jobs up to the watermark over that
 * fraction), and never below the jobs the run already knows of. Once the generator has
 * ended, the jobs known are the total. The percent never goes back within a master's life,
 * stays under 100 until every job is finished, and the ETA is unknown rather than 0 while
 * jobs are left.
 */

/** Highest percent shown while a job may be left: 100 % is said once every job is finished. */
export const BEFORE_THE_END = 99.9

/** What the source's `progress()` said: the fraction (0 to 1) of its key space done at the watermark of `position` jobs. */
export interface SourceFraction {
  fraction: number
  /** The run's position (jobs finished contiguously) when the fraction was asked. */
  position: number
}

/** Where the run is, for {@link progressFigures}. */
export interface ProgressInput {
  /** Jobs finished (done and failed) over the whole run. */
  finished: number
  /** Jobs pulled from the generator and not finished yet: queued, in flight, waiting for a retry. */
  pending: number
  /** The generator has ended: finished and pending jobs are all the run's. */
  exhausted: boolean
  /** Every job is finished and recorded: the run is complete. */
  complete: boolean
  /** The ETA counts down: the run is running and not paused. */
  counting: boolean
  /** The source's total, when it gave one. */
  total: RunTotal | undefined
  /** The source's last answer from `progress()`, when it gave one. */
  fraction: SourceFraction | undefined
  /** The percent of this master's last document (null before one had a percent): the percent never goes back. */
  previous: number | null
  /** Jobs finished per second (the moving rate). */
  rate: number
}

/** What a status document shows of the run's progress. */
export interface ProgressFigures {
  /** Jobs of the whole run: the source's count, or an estimate (see `totalEstimated`); null when nothing tells. */
  total: number | null
  /** `total` is an estimate, not a count. */
  totalEstimated: boolean
  /** Finished jobs over `total`, 0 to 100; null without a total. */
  percent: number | null
  /** Milliseconds left at the rate, in whole seconds rounded up; 0 only at the end; null when unknown. */
  etaMs: number | null
}

/** The total to show and whether it is an estimate, before the jobs the run knows of are counted. */
function baseTotal(input: ProgressInput): { count: number; estimated: boolean } | undefined {
  const { total, fraction } = input
  // The key space says more than a guess of rows (the planner's, whose table the run may
  // bloat), and less than a count.
  if (fraction !== undefined && fraction.fraction > 0 && fraction.position > 0 && (total === undefined || total.estimate))
    return { count: Math.round(fraction.position / fraction.fraction), estimated: true }
  return total === undefined ? undefined : { count: total.count, estimated: total.estimate }
}

/** The percent, the total shown and the ETA of a run (see the file's comment). */
export function progressFigures(input: ProgressInput): ProgressFigures {
  const { finished, pending } = input
  const base = baseTotal(input)
  // Nothing tells how many jobs there are: no percent, and an ETA only once there is nothing left.
  if (base === undefined) return { total: null, totalEstimated: false, percent: null, etaMs: input.complete ? 0 : null }
  // Complete, or every job pulled and finished (the run ends on its next turn): the true count.
  if (input.complete || (input.exhausted && pending === 0)) return { total: finished, totalEstimated: false, percent: 100, etaMs: 0 }
  const known = finished + pending
  // Once the generator has ended the jobs known are all; before, a total the run went past is a floor, not a count.
  const total = input.exhausted ? known : Math.max(base.count, known)
  const totalEstimated = !input.exhausted && (base.estimated || base.count < known)
  const ratio = total > 0 ? (finished * 100) / total : 0
  const percent = Math.max(input.previous ?? 0, Math.min(BEFORE_THE_END, ratio))
  const left = total - finished
  const etaMs = input.counting && left > 0 && input.rate > 0 ? Math.ceil(left / input.rate) * 1000 : null
  return { total, totalEstimated, percent, etaMs }
}
