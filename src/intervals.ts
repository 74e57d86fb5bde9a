/** Periodic timers of a master or slave, unref'd (they never keep a process alive) and cleared together at the end. */
export class Intervals {
  readonly #timers: NodeJS.Timeout[] = []

  /** Calls `fn` every `ms` milliseconds until {@link clear}. */
  every(ms: number, fn: () => void): void {
    const timer = setInterval(fn, ms)
    timer.unref()
    this.#timers.push(timer)
  }

  /** Stops every timer. */
  clear(): void {
    for (const timer of this.#timers.splice(0)) clearInterval(timer)
  }
}
