import type { JobKey } from '../../options.js'
import type { Checkpoint } from './checkpoint.js'
import type { FailedJob } from './failed-log.js'
import type { SkipSet } from './skip-set.js'

// The run's state as the master knows it, whatever keeps it: the interface every store
// implements, and the types it speaks. Neither store is imported here (nor imports the
// other): what both need lives here or beside it (store-common.ts).

/**
 * What one journal record says: every job before `position` is finished (`last` is the
 * key of job `position - 1`), and so are the jobs of `ranges` (beyond the watermark,
 * each with its key in `keys`, in order). `done` and `failed` count the run's finished
 * jobs over all incarnations at the time of the record.
 */
export interface JournalRecord {
  position: number
  last: JobKey | null
  done: number
  failed: number
  ranges: readonly number[]
  keys: readonly JobKey[]
}

/** What a run's journal records say together. */
export interface JournalEntries {
  /** The furthest watermark recorded (0 if none): every job before it is finished. */
  position: number
  /** Key of job `position - 1`. */
  last: JobKey | null
  /** The run's counts at the last record, or undefined without records. */
  counts: { done: number; failed: number } | undefined
  /** Jobs recorded as finished beyond a watermark, with their keys. */
  seqs: number[]
  keys: JobKey[]
}

/** What an earlier incarnation left: where to resume and what to skip. */
export interface ResumePoint {
  /** The run's identity (see Checkpoint.id): kept by every checkpoint the run writes. */
  id: string
  position: number
  last: Checkpoint['last']
  skip: SkipSet
  counts: Checkpoint['counts']
  elapsed: number
  startedAt: string
}

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
 * its persistence know only this interface; the file store keeps it in files, the
 * PostgreSQL store in tables of the user's PostgreSQL.
 *
 * `journal` and `save` are called on the event loop and return at once: a store that
 * writes asynchronously queues them (in order) and throws a failed write's error from a
 * later call; `close` resolves once everything queued is written (or rejects).
 */
export interface StateStore {
  /** Where the run's failed-jobs log is, for messages (a retry pass's is its run's). */
  readonly failedLogPath: string
  /** The checkpoint found at open, if any. */
  readonly previous: Checkpoint | undefined
  /** Warnings of the open (a damaged journal dropped on request), for the log. */
  readonly warnings: readonly string[]
  /**
   * Checks the arguments against a saved run (refusing others) and, for a fresh run,
   * makes its identity (the arguments, and `env`: those given as `name=env:VAR`, by name)
   * durable before the first job goes out; then refuses a shard count
   * other than the one the key's saved runs have (`refuseOtherShardCount` of shard-count.ts).
   */
  begin(args: Record<string, string>, env?: Record<string, string>): Promise<void>
  /** Removes the state a fresh run wrote in {@link begin} (it never got to run a job). */
  discardFresh(): Promise<void>
  /** Where to resume: the checkpoint plus the journal written after it. */
  resumePoint(): ResumePoint
  /** Appends a record of finished jobs to the journal. */
  journal(record: JournalRecord): void
  /**
   * Writes the checkpoint atomically, then empties the journal it supersedes. Returns a
   * warning when the state had been deleted and was written again from `checkpoint`.
   */
  save(checkpoint: Checkpoint): string | undefined
  /**
   * How far the run's finished jobs are durable: the position of the latest checkpoint or
   * journal record that a crash of the master's machine leaves in place (a checkpoint file
   * written and synced, a PostgreSQL statement committed). A journal appended to a file
   * survives the master's process, not its machine: it does not count.
   */
  durable(): number
  /** Resolves once everything queued so far is written (at once for a store that writes synchronously); rejects with a failed write's error. */
  written(): Promise<void>
  /** The failed-jobs log: at `path` if given (a file), else the store's own. */
  openFailedLog(path: string | undefined): FailedJobsLog
  /**
   * Tells `listener` (once) of an error found outside any call, that stops the run: a store
   * writing in the background lost its lease to another master, or its connection. Optional:
   * a store that writes synchronously throws from the call.
   */
  watch?(listener: (error: Error) => void): void
  /** Writes what is queued, then releases the lock; the journal is removed once the run is complete. */
  close(complete?: boolean): Promise<void>
}

