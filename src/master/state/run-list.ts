import { OptionError } from '../../errors.js'
import type { JobKey } from '../../options.js'
import { MASTER_DEFAULTS } from '../../options.js'
import { MASTER_OPTIONS, checkOption } from '../../option-specs.js'
import { redactText } from '../../redact.js'
import { savedArgsShown } from '../../run-args.js'
import { stateBackend } from './state-backend.js'
import type { ListedRun, StateBackend, StoredRun } from './state-store.js'
import { foldResume, retryKey } from './store-common.js'

// Every run of a store, as `tm-ctl list` and `listRuns()` tell them: read through the
// StateBackend interface, so both stores list alike.

/**
 * What a listed run is:
 * - `running`: a master holds its lock (a file lock whose process is alive, or a lease whose
 *   session is open) and the run is not paused;
 * - `paused`: the same, and the run is paused (its last checkpoint says so);
 * - `stopped`: no master holds it and it is not complete: its master stopped (a stop, an
 *   error, a kill -9) before the end; started again with its key, it resumes;
 * - `complete`: every job of the generator is finished and none failed;
 * - `failed`: every job is finished, and some failed (they are in the failed-jobs log:
 *   `--retry-failed` replays them);
 * - `retried`: every job is finished, and the ones that failed were all done since by a
 *   `--retry-failed` pass (the run `<key>.retry`, complete with none failed);
 * - `damaged`: its state cannot be read (`problem` says why).
 */
export type ListedRunState = 'running' | 'paused' | 'stopped' | 'complete' | 'failed' | 'retried' | 'damaged'

/** One run of {@link listRuns}, what `tm-ctl list --json` prints. Null: not known (an older version's state, or a damaged run). */
export interface RunListing {
  /** The run's key (`--key`). */
  key: string
  state: ListedRunState
  /** Jobs done, over every master of the run (its checkpoint plus its journal). */
  done: number | null
  /** Jobs failed after their last attempt (in the failed-jobs log). */
  failed: number | null
  /** Jobs of the whole run as its master last showed them; for a complete run, the jobs finished. */
  total: number | null
  /** `total` is an estimate (shown `~1,000`), not a count. */
  totalEstimated: boolean
  /** The run was paused when its state was last written: a master of it starts paused until resumed. */
  paused: boolean
  /** When the run's first master started it (ISO 8601). */
  startedAt: string | null
  /** When its state was last written: the checkpoint, or the journal if newer (ISO 8601). */
  updatedAt: string | null
  /** Its `name=value` arguments: secrets masked, one given as `env:VAR` shown so. */
  args: Record<string, string> | null
  /** Where its state is: the checkpoint file, or the table and run. */
  where: string
  /** Why a `damaged` run cannot be read; null for the others. */
  problem: string | null
}

/** Where a stored run stands, from its checkpoint and its journal (what a master resuming it would find). */
export interface StoredFigures {
  position: number
  last: JobKey | null
  done: number
  failed: number
  /** The checkpoint's time, or the journal's if it is newer. */
  updatedAt: string
}

/** Where `run` stands: the journal after the checkpoint counts (positions and counts only grow). */
export function storedFigures(run: StoredRun): StoredFigures {
  const { checkpoint: cp, journal, journalAt } = run
  const at = foldResume(cp, journal)
  return {
    position: at.position,
    last: at.last,
    done: at.counts.done,
    failed: at.counts.failed,
    updatedAt: journalAt !== undefined && journalAt > cp.updatedAt ? journalAt : cp.updatedAt,
  }
}

/** What a run is (see {@link ListedRunState}), from its end, its failures, its lock and its pause. */
export function runStateOf(run: { complete: boolean; failed: number; locked: boolean; paused: boolean }): ListedRunState {
  if (run.complete) return run.failed > 0 ? 'failed' : 'complete'
  if (!run.locked) return 'stopped'
  return run.paused ? 'paused' : 'running'
}

