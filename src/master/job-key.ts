import { JobSourceError } from '../errors.js'
import type { JobKey, JobSource } from '../options.js'
import { thrownLine } from '../user-code.js'

/** Reads a job's resume key; `seq` is its position in the generator. */
export type KeyReader = (job: unknown, seq: number) => JobKey

function describe(value: unknown): string {
  if (value === null) return 'null'
  if (typeof value === 'number') return String(value)
  if (Array.isArray(value)) return 'an array'
  return typeof value === 'object' ? 'an object' : typeof value
}

function isKey(value: unknown): value is JobKey {
  const t = typeof value
  return t === 'string' || t === 'bigint' || (t === 'number' && Number.isFinite(value))
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
      if (!isKey(key)) throw new JobSourceError(`key(job) returned ${describe(key)} for job #${seq}; it must return a finite number, a string or a bigint`)
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
      if (!isKey(id)) throw new JobSourceError(`Job #${seq} has an id that is ${describe(id)}; a key must be a number, string or bigint (export a key(job) function to choose another)`)
      return id
    }
    return isKey(job) ? job : seq
  }
}
