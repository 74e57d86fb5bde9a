import { inspect } from 'node:util'
import { typeName } from '../user-code.js'
/**
 * What a batch handler's return value says failed. Nothing (`undefined`, `null`): every
 * job is done. An array of `{ index, error }` or `{ job, error }` (`index` into the jobs
 * the handler was given, `job` the very object it was given): those jobs failed with
 * their errors, the others are done. Anything else (an object such as a database
 * driver's result, a string) cannot say which jobs failed: every job of the call fails
 * with an error saying what to return, rather than counting as done unread.
 */

/** Why a returned failure is not understood (thrown, so the batch is split like any throw). */
function badEntry(who: string, i: number, why: string): TypeError {
  return new TypeError(`${who} returned failures whose entry ${i} ${why}; return an array of { index, error } or { job, error }`)
}

/**
 * The failed jobs of a batch call over `jobs`, as index → error, from the handler's
 * return value; undefined when every job is done. Throws a TypeError for an entry that
 * names no job of the call. `who` is what returned it, as the messages name it.
 */
export function failedOf(result: unknown, jobs: readonly unknown[], who = 'handleBatch'): Map<number, unknown> | undefined {
  if (result === undefined || result === null) return undefined
  const failed = new Map<number, unknown>()
  if (!Array.isArray(result)) {
    // The same call would return the same: the jobs fail as they are, the batch is not split.
    const error = new TypeError(
      `${who} returned ${typeName(result)}; it must return nothing (every job done) or an array of { index, error } or { job, error } (those jobs failed)`,
    )
    for (let i = 0; i < jobs.length; i++) failed.set(i, error)
    return failed
  }
  for (let i = 0; i < result.length; i++) {
    const entry: unknown = result[i]
    if (entry === null || typeof entry !== 'object') throw badEntry(who, i, 'is not an object')
    const { index, job, error } = entry as { index?: unknown; job?: unknown; error?: unknown }
    let at: number
    if (index !== undefined) {
      if (!Number.isInteger(index) || (index as number) < 0 || (index as number) >= jobs.length)
        throw badEntry(who, i, `has index ${inspect(index)}, not one of 0..${jobs.length - 1}`)
      at = index as number
    } else {
      at = jobs.indexOf(job)
      if (at < 0) throw badEntry(who, i, 'names a job that is not one of the batch (give the same object, or its index)')
    }
    failed.set(at, error === undefined ? new Error(`${who} returned it as failed, without an error`) : error)
  }
  return failed
}
