import { createHash, randomBytes } from 'node:crypto'
import { closeSync, existsSync, fsyncSync, openSync, readFileSync, renameSync } from 'node:fs'
import { dirname } from 'node:path'
import { CheckpointError, StateFileError } from '../../errors.js'
import type { JobKey } from '../../options.js'
import { parse, stringify } from './json.js'
import { writeAllSync } from './write-all.js'

/** Format version of the checkpoint file; another version is refused, never misread. */
export const CHECKPOINT_FORMAT = 1

/** Everything a run persists between incarnations. */
export interface Checkpoint {
  format: typeof CHECKPOINT_FORMAT
  /** The run's name (`--key`). */
  key: string
  /**
   * The run's identity: 16 random hex digits made when the run starts fresh, kept by every
   * checkpoint after, so the same for each master that resumes the run and new after
   * `--reset`. Slaves are told it (a handler's claims in its database are keyed by it).
   * Checkpoints of earlier versions have none: see {@link runIdentity}.
   */
  id?: string
  /** The run's `name=value` arguments; resuming with others is refused. */
  args: Record<string, string>
  /** Every job of the generator is finished. */
  complete: boolean
  /** Jobs known finished, contiguously from the first: the watermark plus one. */
  position: number
  /** Key of the watermark job (job `position - 1`); null when `position` is 0. */
  last: JobKey | null
  /** Jobs finished beyond the watermark, as `[seq, key]` pairs: skipped on resume. */
  finished: [number, JobKey][]
  /** Jobs finished over all incarnations: done, failed, and how many of each. */
  counts: { done: number; failed: number }
  /** Milliseconds the run has been running, summed over incarnations. */
  elapsed: number
  startedAt: string
  updatedAt: string
  /**
   * The run was paused when this was written: its next master starts paused too, until
   * resumed. Absent when not paused (checkpoints of earlier versions have no such field).
   */
  paused?: true
  /**
   * Jobs of the whole run as its master last showed them (the status document's `total`),
   * for `tm-ctl list`. Absent when the source gave no total (and in checkpoints of earlier versions).
   */
  total?: number
  /** {@link total} is an estimate, not a count. Absent when it is a count. */
  totalEstimated?: true
  /**
   * The arguments given as `name=env:VAR`, by name: the variable each was read from (its
   * value is not saved: `args` holds it masked), shown as `env:VAR` by `tm-ctl list`. Absent
   * when there are none (and in checkpoints of earlier versions).
   */
  env?: Record<string, string>
}

/** What a run's identity looks like (see {@link Checkpoint.id}). */
export const RUN_IDENTITY = /^[0-9a-f]{16}$/

/** A new run identity. */
export const newRunIdentity = (): string => randomBytes(8).toString('hex')

/**
 * The identity of the run `checkpoint` is of: its `id`, or for a checkpoint of an earlier
 * version (none) one derived from its key and start, the same at every resume.
 */
export function runIdentity(checkpoint: Pick<Checkpoint, 'id' | 'key' | 'startedAt'>): string {
  return checkpoint.id ?? createHash('sha256').update(`${checkpoint.key}\n${checkpoint.startedAt}`).digest('hex').slice(0, 16)
}

/** The checkpoint of run `key` before its first job: position 0, nothing finished, a new identity; `env` as {@link Checkpoint.env}. */
export function freshCheckpoint(key: string, args: Record<string, string>, env: Record<string, string> = {}): Checkpoint {
  const now = new Date().toISOString()
  return {
    format: CHECKPOINT_FORMAT,
    key,
    id: newRunIdentity(),
    args: { ...args },
    complete: false,
    position: 0,
    last: null,
    finished: [],
    counts: { done: 0, failed: 0 },
    elapsed: 0,
    startedAt: now,
    updatedAt: now,
    ...(Object.keys(env).length === 0 ? {} : { env: { ...env } }),
  }
}

/**
 * Reads a checkpoint file; undefined if there is none. A file that is not a checkpoint
 * of this format is an error, so a state from another version is never misread.
 */
export function readCheckpoint(path: string): Checkpoint | undefined {
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw new CheckpointError(`Cannot read checkpoint '${path}': ${(error as Error).message}`, path)
  }
  let value: unknown
  try {
    value = parse(text)
  } catch {
    throw new CheckpointError(`Checkpoint '${path}' is not valid JSON; move it away or use --reset to start over`, path)
  }
  const c = value as Partial<Checkpoint> | null
  if (typeof c !== 'object' || c === null || !('format' in c)) {
    throw new CheckpointError(`'${path}' is not a Taskmaster checkpoint; move it away or use --reset to start over`, path)
  }
  if (c.format !== CHECKPOINT_FORMAT) {
    throw new CheckpointError(
      `Checkpoint '${path}' has format ${JSON.stringify(c.format)}, this Taskmaster reads format ${CHECKPOINT_FORMAT}; finish the run with the Taskmaster version that started it, or use --reset to start over`,
      path,
    )
  }
  const problem = checkpointProblem(c)
  if (problem !== undefined)
    throw new CheckpointError(`Checkpoint '${path}' is damaged ${problem}; move it away or use --reset to start over`, path)
  return c as Checkpoint
}

/** Every field of a checkpoint, in the order it is written. */
const FIELDS = ['format', 'key', 'args', 'complete', 'position', 'last', 'finished', 'counts', 'elapsed', 'startedAt', 'updatedAt'] as const

/** A value as the checkpoint file spells it, for messages. */
const show = (value: unknown): string => stringify(value) ?? String(value)

