import type { JobKey } from '../../options.js'
import type { Ranges } from '../../protocol/ranges.js'
import type { Checkpoint } from '../state/checkpoint.js'
import { CHECKPOINT_FORMAT } from '../state/checkpoint.js'
import type { Ledger } from './ledger.js'
import type { ResumePoint, StateStore } from '../state/state-store.js'
import type { RunStatus } from './status.js'
import type { RunTotals } from './types.js'

/** The run's identity, saved in every checkpoint. */
export interface RunIdentity {
  key: string
  args: Record<string, string>
  /** The arguments given as `name=env:VAR`, by name: the variable each was read from. */
  env?: Record<string, string>
}

/** The run's total as its status document shows it, saved in every checkpoint (for `tm-ctl list`). */
export interface ShownTotal {
  count: number
  estimated: boolean
}

const sameTotal = (a: ShownTotal | undefined, b: ShownTotal | undefined): boolean =>
  a === b || (a !== undefined && b !== undefined && a.count === b.count && a.estimated === b.estimated)

/** The total status document `status` shows, if it shows one. */
export const shownTotal = (status: RunStatus): ShownTotal | undefined =>
  status.run.total === null ? undefined : { count: status.run.total, estimated: status.run.totalEstimated }

/**
 * What a live run writes to its store: the journal (one record per event-loop turn of
 * completions) and the checkpoint (about once a second and at the end, which empties
 * the journal). Completions wait in {@link finished} until the next {@link flush}.
 */
export class Persistence {
  /** Seqs finished and not journaled yet: every path that finishes a job appends here. */
  readonly finished: Ranges = []
  readonly #store: StateStore
  readonly #ledger: Ledger
  readonly #resume: ResumePoint
  readonly #identity: RunIdentity
  readonly #startedAt: number
  readonly #total: () => ShownTotal | undefined
  readonly #warn: (message: string) => void
  /** Something was journaled since the last checkpoint. */
  #dirty = false
  #closed = false
  /** The run is paused: the checkpoint says so, and the next master starts paused. */
  #paused = false
  /** The total the last checkpoint of this master saved: a checkpoint is due when the total shown changes. */
  #savedTotal: ShownTotal | undefined

  /**
   * @param total the run's total as last shown, read at each checkpoint
   * @param warn called with what the store says when it had to write the run's state again
   */
  constructor(
    store: StateStore,
    ledger: Ledger,
    resume: ResumePoint,
    identity: RunIdentity,
    startedAt: number,
    { total, warn }: { total: () => ShownTotal | undefined; warn: (message: string) => void },
  ) {
    this.#store = store
    this.#ledger = ledger
    this.#resume = resume
    this.#identity = identity
    this.#startedAt = startedAt
    this.#total = total
    this.#warn = warn
  }

  /** Jobs done and failed over all incarnations. */
  totals(): RunTotals {
    const counts = this.#ledger.counts
    return { done: this.#resume.counts.done + counts.done, failed: this.#resume.counts.failed + counts.failed }
  }

  /**
   * Appends what finished since the last record to the journal: the watermark, and the
   * finished jobs beyond it with their keys. Throws if the journal cannot be written.
   */
  flush(): void {
    const finished = this.finished
    if (finished.length === 0 || this.#closed) return
    const ledger = this.#ledger
    try {
      const { ranges, keys } = ledger.stillInWindow(finished)
      this.#store.journal({ position: ledger.position, last: ledger.lastKey ?? null, ...this.totals(), ranges, keys })
      this.#dirty = true
    } finally {
      finished.length = 0
    }
  }

  /** Writes the checkpoint if anything changed, the total shown included (always when `complete`). Throws if it cannot. */
  checkpoint(complete = false): void {
    if (this.#closed || (!this.#dirty && !complete && sameTotal(this.#total(), this.#savedTotal))) return
    this.#dirty = false
    const warning = this.#store.save(this.#build(complete))
    if (warning !== undefined) this.#warn(warning)
  }

  /** How far the finished jobs are durable (see StateStore.durable). */
  durable(): number {
    return this.#store.durable()
  }

  /** Resolves once the store wrote what is queued (see StateStore.written). */
  written(): Promise<void> {
    return this.#store.written()
  }

  /** The run was paused or resumed: the next checkpoint records it (write one now to make it durable). */
  setPaused(paused: boolean): void {
    if (paused === this.#paused) return
    this.#paused = paused
    this.#dirty = true
  }

  /** Writes the final checkpoint (whether or not anything changed). */
  finalCheckpoint(complete: boolean): void {
    this.#dirty = true
    this.checkpoint(complete)
  }

  /** The run never got to send a job (it could not listen): it leaves no state behind. */
  async abandon(): Promise<void> {
    await this.#store.discardFresh()
    await this.close(false)
  }

  /**
   * Closes the store once what it queued is written (a store may write asynchronously),
   * releasing its lock; the journal is removed once the run is complete.
   */
  async close(complete: boolean): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    await this.#store.close(complete)
  }

  #build(complete: boolean): Checkpoint {
    const ledger = this.#ledger
    const beyond = ledger.finishedInWindow()
    const finished: [number, JobKey][] = beyond.seqs.map((seq, i) => [seq, beyond.keys[i]])
    // Jobs an earlier incarnation finished beyond where the generator has got to yet.
    if (!complete && this.#resume.skip.size > 0)
      for (const pair of this.#resume.skip.pending()) if (pair[0] >= ledger.next) finished.push(pair)
    const counts = this.totals()
    // Complete: the jobs finished are the total, whatever the last document said.
    const total = complete ? { count: counts.done + counts.failed, estimated: false } : this.#total()
    this.#savedTotal = total
    const env = this.#identity.env
    return {
      format: CHECKPOINT_FORMAT,
      key: this.#identity.key,
      id: this.#resume.id,
      args: this.#identity.args,
      complete,
      position: ledger.position,
      last: ledger.lastKey ?? null,
      finished,
      counts,
      elapsed: this.#resume.elapsed + (Date.now() - this.#startedAt),
      startedAt: this.#resume.startedAt,
      updatedAt: new Date().toISOString(),
      ...(this.#paused && !complete ? { paused: true as const } : {}),
      ...(total === undefined ? {} : total.estimated ? { total: total.count, totalEstimated: true as const } : { total: total.count }),
      ...(env === undefined || Object.keys(env).length === 0 ? {} : { env }),
    }
  }
}
