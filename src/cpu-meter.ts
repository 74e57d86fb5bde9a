/**
 * The CPU a process used between two readings, in cores (1 = one core busy the whole
 * time, 2 = two): what a slave reports with its stats, and what a master shows of itself.
 * A reading sooner than `minMs` after the last one (a status document made at a change of
 * the controls) gives the last figure again and waits for a span long enough to mean something.
 */
export class CpuMeter {
  readonly #minMs: number
  #usage = process.cpuUsage()
  #at: number
  #last = 0

  /** @param now when the span of the first reading starts (ms); @param minMs shortest span a reading measures */
  constructor(now = Date.now(), minMs = 0) {
    this.#at = now
    this.#minMs = minMs
  }

  /** The CPU used since the last reading (or the meter's start), in cores. */
  read(now = Date.now()): number {
    const span = now - this.#at
    if (span < this.#minMs) return this.#last
    const usage = process.cpuUsage(this.#usage)
    this.#usage = process.cpuUsage()
    this.#at = now
    this.#last = (usage.user + usage.system) / 1000 / Math.max(1, span)
    return this.#last
  }
}
