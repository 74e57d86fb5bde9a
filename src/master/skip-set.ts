import type { JobKey } from '../options.js'

/**
 * Keys finished beyond the watermark by an earlier incarnation (from the checkpoint
 * and the journal). The source skips a job whose key is here instead of running it
 * again. Entries the generator has not reached yet must stay in the next checkpoint,
 * so the set keeps each key's seq.
 */
export class SkipSet {
  readonly #bySeq = new Map<JobKey, number>()

  constructor(seqs: readonly number[] = [], keys: readonly JobKey[] = []) {
    for (let i = 0; i < seqs.length; i++) this.#bySeq.set(keys[i]!, seqs[i]!)
  }

  get size(): number {
    return this.#bySeq.size
  }

  /** Removes `key` and tells whether it was there. */
  take(key: JobKey): boolean {
    return this.#bySeq.delete(key)
  }

  /** Forgets entries the generator has gone past (their seq is below `seq`): their keys did not come. */
  dropBelow(seq: number): void {
    for (const [key, s] of this.#bySeq) if (s < seq) this.#bySeq.delete(key)
  }

  /** The entries still waiting, as `[seq, key]` pairs. */
  pending(): [number, JobKey][] {
    return [...this.#bySeq].map(([key, seq]) => [seq, key])
  }
}
