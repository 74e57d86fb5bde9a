import { closeSync, ftruncateSync, openSync, readFileSync } from 'node:fs'
import { Packr } from 'msgpackr'
import { CheckpointError, StateFileError } from '../../../errors.js'
import type { JobKey } from '../../../options.js'
import { countOf, seqsOfRanges } from '../../../protocol/ranges.js'
import { crc32 } from './crc32.js'
import { writeAllSync } from '../write-all.js'
import type { JournalEntries, JournalRecord } from '../state-store.js'

export type { JournalEntries, JournalRecord } from '../state-store.js'

const packr = new Packr({ useRecords: false })

/** Marks the records of this layout; a journal left by another layout is refused. */
export const JOURNAL_FORMAT = 3

/** Bytes before a record's body: its length and its CRC-32, both 32-bit little-endian. */
const HEADER = 8

/** How the journal is opened. */
export interface JournalOptions {
  /**
   * A damaged record (not a torn last one) is cut off with everything after it, and
   * {@link Journal.dropped} says so, instead of refusing the journal. @default false
   */
  acceptLoss?: boolean
}

/**
 * Completions since the last checkpoint, appended as each turn of acks arrives: one
 * write per record, no fsync (a killed master loses nothing the kernel already has).
 * A record states the watermark, so jobs finished in order (nearly all) cost nothing
 * in it; only those finished beyond the watermark are listed, as seq ranges and keys.
 * Each record is a 4-byte little-endian length, the 4-byte little-endian CRC-32 of the
 * body, and the body: MessagePack `[3, position, last, done, failed, ranges, keys]`.
 * The next checkpoint folds the records in and the journal is truncated.
 *
 * Only the last record can be torn by a crash (appends are single writes at the end):
 * a torn last record is cut off quietly. A bad record anywhere else is damage, and
 * dropping what follows it could move the resume point back or forward without a word,
 * so it is refused unless `acceptLoss` is given.
 */
export class Journal {
  readonly path: string
  /** The warning to show when `acceptLoss` cut a damaged journal; undefined if nothing was dropped. */
  readonly dropped: string | undefined
  #fd: number

