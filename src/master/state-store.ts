import type { Checkpoint } from './checkpoint.js'
import type { FailedJob } from './failed-log.js'
import type { JournalRecord } from './journal.js'
import type { ResumePoint } from './run-store.js'

/**
 * Where the jobs that ran out of attempts are written ({@link FailedLog}, a file, or a
 * table of the state store). An entry is durable, or ordered before the journal record
 * that counts its job finished, so a job is in the log or it runs again: never dropped.
 */
export interface FailedJobsLog {
  /** Where the log is, for messages: a path, or the table and run. */
  readonly path: string
  /** Appends entries; returns a warning to show, if any. Throws if they cannot be written. */
  append(entries: readonly FailedJob[]): string | undefined
  close(): void
}

/**
 * Where a run keeps its state: the lock, the checkpoint and the journal. The run and
 * its persistence know only this interface; {@link RunStore} keeps it in files,
 * {@link PgStateStore} in tables of the user's PostgreSQL.
 *
 * `journal` and `save` are called on the event loop and return at once: a store that
 * writes asynchronously queues them (in order) and throws a failed write's error from a
 * later call; `close` returns once everything queued is written (or rejects).
 */
export interface StateStore {
  /** Where the run's failed-jobs log is, for messages. */
  readonly failedLogPath: string
  /** The checkpoint found at open, if any. */
  readonly previous: Checkpoint | undefined
  /** Warnings of the open (a damaged journal dropped on request), for the log. */
  readonly warnings: readonly string[]
  /**
   * Checks the arguments against a saved run (refusing others) and, for a fresh run,
   * makes its identity durable before the first job goes out; then refuses a shard count
   * other than the one the key's saved runs have (`refuseOtherShardCount` of shard-count.ts).
   */
  begin(args: Record<string, string>): void | Promise<void>
  /** Removes the state a fresh run wrote in {@link begin} (it never got to run a job). */
  discardFresh(): void | Promise<void>
  /** Where to resume: the checkpoint plus the journal written after it. */
  resumePoint(): ResumePoint
  /** Appends a record of finished jobs to the journal. */
  journal(record: JournalRecord): void
  /**
   * Writes the checkpoint atomically, then empties the journal it supersedes. Returns a
   * warning when the state had been deleted and was written again from `checkpoint`.
   */
  save(checkpoint: Checkpoint): string | undefined
  /** The failed-jobs log: at `path` if given (a file), else the store's own. */
  openFailedLog(path: string | undefined): FailedJobsLog
  /**
   * Tells `listener` (once) of an error found outside any call, that stops the run: a store
   * writing in the background lost its lease to another master, or its connection. Optional:
   * a store that writes synchronously throws from the call.
   */
  watch?(listener: (error: Error) => void): void
  /** Writes what is queued, then releases the lock; the journal is removed once the run is complete. */
  close(complete?: boolean): void | Promise<void>
}
