import { readdirSync, statSync } from 'node:fs'
import { resolve } from 'node:path'
import { promised } from '../../../deferred.js'
import { CheckpointError } from '../../../errors.js'
import { isRunKey } from '../../../option-specs.js'
import { readCheckpoint } from '../checkpoint.js'
import { prepareFileRetryPass } from './retry-pass.js'
import { Journal } from './journal.js'
import { lockHeld } from './lock.js'
import { RunStore, runPaths } from './run-store.js'
import type {
  JournalEntries,
  ListedRun,
  RetryPass,
  RunList,
  StateBackend,
  StateStore,
  StoreOpenOptions,
  StoredRun,
} from '../state-store.js'

/** How the file store is set up. */
export interface FileBackendOptions {
  /** Resume past a damaged journal, dropping it from the first bad record (see {@link Journal}). @default false */
  acceptJournalLoss?: boolean
}

/** When the file at `path` was last written (ISO 8601), or undefined if it is gone. */
function modified(path: string): string | undefined {
  return statSync(path, { throwIfNoEntry: false })?.mtime.toISOString()
}

/** The names of the files in `dir`; a CheckpointError, one line, when it cannot be read. */
function stateFiles(dir: string): Set<string> {
  try {
    return new Set(readdirSync(dir))
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
}

/** What a run without a journal file has. */
const noJournal = (): JournalEntries => ({ position: 0, last: null, counts: undefined, seqs: [], keys: [] })

/** Which of a run's files other than its checkpoint are there (a file not there is not read: a list of thousands of runs stays fast). */
interface Present {
  journal: boolean
  lock: boolean
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

  /**
   * The runs of the state dir: each `<key>.json` whose name is a run key (a master writes no
   * other), as the directory was when read (a journal or lock file made since is not seen).
   */
  list(): Promise<RunList> {
    return promised(() => {
      const dir = resolve(this.#stateDir)
      const files = stateFiles(dir)
      const runs: ListedRun[] = []
      for (const name of files) {
        const key = name.slice(0, -'.json'.length)
        if (!name.endsWith('.json') || !isRunKey(key)) continue
        try {
          const run = this.#read(key, { journal: files.has(`${key}.journal`), lock: files.has(`${key}.lock`) })
          // Gone since the directory was read (a fresh run that never ran a job): not a run.
          if (run !== undefined) runs.push({ key, run })
        } catch (error) {
          runs.push({ key, where: runPaths(dir, key).checkpoint, problem: (error as Error).message })
        }
      }
      return { where: dir, runs }
    })
  }

  /** The run's checkpoint and journal, or undefined when it has no checkpoint. */
  #read(key: string, present: Present = { journal: true, lock: true }): StoredRun | undefined {
    const paths = runPaths(this.#stateDir, key)
    const checkpoint = readCheckpoint(paths.checkpoint)
    if (checkpoint === undefined) return undefined
    const journal = present.journal ? Journal.read(paths.journal) : noJournal()
    const journalAt = journal.counts !== undefined ? modified(paths.journal) : undefined
    return { checkpoint, journal, journalAt, locked: present.lock && lockHeld(paths.lock), where: paths.checkpoint }
  }

  retryPass(key: string, args: Record<string, string> = {}): Promise<RetryPass | undefined> {
    return promised(() => prepareFileRetryPass(this.#stateDir, key, args))
  }
}
