import { readFileSync, statSync, truncateSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { Packr } from 'msgpackr'
import { afterEach, describe, expect, it } from 'vitest'
import { CheckpointError } from '../../../src/errors.js'
import type { JournalRecord } from '../../../src/master/journal.js'
import { Journal } from '../../../src/master/journal.js'
import { cleanTempDirs, tempDir } from '../../helpers/proc.js'
import { journalRecord, thrownBy, writeJournal } from '../support.js'

afterEach(cleanTempDirs)

/** A journal in a fresh temp dir with `records` appended. */
const journalWith = (records: Partial<JournalRecord>[]): string => writeJournal(join(tempDir(), 'run.journal'), records)

/** What reading a journal with no records gives. */
const EMPTY = { position: 0, last: null, counts: undefined, seqs: [], keys: [] }

describe('Journal', () => {
  it('merges its records: the furthest watermark, the last counts, every job listed beyond a watermark', () => {
    const path = journalWith([
      { position: 2, last: 'b', done: 2, ranges: [4, 2], keys: ['e', 'f'] },
      { position: 3, last: 'c', done: 5, failed: 1, ranges: [], keys: [] },
      { position: 3, last: 'c', done: 7, failed: 1, ranges: [9, 1, 7, 1], keys: [2n ** 64n - 1n, 7] },
    ])
    expect(Journal.read(path)).toEqual({ position: 3, last: 'c', counts: { done: 7, failed: 1 }, seqs: [4, 5, 9, 7], keys: ['e', 'f', 2n ** 64n - 1n, 7] })
  })

  it('writes a record as a 4-byte little-endian length and MessagePack [2, position, last, done, failed, ranges, keys]', () => {
    const path = journalWith([{ position: 5, last: 4, done: 6, failed: 0, ranges: [7, 1], keys: ['k7'] }])
    const data = readFileSync(path)
    expect(data.readUInt32LE(0)).toBe(data.length - 4)
    expect(new Packr({ useRecords: false }).unpack(data.subarray(4))).toEqual([2, 5, 4, 6, 0, [7, 1], ['k7']])
  })

  it('cuts a torn last record off when reopened, so records appended after it are read', () => {
    const path = journalWith([
      { position: 1, last: 'a', done: 1 },
      { position: 3, last: 'c', done: 3 },
    ])
    truncateSync(path, statSync(path).size - 2)
    const journal = new Journal(path)
    journal.append(journalRecord({ position: 1, last: 'a', done: 2, ranges: [5, 1], keys: ['e'] }))
    journal.close()
    expect(Journal.read(path)).toEqual({ position: 1, last: 'a', counts: { done: 2, failed: 0 }, seqs: [5], keys: ['e'] })
  })

  it('ignores a torn last record and keeps the earlier ones', () => {
    const path = journalWith([
      { position: 1, last: 'a', done: 1 },
      { position: 3, last: 'c', done: 3, ranges: [4, 1], keys: ['d'] },
    ])
    const size = statSync(path).size
    for (const cut of [1, 3, 5]) {
      truncateSync(path, size - cut)
      expect(Journal.read(path)).toEqual({ position: 1, last: 'a', counts: { done: 1, failed: 0 }, seqs: [], keys: [] })
    }
  })

  it('stops at a record that is not MessagePack', () => {
    const path = journalWith([{ position: 1, last: 'a', done: 1 }])
    // A whole record whose body is a MessagePack array cut short.
    writeFileSync(path, Buffer.concat([readFileSync(path), Buffer.from([1, 0, 0, 0, 0x92])]))
    expect(Journal.read(path)).toEqual({ position: 1, last: 'a', counts: { done: 1, failed: 0 }, seqs: [], keys: [] })
  })

  it('refuses a whole record of another layout (an older Taskmaster), naming --reset', () => {
    const path = join(tempDir(), 'run.journal')
    const body = new Packr({ useRecords: false }).pack([[0, 1], ['a', 'b']])
    const header = Buffer.alloc(4)
    header.writeUInt32LE(body.length)
    writeFileSync(path, Buffer.concat([header, body]))
    const error = thrownBy(() => Journal.read(path), CheckpointError)
    expect(error.message).toBe(`Journal '${path}' was not written by this version of Taskmaster (a record of another layout at byte 0); finish the run with the version that started it, or start over with --reset`)
    expect(() => new Journal(path)).toThrow(error.message)
    // Nothing was cut off.
    expect(statSync(path).size).toBe(4 + body.length)
  })

  it('refuses a record whose ranges do not match its keys', () => {
    const path = journalWith([{ position: 0, ranges: [3, 2], keys: ['only one'] }])
    expect(() => Journal.read(path)).toThrow('a record of another layout at byte 0')
  })

  it('appends to an existing journal when reopened', () => {
    const path = journalWith([{ position: 1, last: 'a', done: 1 }])
    const journal = new Journal(path)
    journal.append(journalRecord({ position: 2, last: 'b', done: 2 }))
    journal.close()
    expect(Journal.read(path)).toMatchObject({ position: 2, last: 'b', counts: { done: 2, failed: 0 } })
  })

  it('truncate empties it, and later appends start over', () => {
    const path = join(tempDir(), 'run.journal')
    const journal = new Journal(path)
    journal.append(journalRecord({ position: 2, last: 'b', done: 2, ranges: [3, 1], keys: ['d'] }))
    journal.truncate()
    expect(statSync(path).size).toBe(0)
    expect(Journal.read(path)).toEqual(EMPTY)
    journal.append(journalRecord({ position: 1, last: 'a', done: 1 }))
    journal.close()
    expect(Journal.read(path)).toEqual({ position: 1, last: 'a', counts: { done: 1, failed: 0 }, seqs: [], keys: [] })
  })

  it('reads a missing journal as empty', () => {
    expect(Journal.read(join(tempDir(), 'none.journal'))).toEqual(EMPTY)
  })

  it('throws CheckpointError when it cannot be opened or read', () => {
    const dir = tempDir()
    writeFileSync(join(dir, 'file'), '')
    const path = join(dir, 'file', 'run.journal')
    expect(() => new Journal(path)).toThrow(CheckpointError)
    expect(() => new Journal(path)).toThrow(`Cannot open journal '${path}'`)
    expect(() => Journal.read(path)).toThrow(`Cannot read journal '${path}'`)
  })
})
