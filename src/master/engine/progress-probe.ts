import type { UserCodeError } from '../../errors.js'
import type { JobKey, JobSource, SourceContext } from '../../options.js'
import { callUser, oneLine, textOf, typeName } from '../../user-code.js'
import type { SourceFraction } from './progress.js'

/** How long one `progress()` call may take: past it the percent comes from the total again. */
export const PROGRESS_TIMEOUT_MS = 10_000

/** Milliseconds between two questions to the source's `progress()` while the run runs. */
export const PROGRESS_PERIOD_MS = 5_000

/** What the probe says when something goes wrong: one warning line. */
export type Warn = (message: string) => void

/**
 * Asks the source's `progress(last, ctx)` where the watermark stands in its key space: at
 * the start (a resume), as soon as a fresh run has a watermark key, then every few seconds;
 * never on the hot path and never two calls at once, each through the user-code boundary
 * under a deadline. A call that fails (throws, hangs, or returns what is no fraction) is one
 * warning, and the source is not asked again by this master: the percent comes from the total.
 */
export class ProgressProbe {
  readonly #progress: JobSource['progress']
  readonly #ctx: SourceContext
  readonly #module: string | undefined
  readonly #warn: Warn
  readonly #ms: number
  #latest: SourceFraction | undefined
  #asking = false
  #failed = false
  /** When the source was last asked (ms); never yet: -Infinity. */
  #askedAt = -Infinity

  constructor(source: Pick<JobSource, 'progress' | 'module'>, ctx: SourceContext, warn: Warn, ms = PROGRESS_TIMEOUT_MS) {
    this.#progress = source.progress
    this.#module = source.module
    this.#ctx = ctx
    this.#warn = warn
    this.#ms = ms
  }

  /** The source's last answer, with the position it was asked at; undefined when it has none (or said it cannot tell). */
  get latest(): SourceFraction | undefined {
    return this.#latest
  }

  /** Asks (see {@link ask}) when it is due: first as soon as there is a watermark key, then every `period` ms. */
  poll(last: JobKey | undefined, position: number, now = Date.now(), period = PROGRESS_PERIOD_MS): void {
    if (now - this.#askedAt >= period) void this.ask(last, position, now)
  }

  /**
   * Asks the fraction at `last`, the key of the watermark job (none before the first), of
   * a run at `position`. Settles once the source answered or failed; never rejects.
   */
  async ask(last: JobKey | undefined, position: number, now = Date.now()): Promise<void> {
    const progress = this.#progress
    if (progress === undefined || this.#failed || this.#asking || last === undefined) return
    this.#asking = true
    this.#askedAt = now
    try {
      const ctx = this.#ctx
      const value = await callUser(() => progress(last, ctx), this.#ms, this.#module)
      if (value === undefined || value === null) this.#latest = undefined
      else if (typeof value === 'number' && value >= 0 && value <= 1) this.#latest = { fraction: value, position }
      else this.#fail(`returned ${describeFraction(value)}`, 'it must return a fraction from 0 to 1 (or undefined when it cannot tell)')
    } catch (error) {
      this.#fail('failed', (error as UserCodeError).message)
    } finally {
      this.#asking = false
    }
  }

  #fail(what: string, why: string): void {
    this.#failed = true
    this.#latest = undefined
    this.#warn(`progress() ${what}, the percent comes from the total from now on: ${why}`)
  }
}

/** What `progress()` returned, for the warning. */
function describeFraction(value: unknown): string {
  if (typeof value === 'number') return textOf(value)
  if (typeof value === 'string') return `the string '${oneLine(value, 40)}'`
  return typeName(value)
}
