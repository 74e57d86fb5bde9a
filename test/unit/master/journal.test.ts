import { readFileSync, statSync, truncateSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { CheckpointError } from '../../../src/errors.js'
import { Journal } from '../../../src/master/journal.js'
import type { JobKey } from '../../../src/options.js'
import { cleanTempDirs, tempDir } from '../../helpers/proc.js'
import { writeJournal } from '../support.js'

afterEach(cleanTempDirs)

/** A journal in a fresh temp dir with `batches` appended. */
function journalWith(batches: [number[], JobKey[]][]): string {
  return writeJournal(join(tempDir(), 'run.journal'), batches)
}

describe('Journal', () => {
  it('reads back every appended batch in order, key types kept', () => {
    const path = journalWith([
      [[0, 1], ['a', 'b']],
      [[], []],
      [[5], [2n ** 64n - 1n]],
      [[3], [3]],
    ])
    expect(Journal.read(path)).toEqual({ seqs: [0, 1, 5, 3], keys: ['a', 'b', 2n ** 64n - 1n, 3], failed: [false, false, false, false] })
  })

  it('marks the jobs of a record appended as failed', () => {
    const path = join(tempDir(), 'run.journal')
    const journal = new Journal(path)
    journal.append([0, 1], ['a', 'b'])
    journal.append([2], ['c'], true)
    journal.close()
    expect(Journal.read(path)).toEqual({ seqs: [0, 1, 2], keys: ['a', 'b', 'c'], failed: [false, false, true] })
  })

  it('frames each record with a 4-byte little-endian length', () => {
    const path = journalWith([[[1], ['x']]])
    const data = readFileSync(path)
    expect(data.readUInt32LE(0)).toBe(data.length - 4)
  })

  it('cuts a torn last record off when reopened, so records appended after it are read', () => {
    const path = journalWith([
      [[0], ['a']],
      [[1, 2], ['b', 'c']],
    ])
    truncateSync(path, statSync(path).size - 2)
    const journal = new Journal(path)
    journal.append([5], ['e'])
    journal.close()
    expect(Journal.read(path)).toEqual({ seqs: [0, 5], keys: ['a', 'e'], failed: [false, false] })
  })

  it('ignores a torn last record and keeps the earlier ones', () => {
    const path = journalWith([
      [[0], ['a']],
      [[1, 2], ['b', 'c']],
    ])
    const size = statSync(path).size
    for (const cut of [1, 3, 5]) {
      truncateSync(path, size - cut)
      expect(Journal.read(path)).toEqual({ seqs: [0], keys: ['a'], failed: [false] })
    }
  })

  it('stops at a record that is not MessagePack', () => {
    const path = journalWith([[[0], ['a']]])
    // A whole record whose body is a MessagePack array cut short.
    writeFileSync(path, Buffer.concat([readFileSync(path), Buffer.from([1, 0, 0, 0, 0x92])]))
    expect(Journal.read(path)).toEqual({ seqs: [0], keys: ['a'], failed: [false] })
  })

  it('appends to an existing journal when reopened', () => {
    const path = journalWith([[[0], ['a']]])
    const journal = new Journal(path)
    journal.append([1], ['b'])
    journal.close()
    expect(Journal.read(path)).toEqual({ seqs: [0, 1], keys: ['a', 'b'], failed: [false, false] })
  })

  it('truncate empties it, and later appends start over', () => {
    const path = join(tempDir(), 'run.journal')
    const journal = new Journal(path)
    journal.append([0, 1], ['a', 'b'])
    journal.truncate()
    expect(statSync(path).size).toBe(0)
    expect(Journal.read(path)).toEqual({ seqs: [], keys: [], failed: [] })
    journal.append([2], ['c'])
    journal.close()
    expect(Journal.read(path)).toEqual({ seqs: [2], keys: ['c'], failed: [false] })
  })

  it('reads a missing journal as empty', () => {
    expect(Journal.read(join(tempDir(), 'none.journal'))).toEqual({ seqs: [], keys: [], failed: [] })
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
