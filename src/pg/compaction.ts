/**
 * When exactlyOnce deletes claims, and which: a claim keeps a job from running twice only
 * while a master could send the job again, that is until the run's state store holds the
 * job as finished. The master says how far that is (`ctx.run.durable`: every job of its
 * incarnation below that seq), so every claim of the current incarnation below it can go, in
 * one statement (`DELETE ... WHERE inc = $2 AND seq < $3`, a range: no index descent per key).
 * The range is cumulative, so a compaction skipped (another process held it) or failed is
 * covered by the next. Pure: no database, no clock.
 *
 * Claims of an incarnation that is gone (the master restarted) cannot be placed in the new
 * one's numbering: they stay until the run completes (teardown deletes the whole run).
 */

/** The claims to delete: those of master incarnation `incarnation` below seq `below`. */
export interface CompactionRange {
  incarnation: string
  below: number
}

/** One slave process's compactions of one run: at most one at a time, each when the durable position moved. */
export class Compaction {
  /** The last range deleted (or found taken by another process). */
  #done: CompactionRange = { incarnation: '', below: 0 }
  #running = false
  /** The run identity the compactions are of: another starts over. */
  #run: string | undefined

  /** The run now is `run` (its identity): what was done for another says nothing of it. */
  runIs(run: string): void {
    if (run === this.#run) return
    this.#run = run
    this.#done = { incarnation: '', below: 0 }
  }

  /**
   * The range to delete now, for the master incarnation `incarnation` whose durable position
   * is `durable`, or undefined when one is running or nothing moved since the last; the caller
   * then says how it {@link ended}.
   */
  next(incarnation: string, durable: number): CompactionRange | undefined {
    if (this.#running || durable <= 0) return undefined
    if (incarnation === this.#done.incarnation && durable <= this.#done.below) return undefined
    this.#running = true
    return { incarnation, below: durable }
  }

  /** The compaction of `range` ended: done (deleted, or left to the process that held it), or failed (tried again with the next). */
  ended(range: CompactionRange, done: boolean): void {
    this.#running = false
    if (done) this.#done = range
  }
}