/** A listed run as {@link RunListing} tells it. */
export function listingOf(listed: ListedRun): RunListing {
  if (!('run' in listed))
    return {
      key: listed.key,
      state: 'damaged',
      done: null,
      failed: null,
      total: null,
      totalEstimated: false,
      paused: false,
      startedAt: null,
      updatedAt: null,
      args: null,
      where: listed.where,
      // Whatever the message quotes (a URL with its password) is masked.
      problem: redactText(listed.problem),
    }
  const { run } = listed
  const cp = run.checkpoint
  const figures = storedFigures(run)
  const paused = cp.paused === true && !cp.complete
  // A complete run's total is what it finished, whatever its last document said (or an older version did not save).
  const total = cp.complete ? figures.done + figures.failed : (cp.total ?? null)
  return {
    key: listed.key,
    state: runStateOf({ complete: cp.complete, failed: figures.failed, locked: run.locked, paused }),
    done: figures.done,
    failed: figures.failed,
    total,
    totalEstimated: !cp.complete && total !== null && cp.totalEstimated === true,
    paused,
    startedAt: cp.startedAt,
    updatedAt: figures.updatedAt,
    args: savedArgsShown(cp.args, cp.env),
    where: run.where,
    problem: null,
  }
}

/** `runs` newest update first (a damaged run, without one, last), then by key. */
function byUpdate(runs: RunListing[]): RunListing[] {
  const time = (run: RunListing): number => {
    const t = Date.parse(run.updatedAt ?? '')
    return Number.isNaN(t) ? -Infinity : t
  }
  return runs
    .map((run) => ({ run, t: time(run) }))
    .sort((a, b) => (a.t !== b.t ? b.t - a.t : a.run.key < b.run.key ? -1 : a.run.key > b.run.key ? 1 : 0))
    .map(({ run }) => run)
}

/** Where {@link listRuns} looks. */
export interface ListRunsOptions {
  /** The state dir the masters were given (`--state-dir`). @default './.taskmaster' */
  stateDir?: string
  /** The PostgreSQL the masters kept their state in (`--state-store`), instead of `stateDir`. Needs the pg package. */
  stateStore?: string
}

/** The runs of a store, and where they are kept (a state dir, or a database with its password masked). */
export interface RunListings {
  where: string
  runs: RunListing[]
}

/**
 * Every run of a state dir, or of the PostgreSQL of `stateStore`, newest update first:
 * each as {@link RunListing} tells it, read without taking a lock or a lease and creating
 * nothing. A run whose state cannot be read is listed as `damaged`. Rejects with a
 * {@link CheckpointError} when there is no such state dir, an {@link OptionError} for a
 * `stateStore` that is not a postgres:// URL.
 */
export async function listRuns(options: ListRunsOptions = {}): Promise<RunListings> {
  if (typeof options !== 'object' || options === null) throw new OptionError(`listRuns() takes { stateDir } or { stateStore }`)
  const { stateDir = MASTER_DEFAULTS.stateDir, stateStore } = options
  if (typeof stateDir !== 'string') throw new OptionError(`options.stateDir must be a path, got ${typeof stateDir}`, 'stateDir')
  if (stateStore !== undefined) checkOption(MASTER_OPTIONS.stateStore, stateStore, 'stateStore')
  return listedRuns(stateBackend({ stateDir, stateStore, acceptJournalLoss: false, heartbeat: MASTER_DEFAULTS.heartbeat }))
}

/**
 * `runs` with each failed run whose failures a later retry pass all did marked `retried`:
 * the pass (`<key>.retry`, whose failures would go back to the run's failed-jobs log)
 * started after the run did, and is complete with none failed.
 */
export function withRetries(runs: RunListing[]): RunListing[] {
  const byKey = new Map(runs.map((run) => [run.key, run]))
  return runs.map((run) => {
    if (run.state !== 'failed' || run.startedAt === null) return run
    const pass = byKey.get(retryKey(run.key))
    const retried = pass?.state === 'complete' && pass.startedAt !== null && Date.parse(pass.startedAt) >= Date.parse(run.startedAt)
    return retried ? { ...run, state: 'retried' } : run
  })
}

/** Every run of `backend`, newest update first. */
export async function listedRuns(backend: StateBackend): Promise<RunListings> {
  const { where, runs } = await backend.list()
  return { where, runs: byUpdate(withRetries(runs.map(listingOf))) }
}
