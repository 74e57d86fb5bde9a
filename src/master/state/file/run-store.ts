import { existsSync, fstatSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { promised } from '../../../deferred.js'
import { CheckpointError, StateFileError } from '../../../errors.js'
import type { Checkpoint } from '../checkpoint.js'
import { freshCheckpoint, readCheckpoint, writeCheckpoint } from '../checkpoint.js'
import { Journal } from './journal.js'
import { acquireLock } from './lock.js'
import type { FailedJobsLog, JournalRecord, ResumePoint, StateStore } from '../state-store.js'
import { failuresRunOf, foldResume, refuseOtherArgs, retryKey } from '../store-common.js'
import { FailedLog } from '../failed-log.js'
import { makeDir } from '../make-dir.js'
import { refuseOtherShardCount, shardCountOf } from '../shard-count.js'

/** Files of one run in the state dir. */
export interface RunPaths {
  checkpoint: string
  journal: string
  failed: string
  lock: string
}

/** Paths of the files of run `key` in `stateDir`. */
export function runPaths(stateDir: string, key: string): RunPaths {
  const base = join(resolve(stateDir), key)
  return { checkpoint: `${base}.json`, journal: `${base}.journal`, failed: `${base}.failed.jsonl`, lock: `${base}.lock` }
}

/** Where {@link rotate} moves a failed-jobs log now: `<key>.failed.<time>.jsonl`. */
export const rotatedPath = (failedLog: string): string =>
  failedLog.replace(/\.jsonl$/, `.${new Date().toISOString().replace(/[:.]/g, '-')}.jsonl`)

/**
 * Moves a failed-jobs log aside (to `rotated`, by default {@link rotatedPath}); returns
 * the new path, or undefined if there was no log (or an empty one, which is removed).
 */
export function rotate(failedLog: string, rotated = rotatedPath(failedLog)): string | undefined {
  if (!existsSync(failedLog)) return undefined
  if (statSync(failedLog).size === 0) {
    rmSync(failedLog, { force: true })
    return undefined
  }
  renameSync(failedLog, rotated)
  return rotated
}

/** The runs of `dir` whose key starts with `prefix` and that have a checkpoint. */
function savedRuns(dir: string, prefix: string): string[] {
  return readdirSync(dir)
    .filter((name) => name.startsWith(prefix) && name.endsWith('.json'))
    .map((name) => name.slice(0, -'.json'.length))
}

/** How a run store is opened. */
export interface RunStoreOptions {
  /** Forget the saved state (the failed-jobs log is rotated, never deleted). @default false */
  reset?: boolean
  /** Resume past a damaged journal, dropping it from the first bad record (see {@link Journal}). @default false */
  acceptJournalLoss?: boolean
}

/**
 * The persistent state of one run: its lock, checkpoint and journal. Opening it takes
 * the lock and reads where the last incarnation stopped.
 */
export class RunStore implements StateStore {
  readonly paths: RunPaths
  readonly key: string
  /** The run's failed-jobs log (a retry pass's is its run's: see failuresRunOf). */
  readonly failedLogPath: string
  /** The checkpoint found at open (before any resume), if any. */
  readonly previous: Checkpoint | undefined
  /** What the master should warn about once open (a damaged journal cut by `acceptJournalLoss`). */
  readonly warnings: string[] = []
  #journal: Journal
  #release: () => void
  #closed = false
  /** The checkpoint {@link begin} wrote for a fresh run, until the run saves one of its own. */
  #fresh: Checkpoint | undefined
  /** The position of the last checkpoint written (synced): see {@link durable}. */
  #durable: number

  constructor(stateDir: string, key: string, options: RunStoreOptions = {}) {
    this.key = key
    this.paths = runPaths(stateDir, key)
    try {
      makeDir(stateDir)
    } catch (error) {
      throw new CheckpointError(`Cannot create state dir '${resolve(stateDir)}': ${(error as Error).message}`, stateDir)
    }
    this.#release = acquireLock(this.paths.lock, key)
    try {
      if (options.reset) {
        rmSync(this.paths.checkpoint, { force: true })
        rmSync(this.paths.journal, { force: true })
        // The old run's failures are kept aside (never deleted), and its retry pass forgotten.
        rotate(this.paths.failed)
        const retry = runPaths(stateDir, retryKey(key))
        rmSync(retry.checkpoint, { force: true })
        rmSync(retry.journal, { force: true })
      }
      this.previous = readCheckpoint(this.paths.checkpoint)
      this.#durable = this.previous?.position ?? 0
      this.failedLogPath = runPaths(stateDir, failuresRunOf(key, this.previous)).failed
      this.#journal = new Journal(this.paths.journal, { acceptLoss: options.acceptJournalLoss === true })
      if (this.#journal.dropped !== undefined) this.warnings.push(this.#journal.dropped)
      // Every run writes its checkpoint before its first job goes out (begin), so journal
      // records without one mean the checkpoint was lost: resuming would take whatever
      // arguments are given now and start where the journal says.
      if (this.previous === undefined && Journal.read(this.paths.journal).counts !== undefined) {
        throw new CheckpointError(
          `Run '${key}' has a journal ('${this.paths.journal}') but no checkpoint ('${this.paths.checkpoint}'): its arguments are unknown, so it cannot be resumed safely. Start it over with --reset`,
          this.paths.checkpoint,
        )
      }
    } catch (error) {
      this.#release()
      throw error
    }
  }

  /** Refuses to resume a run started with other arguments. */
  checkArgs(args: Record<string, string>): void {
    refuseOtherArgs(this.key, this.previous?.args, args, this.paths.checkpoint)
  }

  /**
   * Starts the run: refuses other arguments than the saved run's ({@link checkArgs}) and,
   * on a fresh run, makes its identity durable before any job goes out: a checkpoint at
   * position 0 with the arguments, written atomically. A master killed before its first
   * regular checkpoint thus leaves a run that refuses other arguments on restart. Then
   * refuses a shard count other than the one the key's saved runs have.
   */
  begin(args: Record<string, string>, env?: Record<string, string>): Promise<void> {
    return promised(() => this.#begin(args, env))
  }

  #begin(args: Record<string, string>, env: Record<string, string> | undefined): void {
    this.checkArgs(args)
    if (this.previous === undefined) {
      const fresh = freshCheckpoint(this.key, args, env)
      writeCheckpoint(this.paths.checkpoint, fresh)
      this.#fresh = fresh
    }
    // Looked for once this run's own checkpoint is on disk (see refuseOtherShardCount).
    const dir = dirname(this.paths.checkpoint)
    const own = shardCountOf(this.key, args)
    refuseOtherShardCount(own, savedRuns(dir, own.base), `the state dir '${dir}'`, dir)
  }

  /** Removes the checkpoint {@link begin} wrote, when the run stops before any job went out (it could not listen). */
  discardFresh(): Promise<void> {
    return promised(() => {
      if (this.#fresh === undefined) return
      rmSync(this.paths.checkpoint, { force: true })
      this.#fresh = undefined
    })
  }

  /**
   * Where to resume: the checkpoint plus the journal written after it. The journal's
   * watermark may be further than the checkpoint's; what either lists as finished beyond
   * the final position is skipped.
   */
  resumePoint(): ResumePoint {
    return foldResume(this.previous ?? this.#fresh, Journal.read(this.paths.journal))
  }

  /** Appends a record of finished jobs to the journal. */
  journal(record: JournalRecord): void {
    this.#journal.append(record)
  }

  /**
   * Writes the checkpoint atomically, then empties the journal it supersedes. If the
   * run's state was deleted while the run is live (the state dir, the checkpoint, the
   * journal or the lock), it is written again from `checkpoint` (the master holds the
   * whole state in memory) and the warning to show is returned; if it cannot be, the
   * error says the state is gone and what a restart would do.
   */
  save(checkpoint: Checkpoint): string | undefined {
    let lost = this.#lost()
    if (lost === undefined) {
      try {
        writeCheckpoint(this.paths.checkpoint, checkpoint)
        this.#durable = checkpoint.position
        this.#fresh = undefined
        this.#journal.truncate()
        return undefined
      } catch (error) {
        // Deleted under the write (the rename found no dir): rewrite it all below.
        lost = this.#lost()
        if (lost === undefined) throw error
      }
    }
    this.#rewrite(checkpoint, lost)
    this.#durable = checkpoint.position
    const { position, counts } = checkpoint
    const rest = lost.startsWith('the state dir') ? '. Anything else kept there (a failed-jobs log) is gone' : ''
    return `The state of run '${this.key}' was deleted while the run was live (${lost}); rewritten from memory (position ${position}, ${counts.done} done, ${counts.failed} failed)${rest}`
  }

  /** What of the run's state is gone from disk (a description for messages), or undefined. */
  #lost(): string | undefined {
    const dir = dirname(this.paths.checkpoint)
    if (!statSync(dir, { throwIfNoEntry: false })?.isDirectory()) return `the state dir '${dir}' was removed`
    if (!existsSync(this.paths.checkpoint)) return 'its checkpoint was removed'
    // Appends to a deleted journal go to a file no one can read again.
    if (fstatSync(this.#journal.fd).nlink === 0) return 'its journal was removed'
    if (!existsSync(this.paths.lock)) return 'its lock file was removed'
    return undefined
  }

  /** Writes the state again after it was deleted: dir, lock, checkpoint, a fresh journal. */
  #rewrite(checkpoint: Checkpoint, lost: string): void {
    const dir = dirname(this.paths.checkpoint)
    try {
      makeDir(dir)
      // The lock file goes with the dir; taken again, so no second master starts on the
      // key. A release removes only its own lock: the new one is what close() releases.
      if (!existsSync(this.paths.lock)) this.#release = acquireLock(this.paths.lock, this.key)
      writeCheckpoint(this.paths.checkpoint, checkpoint)
      this.#fresh = undefined
      const journal = new Journal(this.paths.journal)
      journal.truncate()
      this.#journal.close()
      this.#journal = journal
    } catch (error) {
      const cause = (error as Error).message
      const restart =
        existsSync(this.paths.journal) && statSync(this.paths.journal).size > 0 && !existsSync(this.paths.checkpoint)
          ? 'it would refuse to resume (a journal without a checkpoint) until --reset'
          : 'it would run every job from the beginning'
      throw new StateFileError(
        `The state of run '${this.key}' was deleted while the run was live (${lost}) and cannot be written again: ${cause}. Nothing of the run is saved: started again with --key ${this.key}, ${restart}`,
        dir,
      )
    }
  }

  /** The position of the last checkpoint written: it is synced, the journal is not. */
  durable(): number {
    return this.#durable
  }

  /** Everything is written when a call returns. */
  written(): Promise<void> {
    return Promise.resolve()
  }

  /** The failed-jobs log file: `path`, or {@link failedLogPath}. */
  openFailedLog(path: string | undefined): FailedJobsLog {
    return new FailedLog(path ?? this.failedLogPath)
  }

  /** Closes the journal (removing it once the run is complete: the checkpoint says all) and releases the lock. */
  close(complete = false): Promise<void> {
    return promised(() => {
      if (this.#closed) return
      this.#closed = true
      this.#journal.close()
      if (complete) rmSync(this.paths.journal, { force: true })
      this.#release()
    })
  }
}
