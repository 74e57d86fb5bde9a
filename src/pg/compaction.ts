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
 *
 * A deleted claim was the only trace of its job's writes: the same statement raises the
 * incarnation's floor (every job of it below the floor is done), and a claim below it is
 * taken as done ({@link aboveFloor}). A slave the master dropped (stopped, cut off) may still
 * run its copies of jobs another slave wrote since, long after their claims went.
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

/**
 * The jobs claimed (indexes into the batch; undefined: all) whose seq is at or above their
 * incarnation's floor, `floor` (text, or null: none yet): those below it are done, their
 * claims compacted (a slave the master dropped, come back with its copies). They are not
 * run; the claims just made for them stay, below the floor, for the next compaction.
 *
 * The floor is read after the claims, in a statement of its own, so a compaction cannot slip
 * between: a claim meets a committed claim of its key (a unique violation, or ON CONFLICT:
 * not claimed), or one a compaction is deleting (it waits for that transaction), or none. A
 * compaction raises the floor in the transaction that deletes, so once the claim statement
 * ended, any compaction that removed its key's claim has committed, and a statement started
 * then (READ COMMITTED: a snapshot of its own) sees its floor. Read in the claim statement,
 * the floor would come from a snapshot taken before such a compaction committed. No lock is
 * held on the floor: a compaction never waits for the batches.
 */
export function aboveFloor(claimed: number[] | undefined, seqs: readonly number[], floor: unknown): number[] | undefined {
  if (floor === null || floor === undefined) return claimed
  const below = Number(floor)
  const all = claimed ?? seqs.map((_, i) => i)
  if (all.every((i) => seqs[i] >= below)) return claimed
  return all.filter((i) => seqs[i] >= below)
}
