import { createReadStream, existsSync, rmSync, statSync } from 'node:fs'
import { createInterface } from 'node:readline'
import { CheckpointError } from '../errors.js'
import type { JobSource, MasterOptions } from '../options.js'
import { freshCheckpoint, readCheckpoint, writeCheckpoint } from './checkpoint.js'
import type { FailedJob } from './failed-log.js'
import { parse } from './json.js'
import { acquireLock } from './lock.js'
import { retryKey, rotate, rotatedPath, runPaths } from './run-store.js'

/** The argument under which a retry pass saves the log it replays. */
export const RETRY_LOG_ARG = 'retry-log'

/** A source that yields the jobs of a failed-jobs log, resuming by position. */
function failedLogSource(path: string, key: JobSource['key']): JobSource {
  return {
    async *getJobs(_last, ctx) {
      let line = 0
      const lines = createInterface({ input: createReadStream(path), crlfDelay: Infinity })
      for await (const text of lines) {
        if (text.trim() === '') continue
        if (line++ < ctx.position) continue
        let entry: FailedJob
        try {
          entry = parse(text) as FailedJob
        } catch {
          throw new CheckpointError(`Line ${line} of the failed-jobs log '${path}' is not valid JSON`, path)
        }
        yield entry.job
      }
    },
    key,
  }
}

/** What the master of a retry pass runs. */
export interface RetryPass {
  options: Pick<MasterOptions, 'source' | 'key' | 'args' | 'failedLog' | 'reset'>
  /** Path the log was moved to (the jobs this pass replays). */
  log: string
  /** True when an interrupted retry pass is resumed rather than a new one started. */
  resumed: boolean
  /** Releases the lock held on the original run while the pass runs. */
  release: () => void
}

/**
 * Prepares `--retry-failed` for run `key`: the failed-jobs log is moved aside (rotated,
 * never deleted) and its jobs become a run of their own, `<key>.retry`, resumable like
 * any run; jobs that fail again go to a fresh `<key>.failed.jsonl`. An interrupted pass
 * is resumed instead of rotating again. Undefined when there is nothing to retry.
 *
 * The pass's checkpoint, naming the path the log is moved to, is written (fsynced)
 * before the move, so a crash at any point leaves the failed jobs findable: before the
 * move the log is still in place (the checkpoint names a missing file, and a new pass
 * starts); after it the checkpoint leads to the moved log (and the pass resumes).
 */
export function prepareRetryPass(stateDir: string, key: string, userKey: JobSource['key']): RetryPass | undefined {
  const paths = runPaths(stateDir, key)
  const pass = retryKey(key)
  const passPaths = runPaths(stateDir, pass)
  // The original run must not append to the log while it is moved.
  const release = acquireLock(paths.lock, key)
  try {
    const previous = readCheckpoint(passPaths.checkpoint)
    const saved = previous?.args[RETRY_LOG_ARG]
    if (previous !== undefined && !previous.complete && saved !== undefined && existsSync(saved)) {
      return { options: { source: failedLogSource(saved, userKey), key: pass, args: { [RETRY_LOG_ARG]: saved }, failedLog: paths.failed }, log: saved, resumed: true, release }
    }
    if (!existsSync(paths.failed) || statSync(paths.failed).size === 0) {
      rotate(paths.failed) // removes an empty log
      release()
      return undefined
    }
    const rotated = rotatedPath(paths.failed)
    const args = { [RETRY_LOG_ARG]: rotated }
    // A new pass: what an earlier one (complete, or its log gone) journaled is moot.
    rmSync(passPaths.journal, { force: true })
    writeCheckpoint(passPaths.checkpoint, freshCheckpoint(pass, args))
    rotate(paths.failed, rotated)
    // No reset: the master resumes the pass from the checkpoint just written.
    return { options: { source: failedLogSource(rotated, userKey), key: pass, args, failedLog: paths.failed }, log: rotated, resumed: false, release }
  } catch (error) {
    release()
    throw error
  }
}