/** How a master opens its run's state. */
export interface StoreOpenOptions {
  /** Forget the saved state (the failed-jobs log is kept aside, never deleted). @default false */
  reset?: boolean
  /** Wait for the run's lock instead of refusing while another master holds it (where the store can). @default false */
  standby?: boolean
  /** Aborted: a standby stops waiting (the master was stopped). */
  signal?: AbortSignal | undefined
}

/** A run's state read without its lock (`tm-ctl status --key`): what a master resuming it would find. */
export interface StoredRun {
  checkpoint: Checkpoint
  journal: JournalEntries
  /** When the journal was last written, if the store knows and it has records (ISO 8601). */
  journalAt: string | undefined
  /**
   * A master holds the run's lock (or lease) now: it may be running. A lock file whose
   * master is known dead (on this host, its pid gone: killed) is not held.
   */
  locked: boolean
  /** Where the checkpoint is, for people: a path, or the table and run. */
  where: string
}

/** A run of {@link StateBackend.list}: its state as {@link StateBackend.read} reads it, or why it cannot be read. */
export type ListedRun = { key: string; run: StoredRun } | { key: string; where: string; problem: string }

/** Every run of a backend, and where they are kept. */
export interface RunList {
  /** The state dir, or the database (its URL with the password masked), for people. */
  where: string
  runs: ListedRun[]
}

/**
 * A `--retry-failed` pass, prepared: the run's failed jobs are moved aside (never deleted)
 * and become a run of their own ({@link key}), resumable like any run, whose jobs failing
 * again go to the run's failed-jobs log. The run's lock is held until {@link release}.
 */
export interface RetryPass {
  /** The pass's run key: `<key>.retry`. */
  key: string
  /**
   * The pass's identity arguments: the run's arguments it was given (as shown, secrets
   * masked), and under `retry-log` where its jobs were moved to.
   */
  args: Record<string, string>
  /** Where the jobs the pass replays are, for people: a path, or the table and run. */
  log: string
  /** How many jobs the pass replays. */
  count: number
  /** An interrupted pass is resumed, rather than a new one started. */
  resumed: boolean
  /** The pass's jobs, from the `position`-th (a resumed pass skips what it finished). */
  jobs(position: number): AsyncIterable<unknown>
  /** Releases the run's lock, held while the pass runs (so the run cannot write its log meanwhile). */
  release(): Promise<void>
}

/**
 * Where runs keep their state: a state dir, or a PostgreSQL database. Each store
 * implements this alone; `state-backend.ts` picks one from the options.
 */
export interface StateBackend {
  /** Opens run `key` for a master: takes its lock and reads where its last incarnation stopped. */
  open(key: string, options?: StoreOpenOptions): Promise<StateStore>
  /** Reads run `key` without taking its lock; throws a CheckpointError when there is no such run. */
  read(key: string): Promise<StoredRun>
  /**
   * Every run the backend keeps, each read as {@link read} reads one (no lock, no lease,
   * nothing created), in no particular order; a run whose state cannot be read is listed
   * with the reason. Throws a CheckpointError when there is no such state dir.
   */
  list(): Promise<RunList>
  /**
   * Prepares `--retry-failed` for run `key` (see {@link RetryPass}) with the arguments
   * `args` (as shown) that its handler needs; undefined, holding nothing, when it has no
   * failed jobs. The pass is recorded (its checkpoint naming where the jobs go, and `args`)
   * no later than the jobs move, so a pass killed at any point is resumed by the next call,
   * and the failed jobs never leave the retry workflow.
   */
  retryPass(key: string, args?: Record<string, string>): Promise<RetryPass | undefined>
}
