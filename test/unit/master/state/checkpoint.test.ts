import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { CheckpointError, StateFileError } from '../../../../src/errors.js'
import type { Checkpoint } from '../../../../src/master/state/checkpoint.js'
import {
  CHECKPOINT_FORMAT,
  freshCheckpoint,
  readCheckpoint,
  runIdentity,
  writeCheckpoint,
} from '../../../../src/master/state/checkpoint.js'
import { cleanTempDirs, tempDir } from '../../../helpers/proc.js'
import { checkpoint, thrownBy } from '../../support.js'

afterEach(cleanTempDirs)

const sample: Checkpoint = checkpoint({
  position: 3,
  last: 2n ** 64n,
  finished: [
    [5, 5n],
    [7, 'seven'],
  ],
  counts: { done: 4, failed: 1 },
  elapsed: 1234,
  updatedAt: '2024-01-01T00:00:01.000Z',
})

const sampleText = `{
 "format": 1,
 "key": "run",
 "args": {
  "n": "10"
 },
 "complete": false,
 "position": 3,
 "last": {
  "$bigint": "18446744073709551616"
 },
 "finished": [
  [
   5,
   {
    "$bigint": "5"
   }
  ],
  [
   7,
   "seven"
  ]
 ],
 "counts": {
  "done": 4,
  "failed": 1
 },
 "elapsed": 1234,
 "startedAt": "2024-01-01T00:00:00.000Z",
 "updatedAt": "2024-01-01T00:00:01.000Z"
}
`

/** Runs `fn` and returns the CheckpointError it throws. */
function checkpointError(fn: () => unknown): CheckpointError {
  const error = thrownBy(fn, CheckpointError)
  expect(error.code).toBe('TM_ERR_CHECKPOINT')
  return error
}

function stateFileError(fn: () => unknown): StateFileError {
  const error = thrownBy(fn, StateFileError)
  expect(error.code).toBe('TM_ERR_STATE_FILE')
  return error
}

describe('checkpoint', () => {
  it('is format 1', () => {
    expect(CHECKPOINT_FORMAT).toBe(1)
  })

  it('writes then reads back the same checkpoint, bigint keys included', () => {
    const path = join(tempDir(), 'run.json')
    writeCheckpoint(path, sample)
    const read = readCheckpoint(path)
    expect(read).toEqual(sample)
    expect(typeof read!.last).toBe('bigint')
    expect(typeof read!.finished[0][1]).toBe('bigint')
  })

  it('writes the exact JSON and leaves no temp file', () => {
    const dir = tempDir()
    const path = join(dir, 'run.json')
    writeCheckpoint(path, sample)
    expect(readFileSync(path, 'utf8')).toBe(sampleText)
    expect(readdirSync(dir)).toEqual(['run.json'])
  })

  it('replaces an older checkpoint', () => {
    const path = join(tempDir(), 'run.json')
    writeCheckpoint(path, sample)
    writeCheckpoint(path, { ...sample, position: 9, last: 'nine', finished: [] })
    expect(readCheckpoint(path)).toMatchObject({ position: 9, last: 'nine', finished: [] })
  })

  it('reads a missing file as no checkpoint', () => {
    expect(readCheckpoint(join(tempDir(), 'none.json'))).toBeUndefined()
  })

  it('refuses another format, naming both and suggesting --reset', () => {
    const path = join(tempDir(), 'run.json')
    writeFileSync(path, JSON.stringify({ ...sample, last: 2, finished: [], format: 2 }))
    const error = checkpointError(() => readCheckpoint(path))
    expect(error.message).toBe(
      `Checkpoint '${path}' has format 2, this Taskmaster reads format 1; finish the run with the Taskmaster version that started it, or use --reset to start over`,
    )
    expect(error.path).toBe(path)
    expect(error.exitCode).toBe(2)
  })

  it('refuses invalid JSON', () => {
    const path = join(tempDir(), 'run.json')
    writeFileSync(path, '{"format": 1, "posi')
    expect(checkpointError(() => readCheckpoint(path)).message).toBe(
      `Checkpoint '${path}' is not valid JSON; move it away or use --reset to start over`,
    )
  })

  it('refuses JSON that is not a checkpoint', () => {
    const path = join(tempDir(), 'run.json')
    for (const text of ['null', '[1]', '"x"', '{"position": 1}']) {
      writeFileSync(path, text)
      expect(checkpointError(() => readCheckpoint(path)).message).toBe(
        `'${path}' is not a Taskmaster checkpoint; move it away or use --reset to start over`,
      )
    }
  })

  it('refuses a checkpoint with missing fields', () => {
    const path = join(tempDir(), 'run.json')
    writeFileSync(path, JSON.stringify({ format: 1, position: 1, args: {} }))
    expect(checkpointError(() => readCheckpoint(path)).message).toContain('is damaged (missing fields)')
  })

  it('reports an unreadable path', () => {
    const dir = tempDir()
    expect(checkpointError(() => readCheckpoint(dir)).message).toContain(`Cannot read checkpoint '${dir}'`)
  })

  it('a failed write throws and leaves the previous checkpoint intact', () => {
    const dir = tempDir()
    const path = join(dir, 'run.json')
    writeCheckpoint(path, sample)
    // Make the temp file impossible to create: a directory stands in its place.
    mkdirSync(`${path}.tmp`)
    const error = stateFileError(() => writeCheckpoint(path, { ...sample, position: 100 }))
    expect(error.message.startsWith(`Cannot write checkpoint '${path}': EISDIR`)).toBe(true)
    expect(error.message.endsWith('; the previous checkpoint is intact')).toBe(true)
    expect(error.exitCode).toBe(1)
    expect(readFileSync(path, 'utf8')).toBe(sampleText)
  })

  it('a write into a missing directory throws a StateFileError', () => {
    const dir = tempDir()
    const path = join(dir, 'missing', 'run.json')
    expect(stateFileError(() => writeCheckpoint(path, sample)).message).toContain('ENOENT')
    // Nothing was there: the message does not claim a previous checkpoint is intact.
    expect(stateFileError(() => writeCheckpoint(path, sample)).message).toMatch(
      new RegExp(`^Cannot write checkpoint '[^']+': ENOENT: .*; there is no previous checkpoint$`),
    )
    expect(existsSync(join(dir, 'missing'))).toBe(false)
  })

  it('a write under a regular file (ENOTDIR) throws a StateFileError', () => {
    const dir = tempDir()
    writeFileSync(join(dir, 'file'), 'x')
    expect(stateFileError(() => writeCheckpoint(join(dir, 'file', 'run.json'), sample)).message).toContain('ENOTDIR')
  })
})

