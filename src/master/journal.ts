import { closeSync, ftruncateSync, openSync, readFileSync } from 'node:fs'
import { Packr } from 'msgpackr'
import { CheckpointError } from '../errors.js'
import type { JobKey } from '../options.js'
import { countOf, seqsOfRanges } from '../protocol/ranges.js'
import { writeAllSync } from './write-all.js'

const packr = new Packr({ useRecords: false })

/** Marks the records of this layout; a journal left by another layout is refused. */
export const JOURNAL_FORMAT = 2

/**
 * What one journal record says: every job before `position` is finished (`last` is the
 * key of job `position - 1`), and so are the jobs of `ranges` (beyond the watermark,
 * each with its key in `keys`, in order). `done` and `failed` count the run's finished
 * jobs over all incarnations at the time of the record.
 */
export interface JournalRecord {
  position: number
  last: JobKey | null
  done: number
  failed: number
  ranges: readonly number[]
  keys: readonly JobKey[]
}

/**
 * Completions since the last checkpoint, appended as each turn of acks arrives: one
 * write per record, no fsync (a killed master loses nothing the kernel already has).
 * A record states the watermark, so jobs finished in order (nearly all) cost nothing
 * in it; only those finished beyond the watermark are listed, as seq ranges and keys.
 * Each record is a 4-byte little-endian length and a MessagePack
 * `[2, position, last, done, failed, ranges, keys]`.
 * The next checkpoint folds the records in and the journal is truncated.
 */
export class Journal {
  readonly path: string
  #fd: number

  constructor(path: string) {
    this.path = path
    try {
      this.#fd = openSync(path, 'a')
      // A torn last record (a crash mid-write) is cut off, or records appended after it
      // would never be read.
      const { end, size } = scan(readIfExists(path), path)
      if (end < size) ftruncateSync(this.#fd, end)
    } catch (error) {
      // A journal of another layout says so itself.
      if (error instanceof CheckpointError) throw error
      throw new CheckpointError(`Cannot open journal '${path}': ${(error as Error).message}`, path)
    }
  }

  /** Appends one record. */
  append(record: JournalRecord): void {
    const body = packr.pack([JOURNAL_FORMAT, record.position, record.last, record.done, record.failed, record.ranges, record.keys])
    const header = Buffer.allocUnsafe(4)
    header.writeUInt32LE(body.length, 0)
    try {
      writeAllSync(this.#fd, Buffer.concat([header, body], 4 + body.length))
    } catch (error) {
      throw new CheckpointError(`Cannot append to journal '${this.path}': ${(error as Error).message}`, this.path, 1)
    }
  }

  /** Empties the journal (after a checkpoint that holds everything in it). */
  truncate(): void {
    try {
      ftruncateSync(this.#fd, 0)
    } catch (error) {
      throw new CheckpointError(`Cannot truncate journal '${this.path}': ${(error as Error).message}`, this.path, 1)
    }
  }

  /** Closes the file (the journal stays on disk). */
  close(): void {
    closeSync(this.#fd)
  }

  /**
   * Reads every whole record of a journal file, merged: the furthest watermark, the
   * highest counts, and every job listed beyond a watermark (the caller drops those
   * below its final position). A torn last record (a crash in the middle of a write)
   * is left out. Missing file: an empty journal (position 0, no counts).
   */
  static read(path: string): JournalEntries {
    let data: Buffer
    try {
      data = readIfExists(path)
    } catch (error) {
      throw new CheckpointError(`Cannot read journal '${path}': ${(error as Error).message}`, path)
    }
    return scan(data, path).entries
  }
}

function readIfExists(path: string): Buffer {
  try {
    return readFileSync(path)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return Buffer.alloc(0)
    throw error
  }
}

/** A decoded record body in this layout, or undefined if it is not one. */
function recordOf(value: unknown): JournalRecord | undefined {
  if (!Array.isArray(value) || value.length !== 7 || value[0] !== JOURNAL_FORMAT) return undefined
  const [, position, last, done, failed, ranges, keys] = value as [number, number, JobKey | null, number, number, number[], JobKey[]]
  if (![position, done, failed].every(Number.isSafeInteger) || !Array.isArray(ranges) || !Array.isArray(keys)) return undefined
  if (ranges.length % 2 !== 0 || !ranges.every(Number.isSafeInteger) || countOf(ranges) !== keys.length) return undefined
  return { position, last, done, failed, ranges, keys }
}

/** The merged entries of every whole record, and where the whole records end. */
function scan(data: Buffer, path: string): { entries: JournalEntries; end: number; size: number } {
  const entries: JournalEntries = { position: 0, last: null, counts: undefined, seqs: [], keys: [] }
  let offset = 0
  while (offset + 4 <= data.length) {
    const length = data.readUInt32LE(offset)
    if (offset + 4 + length > data.length) break
    let value: unknown
    try {
      value = packr.unpack(data.subarray(offset + 4, offset + 4 + length))
    } catch {
      break
    }
    const record = recordOf(value)
    if (record === undefined) {
      // A whole record of another shape is not a torn write: cutting it off would lose it.
      throw new CheckpointError(`Journal '${path}' was not written by this version of Taskmaster (a record of another layout at byte ${offset}); finish the run with the version that started it, or start over with --reset`, path)
    }
    if (record.position >= entries.position) {
      entries.position = record.position
      entries.last = record.last
    }
    if (entries.counts === undefined) entries.counts = { done: record.done, failed: record.failed }
    else entries.counts = { done: Math.max(entries.counts.done, record.done), failed: Math.max(entries.counts.failed, record.failed) }
    // recordOf checked that the ranges hold exactly one seq per key.
    for (const seq of seqsOfRanges(record.ranges)) entries.seqs.push(seq)
    for (const key of record.keys) entries.keys.push(key)
    offset += 4 + length
  }
  return { entries, end: offset, size: data.length }
}

/** What the journal's records say together (see {@link Journal.read}). */
export interface JournalEntries {
  /** The furthest watermark recorded (0 if none): every job before it is finished. */
  position: number
  /** Key of job `position - 1`. */
  last: JobKey | null
  /** The run's counts at the last record, or undefined without records. */
  counts: { done: number; failed: number } | undefined
  /** Jobs recorded as finished beyond a watermark, with their keys. */
  seqs: number[]
  keys: JobKey[]
}
