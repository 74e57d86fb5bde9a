import { createReadStream, existsSync, readFileSync, rmSync, statSync } from 'node:fs'
import { createInterface } from 'node:readline'
import { promised } from '../../../deferred.js'
import { CheckpointError } from '../../../errors.js'
import { freshCheckpoint, readCheckpoint, writeCheckpoint } from '../checkpoint.js'
import type { FailedJob } from '../failed-log.js'
import { parse } from '../json.js'
import { acquireLock } from './lock.js'
import { rotate, rotatedPath, runPaths } from './run-store.js'
import type { RetryPass } from '../state-store.js'
import { RETRY_LOG_ARG, retryKey } from '../store-common.js'

/** The jobs of the failed-jobs log at `path`, from the `position`-th entry. */
async function* failedJobs(path: string, position: number): AsyncGenerator<unknown> {
  let line = 0
  const lines = createInterface({ input: createReadStream(path), crlfDelay: Infinity })
  for await (const text of lines) {
    if (text.trim() === '') continue
    if (line++ < position) continue
    let entry: FailedJob
    try {
      entry = parse(text) as FailedJob
    } catch {
      throw new CheckpointError(`Line ${line} of the failed-jobs log '${path}' is not valid JSON`, path)
    }
    yield entry.job
  }
}

/** Entries of the failed-jobs log at `path`. */
function countEntries(path: string): number {
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter((line) => line.trim() !== '').length
}

/**
 * Prepares `--retry-failed` for run `key` of the state dir `stateDir` with arguments `args`
 * (as shown; see {@link RetryPass}): the failed-jobs log is moved aside (rotated, never
 * deleted) and its jobs become the run `<key>.retry`; jobs that fail again go to a fresh
 * `<key>.failed.jsonl`.
 * An interrupted pass is resumed instead of rotating again. Undefined when there is
 * nothing to retry (the state dir too may not exist).
 *
 * The pass's checkpoint, naming the path the log is moved to, is written (fsynced)
 * before the move, so a crash at any point leaves the failed jobs findable: before the
 * move the log is still in place (the checkpoint names a missing file, and a new pass
 * starts); after it the checkpoint leads to the moved log (and the pass resumes).
 */
export function prepareFileRetryPass(stateDir: string, key: string, args: Record<string, string> = {}): RetryPass | undefined {
  // No state dir, no run ever failed there (and no lock to take).
  if (!existsSync(stateDir)) return undefined
  const paths = runPaths(stateDir, key)
  const pass = retryKey(key)
  const passPaths = runPaths(stateDir, pass)
  // The original run must not append to the log while it is moved.
  const unlock = acquireLock(paths.lock, key)
  const release = (): Promise<void> => promised(unlock)
  const prepared = (log: string, resumed: boolean): RetryPass => ({
    key: pass,
    args: { ...args, [RETRY_LOG_ARG]: log },
    log,
    count: countEntries(log),
    resumed,
    jobs: (position) => failedJobs(log, position),
    release,
  })
  try {
    const previous = readCheckpoint(passPaths.checkpoint)
    const saved = previous?.args[RETRY_LOG_ARG]
    if (previous !== undefined && !previous.complete && saved !== undefined && existsSync(saved)) return prepared(saved, true)
    if (!existsSync(paths.failed) || statSync(paths.failed).size === 0) {
      rotate(paths.failed) // removes an empty log
      unlock()
      return undefined
    }
    const rotated = rotatedPath(paths.failed)
    // A new pass: what an earlier one (complete, or its log gone) journaled is moot.
    rmSync(passPaths.journal, { force: true })
    writeCheckpoint(passPaths.checkpoint, freshCheckpoint(pass, { ...args, [RETRY_LOG_ARG]: rotated }))
    rotate(paths.failed, rotated)
    // No reset: the master resumes the pass from the checkpoint just written.
    return prepared(rotated, false)
  } catch (error) {
    unlock()
    throw error
  }
}
