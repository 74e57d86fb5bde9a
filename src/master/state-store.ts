import type { Checkpoint } from './checkpoint.js'
import type { JournalRecord } from './journal.js'
import type { ResumePoint } from './run-store.js'

/**
 * Where a run keeps its state: the lock, the checkpoint and the journal. The run and
 * its persistence know only this interface; {@link RunStore} keeps it in files.
 */
export interface StateStore {
  /** Path of the run's failed-jobs log. */
  readonly failedLogPath: string
  /** The checkpoint found at open, if any. */
  readonly previous: Checkpoint | undefined
  /** Warnings of the open (a damaged journal dropped on request), for the log. */
  readonly warnings: readonly string[]
  /**
   * Checks the arguments against a saved run (refusing others) and, for a fresh run,
   * makes its identity durable before the first job goes out.
   */
  begin(args: Record<string, string>): void
  /** Removes the state a fresh run wrote in {@link begin} (it never got to run a job). */
  discardFresh(): void
  /** Where to resume: the checkpoint plus the journal written after it. */
  resumePoint(): ResumePoint
  /** Appends a record of finished jobs to the journal. */
  journal(record: JournalRecord): void
  /**
   * Writes the checkpoint atomically, then empties the journal it supersedes. Returns a
   * warning when the state had been deleted and was written again from `checkpoint`.
   */
  save(checkpoint: Checkpoint): string | undefined
  /** Releases the lock; the journal is removed once the run is complete. */
  close(complete?: boolean): void
}