  constructor(path: string, options: JournalOptions = {}) {
    this.path = path
    try {
      this.#fd = openSync(path, 'a')
      // A torn last record (a crash mid-write) is cut off, or records appended after it
      // would never be read.
      const { end, size, damage } = scan(readIfExists(path), path, options.acceptLoss === true)
      if (damage !== undefined) {
        this.dropped = `Journal '${path}' is damaged at byte ${damage.offset} (${damage.reason}); --accept-journal-loss: the ${size - damage.offset} bytes from there on are dropped, and the jobs they recorded run again`
      }
      if (end < size) ftruncateSync(this.#fd, end)
    } catch (error) {
      // A journal of another layout, or damaged, says so itself.
      if (error instanceof CheckpointError) throw error
      throw new CheckpointError(`Cannot open journal '${path}': ${(error as Error).message}`, path)
    }
  }

  /** Appends one record. */
  append(record: JournalRecord): void {
    const body = packr.pack([JOURNAL_FORMAT, record.position, record.last, record.done, record.failed, record.ranges, record.keys])
    const header = Buffer.allocUnsafe(HEADER)
    header.writeUInt32LE(body.length, 0)
    header.writeUInt32LE(crc32(body), 4)
    try {
      writeAllSync(this.#fd, Buffer.concat([header, body], HEADER + body.length))
    } catch (error) {
      throw new StateFileError(`Cannot append to journal '${this.path}': ${(error as Error).message}`, this.path)
    }
  }

  /** Empties the journal (after a checkpoint that holds everything in it). */
  truncate(): void {
    try {
      ftruncateSync(this.#fd, 0)
    } catch (error) {
      throw new StateFileError(`Cannot truncate journal '${this.path}': ${(error as Error).message}`, this.path)
    }
  }

  /** The file descriptor, for the run store to check the file is still linked. */
  get fd(): number {
    return this.#fd
  }

  /** Closes the file (the journal stays on disk). */
  close(): void {
    closeSync(this.#fd)
  }

  /**
   * Reads every whole record of a journal file, merged: the furthest watermark, the
   * highest counts, and every job listed beyond a watermark (the caller drops those
   * below its final position). A torn last record (a crash in the middle of a write)
   * is left out; a damaged record elsewhere is a CheckpointError. Missing file: an empty
   * journal (position 0, no counts).
   */
  static read(path: string): JournalEntries {
    let data: Buffer
    try {
      data = readIfExists(path)
    } catch (error) {
      throw new CheckpointError(`Cannot read journal '${path}': ${(error as Error).message}`, path)
    }
    return scan(data, path, false).entries
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

const isJobKey = (value: unknown): value is JobKey =>
  (typeof value === 'number' && Number.isFinite(value)) || typeof value === 'string' || typeof value === 'bigint'
const isWhole = (value: unknown): value is number => Number.isSafeInteger(value) && (value as number) >= 0

/** A decoded record body in this layout, or undefined if it is not one. */
function recordOf(value: unknown[]): JournalRecord | undefined {
  if (value.length !== 7) return undefined
  const [, position, last, done, failed, ranges, keys] = value as [number, number, JobKey | null, number, number, number[], JobKey[]]
  if (![position, done, failed].every(isWhole) || !Array.isArray(ranges) || !Array.isArray(keys)) return undefined
  if (last === null ? position !== 0 : !isJobKey(last) || position === 0) return undefined
  if (ranges.length % 2 !== 0 || !ranges.every(isWhole) || countOf(ranges) !== keys.length || !keys.every(isJobKey)) return undefined
  return { position, last, done, failed, ranges, keys }
}

/** Where and why a journal is damaged. */
interface Damage {
  offset: number
  reason: string
}

function anotherLayout(path: string, offset: number): CheckpointError {
  return new CheckpointError(
    `Journal '${path}' was not written by this version of Taskmaster (a record of another layout at byte ${offset}); finish the run with the version that started it, or start over with --reset`,
    path,
  )
}

/**
 * True if the journal starts with a record of a layout before checksums (a 4-byte
 * length, then MessagePack `[2, position, ...]` or `[ranges, keys]`): such a journal must
 * be refused, not cut off as torn. Only the first record is looked at: a journal is
 * written by one version, and a torn record of this layout is not mistaken for one.
 */
function isUnchecksummedJournal(data: Buffer, offset: number): boolean {
  if (offset !== 0 || data.length < 4) return false
  const length = data.readUInt32LE(0)
  if (length === 0 || 4 + length > data.length) return false
  let value: unknown
  try {
    value = packr.unpack(data.subarray(4, 4 + length))
  } catch {
    return false
  }
  if (!Array.isArray(value)) return false
  return (value.length === 7 && value[0] === 2) || (value.length === 2 && Array.isArray(value[0]) && Array.isArray(value[1]))
}

/**
 * The merged entries of every whole record, and where the whole records end. A damaged
 * record throws, or with `acceptLoss` ends the scan there and is reported as `damage`.
 */
function scan(data: Buffer, path: string, acceptLoss: boolean): { entries: JournalEntries; end: number; size: number; damage?: Damage } {
  const entries: JournalEntries = { position: 0, last: null, counts: undefined, seqs: [], keys: [] }
  let offset = 0
  let damage: Damage | undefined
  while (offset < data.length) {
    // What a crash mid-append leaves: a header cut short, a body cut short, or (the file
    // grown but its bytes never written) a body that fails its checksum with nothing after it.
    let torn = offset + HEADER > data.length
    const length = torn ? 0 : data.readUInt32LE(offset)
    const next = offset + HEADER + length
    torn ||= next > data.length
    const body = torn ? undefined : data.subarray(offset + HEADER, next)
    const checksumOk = body !== undefined && crc32(body) === data.readUInt32LE(offset + 4)
    if (!checksumOk) {
      if (isUnchecksummedJournal(data, offset)) throw anotherLayout(path, offset)
      if (torn || next === data.length) break
      damage = { offset, reason: 'checksum mismatch' }
      break
    }
    let value: unknown
    try {
      value = packr.unpack(body)
    } catch {
      damage = { offset, reason: 'a record that is not MessagePack' }
      break
    }
    if (Array.isArray(value) && typeof value[0] === 'number' && value[0] !== JOURNAL_FORMAT) throw anotherLayout(path, offset)
    const record = Array.isArray(value) ? recordOf(value) : undefined
    if (record === undefined) {
      damage = { offset, reason: 'not a journal record' }
      break
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
    offset = next
  }
  if (damage !== undefined && !acceptLoss) {
    throw new CheckpointError(
      `Journal '${path}' is damaged at byte ${damage.offset} (${damage.reason}): what it records from there on is unknown. ` +
        'Start over with --reset, or resume without it with --accept-journal-loss (those jobs run again)',
      path,
    )
  }
  return damage === undefined ? { entries, end: offset, size: data.length } : { entries, end: offset, size: data.length, damage }
}
