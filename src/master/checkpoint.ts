import { closeSync, fsyncSync, openSync, readFileSync, renameSync } from 'node:fs'
import { dirname } from 'node:path'
import { CheckpointError } from '../errors.js'
import type { JobKey } from '../options.js'
import { parse, stringify } from './json.js'
import { writeAllSync } from './write-all.js'

/** Format version of the checkpoint file; another version is refused, never misread. */
export const CHECKPOINT_FORMAT = 1

/** Everything a run persists between incarnations. */
export interface Checkpoint {
  format: typeof CHECKPOINT_FORMAT
  /** The run's name (`--key`). */
  key: string
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
    throw new CheckpointError(`Checkpoint '${path}' has format ${JSON.stringify(c.format)}, this Taskmaster reads format ${CHECKPOINT_FORMAT}; finish the run with the Taskmaster version that started it, or use --reset to start over`, path)
  }
  if (typeof c.position !== 'number' || !Array.isArray(c.finished) || typeof c.args !== 'object' || typeof c.complete !== 'boolean') {
    throw new CheckpointError(`Checkpoint '${path}' is damaged (missing fields); move it away or use --reset to start over`, path)
  }
  return c as Checkpoint
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
    throw new CheckpointError(`Cannot write checkpoint '${path}': ${(error as Error).message}; the previous checkpoint is intact`, path, 1)
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