describe('readCheckpoint validates every field', () => {
  /** The message readCheckpoint gives for the sample with `fields` replaced (JSON as written, bigints encoded). */
  function damaged(fields: Record<string, unknown>): string {
    const path = join(tempDir(), 'run.json')
    writeFileSync(path, JSON.stringify({ ...JSON.parse(sampleText), ...fields }))
    const error = checkpointError(() => readCheckpoint(path))
    expect(error.exitCode).toBe(2)
    expect(error.path).toBe(path)
    expect(error.message.startsWith(`Checkpoint '${path}' is damaged (`)).toBe(true)
    expect(error.message.endsWith('; move it away or use --reset to start over')).toBe(true)
    return error.message.slice(`Checkpoint '${path}' is damaged `.length, -'; move it away or use --reset to start over'.length)
  }

  it('names the fields that are missing', () => {
    expect(damaged({ counts: undefined, elapsed: undefined })).toBe('(missing fields): it has no counts, elapsed')
  })

  it('refuses a key that is not a string', () => {
    expect(damaged({ key: 5 })).toBe('(key: 5 is not a string)')
  })

  it('refuses args that are not an object of strings', () => {
    expect(damaged({ args: null })).toBe('(args: null is not an object of name=value strings)')
    expect(damaged({ args: ['a'] })).toBe('(args: an array is not an object of name=value strings)')
    expect(damaged({ args: 'n=1' })).toBe('(args: a string is not an object of name=value strings)')
    expect(damaged({ args: { n: 10 } })).toBe('(args: "n" is a number, not a string)')
    expect(damaged({ args: { db: 'postgres://u:pw-in-clear@h/x', apiToken: 'abc', n: null } })).toBe('(args: "n" is null, not a string)')
  })

  it('refuses complete that is not a boolean', () => {
    expect(damaged({ complete: 'yes' })).toBe('(complete: "yes" is not true or false)')
  })

  it('refuses a position that is not a whole number >= 0', () => {
    expect(damaged({ position: 1000.5 })).toBe('(position: 1000.5 is not a whole number >= 0)')
    expect(damaged({ position: -1 })).toBe('(position: -1 is not a whole number >= 0)')
    expect(damaged({ position: '3' })).toBe('(position: "3" is not a whole number >= 0)')
    expect(damaged({ position: 2 ** 53 })).toBe('(position: 9007199254740992 is not a whole number >= 0)')
  })

  it('refuses a last that is not a key, or null exactly when position is 0', () => {
    expect(damaged({ last: { id: 1 } })).toBe('(last: {"id":1} is not a job key (number, string, bigint))')
    expect(damaged({ last: [1] })).toBe('(last: [1] is not a job key (number, string, bigint))')
    expect(damaged({ last: true })).toBe('(last: true is not a job key (number, string, bigint))')
    expect(damaged({ last: null })).toBe('(last: null but position is 3)')
    expect(damaged({ position: 0, last: 'x', finished: [] })).toBe('(last: "x" but position is 0)')
  })

  it('refuses finished entries that are not [seq >= position, key] pairs', () => {
    expect(damaged({ finished: null })).toBe('(finished: null is not an array of [seq, key] pairs)')
    expect(damaged({ finished: [[5, 'a'], 7] })).toBe('(finished[1]: 7 is not a [seq, key] pair)')
    expect(damaged({ finished: [[5, 'a', 1]] })).toBe('(finished[0]: [5,"a",1] is not a [seq, key] pair)')
    expect(damaged({ finished: [[2, 'a']] })).toBe('(finished[0]: seq 2 is not a whole number >= position 3)')
    expect(damaged({ finished: [[4.5, 'a']] })).toBe('(finished[0]: seq 4.5 is not a whole number >= position 3)')
    expect(damaged({ finished: [[4, { k: 1 }]] })).toBe('(finished[0]: key {"k":1} is not a job key (number, string, bigint))')
    expect(damaged({ finished: [[4, null]] })).toBe('(finished[0]: key null is not a job key (number, string, bigint))')
  })

  it('refuses counts that are not {done, failed} whole numbers >= 0', () => {
    expect(damaged({ counts: null })).toBe('(counts: null is not {done, failed} whole numbers >= 0)')
    expect(damaged({ counts: { done: 1 } })).toBe('(counts: {"done":1} is not {done, failed} whole numbers >= 0)')
    expect(damaged({ counts: { done: -1, failed: 0 } })).toBe('(counts: {"done":-1,"failed":0} is not {done, failed} whole numbers >= 0)')
    expect(damaged({ counts: { done: 1.5, failed: 0 } })).toBe('(counts: {"done":1.5,"failed":0} is not {done, failed} whole numbers >= 0)')
  })

  it('refuses an elapsed time that is not a number >= 0', () => {
    expect(damaged({ elapsed: -5 })).toBe('(elapsed: -5 is not a number of milliseconds >= 0)')
    expect(damaged({ elapsed: '5' })).toBe('(elapsed: "5" is not a number of milliseconds >= 0)')
  })

  it('refuses an id that is not 16 hex digits (a checkpoint without one, of an earlier version, is read)', () => {
    expect(damaged({ id: 'abc' })).toBe('(id: "abc" is not 16 hex digits)')
    expect(damaged({ id: 12 })).toBe('(id: 12 is not 16 hex digits)')
    expect(damaged({ id: '0123456789ABCDEF' })).toBe('(id: "0123456789ABCDEF" is not 16 hex digits)')
  })

  it('refuses startedAt and updatedAt that are not strings', () => {
    expect(damaged({ startedAt: 0 })).toBe('(startedAt: 0 is not a string)')
    expect(damaged({ updatedAt: null })).toBe('(updatedAt: null is not a string)')
  })

  it('reads the total, its estimate mark and the env: arguments back, and refuses them damaged', () => {
    const path = join(tempDir(), 'run.json')
    const full = checkpoint({ total: 500, totalEstimated: true, env: { db: 'DATABASE_URL' } })
    writeCheckpoint(path, full)
    expect(readCheckpoint(path)).toEqual(full)
    expect(damaged({ total: -1 })).toBe('(total: -1 is not a whole number >= 0)')
    expect(damaged({ total: '5' })).toBe('(total: "5" is not a whole number >= 0)')
    expect(damaged({ totalEstimated: false })).toBe('(totalEstimated: false is not true)')
    expect(damaged({ env: ['db'] })).toBe('(env: ["db"] is not an object of argument names and variable names)')
    expect(damaged({ env: { db: 1 } })).toBe('(env: {"db":1} is not an object of argument names and variable names)')
  })

  it('accepts position 0 with last null, and keys of every kind', () => {
    const path = join(tempDir(), 'run.json')
    writeCheckpoint(
      path,
      checkpoint({
        position: 0,
        last: null,
        finished: [
          [0, 1.5],
          [2, 'b'],
          [9, 3n],
        ],
      }),
    )
    expect(readCheckpoint(path)).toMatchObject({
      position: 0,
      last: null,
      finished: [
        [0, 1.5],
        [2, 'b'],
        [9, 3n],
      ],
    })
  })
})

describe("a run's identity", () => {
  it('is made fresh with each new run, 16 hex digits, and written and read back with the checkpoint', () => {
    const a = freshCheckpoint('run', {})
    const b = freshCheckpoint('run', {})
    expect(a.id).toMatch(/^[0-9a-f]{16}$/)
    expect(b.id).not.toBe(a.id)
    const path = join(tempDir(), 'run.json')
    writeCheckpoint(path, a)
    expect(readCheckpoint(path)?.id).toBe(a.id)
    expect(runIdentity(a)).toBe(a.id)
  })

  it('of a checkpoint without one (an earlier version) is derived from its key and start: the same at each resume, another for another run', () => {
    const old = { key: 'run', startedAt: '2024-01-01T00:00:00.000Z' }
    expect(runIdentity(old)).toMatch(/^[0-9a-f]{16}$/)
    expect(runIdentity({ ...old })).toBe(runIdentity(old))
    expect(runIdentity({ ...old, startedAt: '2024-01-01T00:00:00.001Z' })).not.toBe(runIdentity(old))
    expect(runIdentity({ ...old, key: 'other' })).not.toBe(runIdentity(old))
  })
})