const isWhole = (value: unknown): value is number => Number.isSafeInteger(value) && (value as number) >= 0

const isJobKey = (value: unknown): value is JobKey =>
  (typeof value === 'number' && Number.isFinite(value)) || typeof value === 'string' || typeof value === 'bigint'

const isPlainObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value)

const NOT_A_KEY = 'is not a job key (number, string, bigint)'

/**
 * What is wrong with a parsed checkpoint of this format (the words after "is damaged"), or
 * undefined if nothing (both stores check what they read with it). Every
 * field is checked: a damaged file must stop the run with a message, never resume it
 * from a wrong position (a fractional position marks jobs failed that never ran, a key
 * of the wrong type ends a run as complete at once).
 */
export function checkpointProblem(c: Record<string, unknown>): string | undefined {
  const missing = FIELDS.filter((field) => !(field in c))
  if (missing.length > 0) return `(missing fields): it has no ${missing.join(', ')}`
  if (typeof c.key !== 'string') return `(key: ${show(c.key)} is not a string)`
  if ('id' in c && (typeof c.id !== 'string' || !RUN_IDENTITY.test(c.id))) return `(id: ${show(c.id)} is not 16 hex digits)`
  // The arguments' values are never quoted: an older version saved them in clear, secrets too.
  if (!isPlainObject(c.args))
    return `(args: ${c.args === null ? 'null' : Array.isArray(c.args) ? 'an array' : `a ${typeof c.args}`} is not an object of name=value strings)`
  const odd = Object.entries(c.args).find(([, v]) => typeof v !== 'string')
  if (odd !== undefined) return `(args: ${JSON.stringify(odd[0])} is ${odd[1] === null ? 'null' : `a ${typeof odd[1]}`}, not a string)`
  if (typeof c.complete !== 'boolean') return `(complete: ${show(c.complete)} is not true or false)`
  const position = c.position
  if (!isWhole(position)) return `(position: ${show(position)} is not a whole number >= 0)`
  if (c.last !== null && !isJobKey(c.last)) return `(last: ${show(c.last)} ${NOT_A_KEY})`
  // The key of job position - 1: there is one exactly when some job is finished.
  if ((c.last === null) !== (position === 0)) return `(last: ${show(c.last)} but position is ${position})`
  if (!Array.isArray(c.finished)) return `(finished: ${show(c.finished)} is not an array of [seq, key] pairs)`
  for (const [i, pair] of (c.finished as unknown[]).entries()) {
    if (!Array.isArray(pair) || pair.length !== 2) return `(finished[${i}]: ${show(pair)} is not a [seq, key] pair)`
    const [seq, key] = pair as [unknown, unknown]
    if (!isWhole(seq) || seq < position) return `(finished[${i}]: seq ${show(seq)} is not a whole number >= position ${position})`
    if (!isJobKey(key)) return `(finished[${i}]: key ${show(key)} ${NOT_A_KEY})`
  }
  const counts = c.counts
  if (!isPlainObject(counts) || !isWhole(counts.done) || !isWhole(counts.failed))
    return `(counts: ${show(counts)} is not {done, failed} whole numbers >= 0)`
  if (typeof c.elapsed !== 'number' || !Number.isFinite(c.elapsed) || c.elapsed < 0)
    return `(elapsed: ${show(c.elapsed)} is not a number of milliseconds >= 0)`
  if (typeof c.startedAt !== 'string') return `(startedAt: ${show(c.startedAt)} is not a string)`
  if (typeof c.updatedAt !== 'string') return `(updatedAt: ${show(c.updatedAt)} is not a string)`
  if ('paused' in c && c.paused !== true) return `(paused: ${show(c.paused)} is not true)`
  if ('total' in c && !isWhole(c.total)) return `(total: ${show(c.total)} is not a whole number >= 0)`
  if ('totalEstimated' in c && c.totalEstimated !== true) return `(totalEstimated: ${show(c.totalEstimated)} is not true)`
  if ('env' in c && (!isPlainObject(c.env) || !Object.values(c.env).every((v) => typeof v === 'string')))
    return `(env: ${show(c.env)} is not an object of argument names and variable names)`
  return undefined
}

/**
 * Writes a checkpoint atomically: a temp file is written and fsynced, then renamed
 * over the old one, and the directory is fsynced. A crash or a full disk at any point
 * leaves either the old checkpoint or the new one, never a torn file.
 */
export function writeCheckpoint(path: string, checkpoint: Checkpoint): void {
  const temp = `${path}.tmp`
  const data = Buffer.from(stringify(checkpoint, 1) + '\n')
  try {
    const fd = openSync(temp, 'w')
    try {
      writeAllSync(fd, data)
      fsyncSync(fd)
    } finally {
      closeSync(fd)
    }
    renameSync(temp, path)
  } catch (error) {
    // The write never touches the previous checkpoint, but it may be gone for other reasons.
    const previous = existsSync(path) ? 'the previous checkpoint is intact' : 'there is no previous checkpoint'
    throw new StateFileError(`Cannot write checkpoint '${path}': ${(error as Error).message}; ${previous}`, path)
  }
  syncDirectory(dirname(path))
}

/** fsync a directory so a rename in it survives a power cut; best effort. */
function syncDirectory(dir: string): void {
  try {
    const fd = openSync(dir, 'r')
    try {
      fsyncSync(fd)
    } finally {
      closeSync(fd)
    }
  } catch {
    // Some filesystems refuse fsync on directories; the rename is still atomic.
  }
}
