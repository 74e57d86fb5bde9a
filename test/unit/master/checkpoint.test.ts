import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { CheckpointError } from '../../../src/errors.js'
import type { Checkpoint } from '../../../src/master/checkpoint.js'
import { CHECKPOINT_FORMAT, readCheckpoint, writeCheckpoint } from '../../../src/master/checkpoint.js'
import { cleanTempDirs, tempDir } from '../../helpers/proc.js'
import { checkpoint, thrownBy } from '../support.js'

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
    expect(typeof read!.finished[0]![1]).toBe('bigint')
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
    expect(checkpointError(() => readCheckpoint(path)).message).toBe(`Checkpoint '${path}' is not valid JSON; move it away or use --reset to start over`)
  })

  it('refuses JSON that is not a checkpoint', () => {
    const path = join(tempDir(), 'run.json')
    for (const text of ['null', '[1]', '"x"', '{"position": 1}']) {
      writeFileSync(path, text)
      expect(checkpointError(() => readCheckpoint(path)).message).toBe(`'${path}' is not a Taskmaster checkpoint; move it away or use --reset to start over`)
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
    const error = checkpointError(() => writeCheckpoint(path, { ...sample, position: 100 }))
    expect(error.message.startsWith(`Cannot write checkpoint '${path}': EISDIR`)).toBe(true)
    expect(error.message.endsWith('; the previous checkpoint is intact')).toBe(true)
    expect(error.exitCode).toBe(1)
    expect(readFileSync(path, 'utf8')).toBe(sampleText)
  })

  it('a write into a missing directory throws a CheckpointError', () => {
    const dir = tempDir()
    const path = join(dir, 'missing', 'run.json')
    expect(checkpointError(() => writeCheckpoint(path, sample)).message).toContain('ENOENT')
    expect(existsSync(join(dir, 'missing'))).toBe(false)
  })

  it('a write under a regular file (ENOTDIR) throws a CheckpointError', () => {
    const dir = tempDir()
    writeFileSync(join(dir, 'file'), 'x')
    expect(checkpointError(() => writeCheckpoint(join(dir, 'file', 'run.json'), sample)).message).toContain('ENOTDIR')
  })
})
