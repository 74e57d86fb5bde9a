/**
 * Jobs per second over the last few seconds, from samples of a growing counter.
 * Sampling is the caller's: the status display samples on every redraw.
 */
export class RateMeter {
  readonly #window: number
  #samples: { at: number; count: number }[] = []

  /** @param windowMs how far back the rate looks */
  constructor(windowMs = 5000) {
    this.#window = windowMs
  }

  /** Records `count` at time `at` (ms) and returns the rate in jobs/s. */
  sample(count: number, at = Date.now()): number {
    this.#samples.push({ at, count })
    while (this.#samples.length > 2 && this.#samples[0].at < at - this.#window) this.#samples.shift()
    const first = this.#samples[0]
    const seconds = (at - first.at) / 1000
    return seconds > 0 ? (count - first.count) / seconds : 0
  }
}
