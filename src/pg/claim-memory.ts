/**
 * What a slave process remembers of the claims it committed, until they can go: a claim
 * keeps a job from running twice only while a master could send the job again, that is
 * until the run's state store holds the job as finished. The master says how far that is
 * (`ctx.run.durable`: every job of its incarnation below that seq), so a claimed batch is
 * remembered with its incarnation and its highest seq, and its keys become due for deletion
 * once the durable position passes it. Pure: no database, no clock.
 *
 * Bounded: a batch is remembered from its commit until the master's next durable checkpoint
 * (about a second of this process's jobs), at most the run's window if the watermark is held
 * back. Batches of an incarnation that is gone (the master restarted) cannot be placed in the
 * new one's numbering and are dropped unremoved: their claims stay until the run completes.
 */

/** A committed batch of claims: its master incarnation, its highest seq, its keys. */
interface Remembered {
  incarnation: string
  last: number
  keys: readonly string[]
}

export class ClaimMemory {
  /** Committed batches not yet durable, oldest first (per incarnation, roughly in seq order). */
  #batches: Remembered[] = []
  /** Keys whose claims are due for deletion (durable and not yet deleted). */
  #due: string[] = []
  /** The run identity the memory is of: another forgets everything. */
  #run: string | undefined
  /** Keys dropped unremoved (their incarnation ended), for the record. */
  dropped = 0

  /** Keys due for deletion now. */
  get dueCount(): number {
    return this.#due.length
  }

  /** Batches remembered, not yet due. */
  get waiting(): number {
    return this.#batches.length
  }

  /**
   * The run now is `run` (its identity): the memory of another run is forgotten (those
   * claims are the other run's to clear).
   */
  runIs(run: string): void {
    if (run === this.#run) return
    this.#run = run
    this.#batches = []
    this.#due = []
  }

  /** A batch's claims committed: `keys` of jobs whose highest seq is `last`, in incarnation `incarnation`. */
  remember(incarnation: string, last: number, keys: readonly string[]): void {
    if (keys.length > 0) this.#batches.push({ incarnation, last, keys })
  }

  /**
   * Moves the batches that are durable (`last < durable` in the current incarnation) to the
   * due keys, and drops those of another incarnation.
   */
  settle(incarnation: string, durable: number): void {
    if (this.#batches.length === 0) return
    const kept: Remembered[] = []
    for (const batch of this.#batches) {
      if (batch.incarnation !== incarnation) this.dropped += batch.keys.length
      else if (batch.last < durable) for (const key of batch.keys) this.#due.push(key)
      else kept.push(batch)
    }
    this.#batches = kept
  }

  /** Takes up to `n` due keys, to delete with the next claim; give them {@link back} if that fails. */
  take(n: number): string[] {
    if (this.#due.length === 0) return []
    return this.#due.length <= n ? this.#due.splice(0) : this.#due.splice(this.#due.length - n, n)
  }

  /** Keys {@link take}n whose deletion did not commit: due again. */
  back(keys: readonly string[]): void {
    for (const key of keys) this.#due.push(key)
  }
}
