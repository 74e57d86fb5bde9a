import { readdirSync, statSync } from 'node:fs'
import { resolve } from 'node:path'
import { promised } from '../../../deferred.js'
import { CheckpointError, describeError } from '../../../errors.js'
import { isRunKey } from '../../../option-specs.js'
import { readCheckpoint } from '../checkpoint.js'
import { prepareFileRetryPass } from './retry-pass.js'
import { Journal } from './journal.js'
import { lockHeld } from './lock.js'
import { RunStore, runPaths } from './run-store.js'
import type { ListedRun, RetryPass, RunList, StateBackend, StateStore, StoreOpenOptions, StoredRun } from '../state-store.js'

/** How the file store is set up. */
export interface FileBackendOptions {
  /** Resume past a damaged journal, dropping it from the first bad record (see {@link Journal}). @default false */
  acceptJournalLoss?: boolean
}

/** When the file at `path` was last written (ISO 8601), or undefined if it is gone. */
function modified(path: string): string | undefined {
  return statSync(path, { throwIfNoEntry: false })?.mtime.toISOString()
}

/** The keys of the checkpoints in `dir`; a CheckpointError, one line, when it cannot be read. */
function checkpointKeys(dir: string): string[] {
  let names: string[]
  try {
    names = readdirSync(dir)
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    throw new CheckpointError(
      code === 'ENOENT'
        ? `There is no state dir '${dir}' (give the --state-dir the masters were given, or --state-store)`
        : code === 'ENOTDIR'
          ? `The state dir '${dir}' is not a directory`
          : `Cannot read the state dir '${dir}': ${(error as Error).message}`,
      dir,
    )
  }
  return names.filter((name) => name.endsWith('.json') && isRunKey(name.slice(0, -'.json'.length))).map((name) => name.slice(0, -5))
}

/** Runs whose state is files in a state dir: `<key>.json`, `.journal`, `.failed.jsonl`, `.lock` (see {@link RunStore}). */
export class FileBackend implements StateBackend {
  readonly #stateDir: string
  readonly #options: FileBackendOptions

  constructor(stateDir: string, options: FileBackendOptions = {}) {
    this.#stateDir = stateDir
    this.#options = options
  }

  /** Takes the run's lock file; a standby has nothing to wait for (a file lock is never held by a lost machine's session). */
  open(key: string, options: StoreOpenOptions = {}): Promise<StateStore> {
    return promised(() => new RunStore(this.#stateDir, key, { reset: options.reset, acceptJournalLoss: this.#options.acceptJournalLoss }))
  }

  /** Reads the run's checkpoint and journal without its lock; `locked` says whether a live master holds its lock file. */
  read(key: string): Promise<StoredRun> {
    return promised(() => {
      const run = this.#read(key)
      if (run === undefined) {
        const path = runPaths(this.#stateDir, key).checkpoint
        throw new CheckpointError(
          `No run '${key}' in ${this.#stateDir} (there is no ${path}; give the --key and --state-dir the master was given)`,
          path,
        )
      }
      return run
    })
  }

  /** The runs of the state dir: each `<key>.json` whose name is a run key (a master writes no other). */
  list(): Promise<RunList> {
    return promised(() => {
      const dir = resolve(this.#stateDir)
      const runs: ListedRun[] = []
      for (const key of checkpointKeys(dir)) {
        try {
          const run = this.#read(key)
          // Gone since the directory was read (a fresh run that never ran a job): not a run.
          if (run !== undefined) runs.push({ key, run })
        } catch (error) {
          runs.push({ key, where: runPaths(dir, key).checkpoint, problem: describeError(error) })
        }
      }
      return { where: dir, runs }
    })
  }

  /** The run's checkpoint and journal, or undefined when it has no checkpoint. */
  #read(key: string): StoredRun | undefined {
    const paths = runPaths(this.#stateDir, key)
    const checkpoint = readCheckpoint(paths.checkpoint)
    if (checkpoint === undefined) return undefined
    const journal = Journal.read(paths.journal)
    const journalAt = journal.counts !== undefined ? modified(paths.journal) : undefined
    return { checkpoint, journal, journalAt, locked: lockHeld(paths.lock), where: paths.checkpoint }
  }

  retryPass(key: string): Promise<RetryPass | undefined> {
    return promised(() => prepareFileRetryPass(this.#stateDir, key))
  }
}
