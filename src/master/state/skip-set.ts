import type { JobKey } from '../../options.js'

/**
 * Jobs finished beyond the watermark by an earlier incarnation (from the checkpoint and
 * the journal), by seq. The source skips the job at such a seq when its key is the one
 * recorded: both must match, so duplicate keys never hide an unfinished job, and a
 * dataset that changed under the run (a row inserted) makes a job run again rather
 * than be skipped. Entries the generator has not reached yet stay in the next checkpoint.
 */
export class SkipSet {
  readonly #bySeq = new Map<number, JobKey>()

  /** `seqs[i]` finished with key `keys[i]`. */
  constructor(seqs: readonly number[] = [], keys: readonly JobKey[] = []) {
    for (let i = 0; i < seqs.length; i++) this.#bySeq.set(seqs[i], keys[i])
  }

  /** Entries not reached yet. */
  get size(): number {
    return this.#bySeq.size
  }

  /** The generator is at `seq` with a job of key `key`: true if that job is finished. The entry is used up either way. */
  take(seq: number, key: JobKey): boolean {
    const recorded = this.#bySeq.get(seq)
    if (recorded === undefined) return false
    this.#bySeq.delete(seq)
    return recorded === key
  }

  /** The entries still waiting, as `[seq, key]` pairs. */
  pending(): [number, JobKey][] {
    return [...this.#bySeq]
  }
}
