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
  /** Refuses to resume a run started with other arguments. */
  checkArgs(args: Record<string, string>): void
  /** Where to resume: the checkpoint plus the journal written after it. */
  resumePoint(): ResumePoint
  /** Appends a record of finished jobs to the journal. */
  journal(record: JournalRecord): void
  /** Writes the checkpoint atomically, then empties the journal it supersedes. */
  save(checkpoint: Checkpoint): void
  /** Releases the lock; the journal is removed once the run is complete. */
  close(complete?: boolean): void
}
