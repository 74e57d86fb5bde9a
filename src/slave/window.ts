/**
 * The slave's window: how many jobs it holds at most (running, queued, and credited to the
 * master but not received yet). Credit stays additive on the wire: a slave whose window
 * grows grants more at its next ack, one whose window shrinks withholds until it holds
 * less than its window again.
 *
 * Adaptive (the default): enough jobs queued beyond the running ones to cover the time
 * until the next frame can arrive, `rate × (round trip + margin)`, so a fast handler gets
 * full frames (few frames, little per-frame cost) and a slow one holds only a few jobs
 * (fair sharing between slaves, little work repeated after a kill -9). A fixed
 * `--prefetch n` is the window `concurrency + n`, always.
 */

/**
 * Milliseconds of work queued beyond the round trip. It covers jitter (a late frame, a GC
 * pause), and it is what lets a window limited by itself grow: the rate measured under a
 * window W is at most W per round trip, so the next window is W × (rtt + margin) / rtt.
 * 40 ms keeps what a killed slave hands back to about 100 ms of its work: the running
 * jobs (one handler's time), the queued ones (round trip + margin) and the finished ones
 * not acked yet (up to a quarter of the window).
 */
export const WINDOW_MARGIN_MS = 40

/**
 * Most jobs an adaptive window holds: with a no-op handler some 4 ms of work at 2 M jobs/s,
 * 8 full frames of the master's default --batch-size, and 8 MB of 1 KB jobs.
 */
export const WINDOW_CAP = 8192

/** Milliseconds between two measurements of the job rate (and updates of the window). */
export const WINDOW_PERIOD_MS = 100

/**
 * The window for a measured job rate and round trip: the lanes' jobs plus
 * `rate × (roundTrip + margin)` queued, at least `concurrency`, at most `cap` (or
 * `concurrency` when that is more).
 *
 * @param jobsPerMs jobs finished per millisecond
 * @param roundTripMs milliseconds from a credit sent to the jobs it brings
 */
export function windowSize(
  concurrency: number,
  jobsPerMs: number,
  roundTripMs: number,
  marginMs = WINDOW_MARGIN_MS,
  cap = WINDOW_CAP,
): number {
  const queued = Math.ceil(jobsPerMs * (roundTripMs + marginMs))
  return Math.max(concurrency, Math.min(cap, concurrency + queued))
}

/**
 * A slave's window, fed with measurements: round trips as they are seen, and every
 * {@link WINDOW_PERIOD_MS} the jobs finished. Plain numbers only: the slave feeds it from
 * counters, nothing per job.
 */
export class Window {
  readonly #concurrency: number
  /** The fixed extra jobs of `--prefetch`, or undefined for the adaptive window. */
  readonly #prefetch: number | undefined
  #size: number
  /** Smoothed job rate, in jobs per millisecond (0 before the first measurement). */
  #rate = 0
  /** Smoothed round trip in milliseconds (undefined before the first sample). */
  #roundTrip: number | undefined
  /** Shortest round trip seen since the last update (Infinity: none). */
  #shortest = Infinity

  /** `prefetch` undefined: the adaptive window; a number: the fixed window `concurrency + prefetch`. */
  constructor(concurrency: number, prefetch?: number) {
    this.#concurrency = concurrency
    this.#prefetch = prefetch
    // Before anything is measured: what the fixed default used to be (a job at hand per lane).
    this.#size = prefetch !== undefined ? concurrency + prefetch : Math.max(concurrency, Math.min(WINDOW_CAP, 2 * concurrency))
  }

  /** Jobs the slave holds at most now. */
  get size(): number {
    return this.#size
  }

  /** Whether the window follows the measurements (no fixed `--prefetch`). */
  get adaptive(): boolean {
    return this.#prefetch === undefined
  }

  /** The smoothed job rate (jobs per millisecond) and round trip (milliseconds), as the window uses them. */
  get measured(): { jobsPerMs: number; roundTripMs: number } {
    return { jobsPerMs: this.#rate, roundTripMs: this.#roundTrip ?? 0 }
  }

  /**
   * A round trip was seen: `ms` from a credit sent while the master held none of ours to
   * the next jobs frame. The shortest of a period counts: a longer one waited for jobs the
   * master did not have yet (an empty buffer, a partial frame held back), which more
   * credit would not have brought sooner.
   */
  roundTrip(ms: number): void {
    if (ms < this.#shortest) this.#shortest = ms
  }

  /** `finished` jobs ended in the last `elapsedMs` milliseconds: the window follows. */
  update(finished: number, elapsedMs: number): void {
    if (this.#prefetch !== undefined || !(elapsedMs > 0)) return
    const rate = finished / elapsedMs
    // Halfway to each measurement: one quiet period (a master busy writing its checkpoint)
    // does not empty the queue, one burst (timers late on a loaded machine, then all at
    // once) does not swell it; a fast handler still reaches the cap in a few periods, as
    // the margin makes each window a multiple of the last.
    this.#rate = (this.#rate + rate) / 2
    if (this.#shortest !== Infinity) {
      this.#roundTrip = this.#roundTrip === undefined ? this.#shortest : (this.#roundTrip + this.#shortest) / 2
      this.#shortest = Infinity
    }
    this.#size = windowSize(this.#concurrency, this.#rate, this.#roundTrip ?? 0)
  }
}
