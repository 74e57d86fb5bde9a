import { existsSync, statSync } from 'node:fs'
import { promised } from '../../../deferred.js'
import { CheckpointError } from '../../../errors.js'
import { readCheckpoint } from '../checkpoint.js'
import { prepareFileRetryPass } from './retry-pass.js'
import { Journal } from './journal.js'
import { RunStore, runPaths } from './run-store.js'
import type { RetryPass, StateBackend, StateStore, StoreOpenOptions, StoredRun } from '../state-store.js'

/** How the file store is set up. */
export interface FileBackendOptions {
  /** Resume past a damaged journal, dropping it from the first bad record (see {@link Journal}). @default false */
  acceptJournalLoss?: boolean
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

  /** Reads the run's checkpoint and journal without its lock; `locked` says whether its lock file is there. */
  read(key: string): Promise<StoredRun> {
    return promised(() => this.#read(key))
  }

  #read(key: string): StoredRun {
    const paths = runPaths(this.#stateDir, key)
    const checkpoint = readCheckpoint(paths.checkpoint)
    if (checkpoint === undefined)
      throw new CheckpointError(
        `No run '${key}' in ${this.#stateDir} (there is no ${paths.checkpoint}; give the --key and --state-dir the master was given)`,
        paths.checkpoint,
      )
    const journal = Journal.read(paths.journal)
    const journalAt = journal.counts !== undefined && existsSync(paths.journal) ? statSync(paths.journal).mtime.toISOString() : undefined
    return { checkpoint, journal, journalAt, locked: existsSync(paths.lock), where: paths.checkpoint }
  }

  retryPass(key: string, args: Record<string, string> = {}): Promise<RetryPass | undefined> {
    return promised(() => prepareFileRetryPass(this.#stateDir, key, args))
  }
}
