import { readFileSync, statSync, truncateSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { Packr } from 'msgpackr'
import { afterEach, describe, expect, it } from 'vitest'
import { CheckpointError } from '../../../../../src/errors.js'
import { crc32 } from '../../../../../src/master/state/file/crc32.js'
import type { JournalRecord } from '../../../../../src/master/state/file/journal.js'
import { JOURNAL_FORMAT, Journal } from '../../../../../src/master/state/file/journal.js'
import { cleanTempDirs, tempDir } from '../../../../helpers/proc.js'
import { journalRecord, thrownBy, writeJournal } from '../../../support.js'

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
    expect(Journal.read(path)).toEqual({
      position: 3,
      last: 'c',
      counts: { done: 7, failed: 1 },
      seqs: [4, 5, 9, 7],
      keys: ['e', 'f', 2n ** 64n - 1n, 7],
    })
  })

  it('writes a record as a 4-byte little-endian length, the CRC-32 of the body, and MessagePack [3, position, last, done, failed, ranges, keys]', () => {
    expect(JOURNAL_FORMAT).toBe(3)
    const path = journalWith([{ position: 5, last: 4, done: 6, failed: 0, ranges: [7, 1], keys: ['k7'] }])
    const data = readFileSync(path)
    expect(data.readUInt32LE(0)).toBe(data.length - 8)
    expect(data.readUInt32LE(4)).toBe(crc32(data.subarray(8)))
    expect(new Packr({ useRecords: false }).unpack(data.subarray(8))).toEqual([3, 5, 4, 6, 0, [7, 1], ['k7']])
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

  it('cuts off quietly a last record whose checksum fails (a torn write the kernel filled in)', () => {
    const path = journalWith([
      { position: 1, last: 'a', done: 1 },
      { position: 3, last: 'c', done: 3 },
    ])
    const data = readFileSync(path)
    data[data.length - 1] ^= 0xff
    writeFileSync(path, data)
    expect(Journal.read(path)).toEqual({ position: 1, last: 'a', counts: { done: 1, failed: 0 }, seqs: [], keys: [] })
    new Journal(path).close()
    expect(statSync(path).size).toBe(data.length / 2)
  })

  it('refuses a record whose checksum fails when more follows it, naming the file, the byte and the ways out', () => {
    const path = journalWith([
      { position: 1, last: 'a', done: 1 },
      { position: 3, last: 'c', done: 3 },
      { position: 5, last: 'e', done: 5 },
    ])
    const data = readFileSync(path)
    const second = data.length / 3
    data[second + 9] ^= 0x01
    writeFileSync(path, data)
    const error = thrownBy(() => Journal.read(path), CheckpointError)
    expect(error.message).toBe(
      `Journal '${path}' is damaged at byte ${second} (checksum mismatch): what it records from there on is unknown. ` +
        'Start over with --reset, or resume without it with --accept-journal-loss (those jobs run again)',
    )
    expect(error.exitCode).toBe(2)
    expect(error.path).toBe(path)
    expect(() => new Journal(path)).toThrow(error.message)
    // Nothing was cut off.
    expect(readFileSync(path)).toEqual(data)
  })

  it('refuses a damaged first record: the resume point never falls back silently', () => {
    const path = journalWith([
      { position: 10, last: 9, done: 10 },
      { position: 20, last: 19, done: 20 },
    ])
    const data = readFileSync(path)
    data[8] ^= 0x40
    writeFileSync(path, data)
    expect(() => Journal.read(path)).toThrow(`Journal '${path}' is damaged at byte 0 (checksum mismatch)`)
  })

  /** A record with a right checksum over `body`. */
  function framed(body: Buffer): Buffer {
    const header = Buffer.alloc(8)
    header.writeUInt32LE(body.length, 0)
    header.writeUInt32LE(crc32(body), 4)
    return Buffer.concat([header, body])
  }

  it('refuses a record whose checksum is right but that is not MessagePack, or not a record', () => {
    const path = journalWith([{ position: 1, last: 'a', done: 1 }])
    const first = readFileSync(path)
    writeFileSync(path, Buffer.concat([first, framed(Buffer.from([0x92]))]))
    expect(() => Journal.read(path)).toThrow(`Journal '${path}' is damaged at byte ${first.length} (a record that is not MessagePack)`)
    writeFileSync(path, Buffer.concat([first, framed(new Packr({ useRecords: false }).pack([3, 1.5, 'a', 1, 0, [], []]))]))
    expect(() => Journal.read(path)).toThrow(`Journal '${path}' is damaged at byte ${first.length} (not a journal record)`)
    writeFileSync(path, Buffer.concat([first, framed(new Packr({ useRecords: false }).pack([3, 1, { id: 0 }, 1, 0, [], []]))]))
    expect(() => Journal.read(path)).toThrow(`Journal '${path}' is damaged at byte ${first.length} (not a journal record)`)
  })

  it('with acceptLoss, cuts a damaged journal at the first bad record and says so', () => {
    const path = journalWith([
      { position: 1, last: 'a', done: 1, ranges: [3, 1], keys: ['c'] },
      { position: 90, last: 89, done: 90 },
      { position: 5, last: 'e', done: 5 },
    ])
    const data = readFileSync(path)
    const second = data.readUInt32LE(0) + 8
    data[second + 8] ^= 0x01
    writeFileSync(path, data)
    const journal = new Journal(path, { acceptLoss: true })
    expect(journal.dropped).toBe(
      `Journal '${path}' is damaged at byte ${second} (checksum mismatch); --accept-journal-loss: the ${data.length - second} bytes from there on are dropped, and the jobs they recorded run again`,
    )
    journal.append(journalRecord({ position: 2, last: 'b', done: 2 }))
    journal.close()
    expect(Journal.read(path)).toEqual({ position: 2, last: 'b', counts: { done: 2, failed: 0 }, seqs: [3], keys: ['c'] })
    const again = new Journal(path, { acceptLoss: true })
    expect(again.dropped).toBeUndefined()
    again.close()
  })

  it('refuses a whole record of another layout (an older Taskmaster), naming --reset', () => {
    const path = join(tempDir(), 'run.journal')
    const body = new Packr({ useRecords: false }).pack([
      [0, 1],
      ['a', 'b'],
    ])
    const header = Buffer.alloc(4)
    header.writeUInt32LE(body.length)
    writeFileSync(path, Buffer.concat([header, body]))
    const error = thrownBy(() => Journal.read(path), CheckpointError)
    expect(error.message).toBe(
      `Journal '${path}' was not written by this version of Taskmaster (a record of another layout at byte 0); finish the run with the version that started it, or start over with --reset`,
    )
    expect(() => new Journal(path)).toThrow(error.message)
    // Nothing was cut off.
    expect(statSync(path).size).toBe(4 + body.length)
  })

  it('refuses a journal of the previous layout (format 2, no checksum), even one with a single record', () => {
    const path = join(tempDir(), 'run.journal')
    const records = [
      [2, 5, 4, 6, 0, [7, 1], ['k7']],
      [2, 8, 7, 9, 0, [], []],
    ].map((record) => {
      const body = new Packr({ useRecords: false }).pack(record)
      const header = Buffer.alloc(4)
      header.writeUInt32LE(body.length)
      return Buffer.concat([header, body])
    })
    for (const data of [records[0], Buffer.concat(records)]) {
      writeFileSync(path, data)
      expect(() => Journal.read(path)).toThrow(
        `Journal '${path}' was not written by this version of Taskmaster (a record of another layout at byte 0)`,
      )
      expect(() => new Journal(path)).toThrow('a record of another layout at byte 0')
      expect(statSync(path).size).toBe(data.length)
    }
  })

  it('refuses a checksummed record of another format number', () => {
    const path = join(tempDir(), 'run.journal')
    writeFileSync(path, framed(new Packr({ useRecords: false }).pack([4, 5, 4, 6, 0, [], []])))
    expect(() => Journal.read(path)).toThrow('a record of another layout at byte 0')
  })

  it('refuses a record whose ranges do not match its keys', () => {
    const path = journalWith([{ position: 0, ranges: [3, 2], keys: ['only one'] }])
    expect(() => Journal.read(path)).toThrow(`Journal '${path}' is damaged at byte 0 (not a journal record)`)
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
