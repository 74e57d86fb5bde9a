import { JobSourceError } from '../../errors.js'
import type { JobKey, JobSource } from '../../options.js'
import { thrownLine } from '../../user-code.js'

/** Reads a job's resume key; `seq` is its position in the generator. */
export type KeyReader = (job: unknown, seq: number) => JobKey

/** The longest string key: keys are kept in the checkpoint and shown on status lines. */
export const MAX_KEY_LENGTH = 8192
/** Bigint keys travel as MessagePack 64-bit integers: int64 below zero, uint64 above. */
const MIN_BIGINT_KEY = -(2n ** 63n)
const MAX_BIGINT_KEY = 2n ** 64n - 1n

function describe(value: unknown): string {
  if (value === null) return 'null'
  if (typeof value === 'number') return String(value)
  if (typeof value === 'bigint') return 'a bigint beyond 64 bits'
  if (typeof value === 'string') return `a string of ${value.length} characters (at most ${MAX_KEY_LENGTH})`
  if (Array.isArray(value)) return 'an array'
  return typeof value === 'object' ? 'an object' : typeof value
}

/** The one check of a key, wherever it comes from: what the journal, the checkpoint and the wire can hold. */
export function isKey(value: unknown): value is JobKey {
  if (typeof value === 'string') return value.length <= MAX_KEY_LENGTH
  if (typeof value === 'bigint') return value >= MIN_BIGINT_KEY && value <= MAX_BIGINT_KEY
  return typeof value === 'number' && Number.isFinite(value)
}

/**
 * How the source reads keys: the module's `key(job)` if it has one, else `job.id` for
 * an object with an `id`, else the job itself when it is a number, string or bigint,
 * else its position in the generator.
 */
export function keyReader(source: Pick<JobSource, 'key'>): KeyReader {
  const custom = source.key
  if (custom !== undefined) {
    return (job, seq) => {
      let key: unknown
      try {
        key = custom(job)
      } catch (error) {
        throw new JobSourceError(`key(job) threw for job #${seq}: ${thrownLine(error)}`)
      }
      if (!isKey(key))
        throw new JobSourceError(
          `key(job) returned ${describe(key)} for job #${seq}; it must return a finite number, a string of at most ${MAX_KEY_LENGTH} characters or a 64-bit bigint`,
        )
      return key
    }
  }
  return (job, seq) => {
    if (typeof job === 'object' && job !== null) {
      let id: unknown
      try {
        id = (job as { id?: unknown }).id
      } catch (error) {
        // A job is the user's object: a Proxy's getter may throw.
        throw new JobSourceError(`The id of job #${seq} cannot be read: ${thrownLine(error)}`)
      }
      if (id === undefined) return seq
      if (!isKey(id))
        throw new JobSourceError(
          `Job #${seq} has an id that is ${describe(id)}; a key must be a finite number, a string of at most ${MAX_KEY_LENGTH} characters or a 64-bit bigint (export a key(job) function to choose another)`,
        )
      return id
    }
    if (isKey(job)) return job
    // A string or bigint job is its own key: one too large to be a key is refused like
    // such an id, not keyed by its position (a run's keys would mix kinds, and resume with them).
    if (typeof job === 'string' || typeof job === 'bigint')
      throw new JobSourceError(
        `Job #${seq} is ${describe(job)}; a job that is its own key must be a string of at most ${MAX_KEY_LENGTH} characters or a 64-bit bigint (export a key(job) function to choose another)`,
      )
    return seq
  }
}
