import { closeSync, ftruncateSync, openSync, readFileSync } from 'node:fs'
import { Packr } from 'msgpackr'
import { CheckpointError } from '../errors.js'
import type { JobKey } from '../options.js'
import { writeAllSync } from './write-all.js'

const packr = new Packr({ useRecords: false })

/**
 * Completions since the last checkpoint, appended as each batch of acks arrives: one
 * write per batch, no fsync (a killed master loses nothing the kernel already has).
 * Each record is a 4-byte little-endian length and a MessagePack `[seqs, keys]`, or
 * `[seqs, keys, true]` for jobs that finished as failed.
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
      const { end, size } = scan(readIfExists(path))
      if (end < size) ftruncateSync(this.#fd, end)
    } catch (error) {
      throw new CheckpointError(`Cannot open journal '${path}': ${(error as Error).message}`, path)
    }
  }

  /** Appends one batch of finished jobs (`failed`: they are in the failed-jobs log). */
  append(seqs: readonly number[], keys: readonly JobKey[], failed = false): void {
    const body = packr.pack(failed ? [seqs, keys, true] : [seqs, keys])
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
   * Reads every whole record of a journal file; a torn last record (a crash in the
   * middle of a write) is left out. Missing file: nothing.
   */
  static read(path: string): JournalEntries {
    let data: Buffer
    try {
      data = readIfExists(path)
    } catch (error) {
      throw new CheckpointError(`Cannot read journal '${path}': ${(error as Error).message}`, path)
    }
    return scan(data).entries
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

/** The entries of every whole record, and where the whole records end. */
function scan(data: Buffer): { entries: JournalEntries; end: number; size: number } {
  const entries: JournalEntries = { seqs: [], keys: [], failed: [] }
  let offset = 0
  while (offset + 4 <= data.length) {
    const length = data.readUInt32LE(offset)
    if (offset + 4 + length > data.length) break
    let record: unknown
    try {
      record = packr.unpack(data.subarray(offset + 4, offset + 4 + length))
    } catch {
      break
    }
    if (!Array.isArray(record) || !Array.isArray(record[0]) || !Array.isArray(record[1])) break
    const [s, k, f] = record as [number[], JobKey[], boolean?]
    for (let i = 0; i < s.length; i++) {
      entries.seqs.push(s[i]!)
      entries.keys.push(k[i]!)
      entries.failed.push(f === true)
    }
    offset += 4 + length
  }
  return { entries, end: offset, size: data.length }
}

/** The finished jobs of a journal, as parallel arrays. */
export interface JournalEntries {
  seqs: number[]
  keys: JobKey[]
  /** True where the job finished as failed. */
  failed: boolean[]
}
