import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { hostname } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { CheckpointError, LockError } from '../../../src/errors.js'
import type { JobKey } from '../../../src/options.js'
import type { Checkpoint } from '../../../src/master/checkpoint.js'
import { writeCheckpoint } from '../../../src/master/checkpoint.js'
import { Journal } from '../../../src/master/journal.js'
import { RunStore, runPaths } from '../../../src/master/run-store.js'
import { cleanTempDirs, tempDir } from '../../helpers/proc.js'
import { checkpoint, deadPid, thrownBy, writeJournal } from '../support.js'

const stores: RunStore[] = []
afterEach(() => {
  for (const store of stores.splice(0)) store.close()
  cleanTempDirs()
})

function open(dir: string, key = 'run', options: { reset?: boolean } = {}): RunStore {
  const store = new RunStore(dir, key, options)
  stores.push(store)
  return store
}

/** A state dir holding `cp` as run 'run' and, optionally, journal records. */
function stateWith(cp: Checkpoint, journal?: [number[], JobKey[]]): string {
  const dir = tempDir()
  const paths = runPaths(dir, 'run')
  writeCheckpoint(paths.checkpoint, cp)
  if (journal) writeJournal(paths.journal, [journal])
  return dir
}

describe('runPaths', () => {
  it('puts every file of a run next to each other', () => {
    expect(runPaths('/state', 'job')).toEqual({ checkpoint: '/state/job.json', journal: '/state/job.journal', failed: '/state/job.failed.jsonl', lock: '/state/job.lock' })
  })
})

describe('RunStore', () => {
  it('creates the state dir and starts fresh without a checkpoint', () => {
    const dir = join(tempDir(), 'deep', 'state')
    const store = open(dir)
    expect(existsSync(store.paths.lock)).toBe(true)
    expect(store.previous).toBeUndefined()
    const resume = store.resumePoint()
    expect(resume).toMatchObject({ position: 0, last: null, counts: { done: 0, failed: 0 }, elapsed: 0 })
    expect(resume.skip.size).toBe(0)
    expect(Number.isNaN(Date.parse(resume.startedAt))).toBe(false)
  })

  it('resumePoint merges the checkpoint and the journal, ignoring journal entries below the position', () => {
    const cp = checkpoint({ position: 10, last: 9, finished: [[12, 'k12'], [15, 15n]], counts: { done: 12, failed: 1 }, elapsed: 5000, startedAt: 'then' })
    const store = open(stateWith(cp, [[8, 13, 20], ['k8', 'k13', 'k20']]))
    const resume = store.resumePoint()
    expect(resume).toMatchObject({ position: 10, last: 9, counts: { done: 14, failed: 1 }, elapsed: 5000, startedAt: 'then' })
    expect(resume.skip.pending()).toEqual([
      [12, 'k12'],
      [15, 15n],
      [13, 'k13'],
      [20, 'k20'],
    ])
  })

  // save() writes the checkpoint, then truncates the journal: a crash between the two
  // leaves journal records the checkpoint already lists, which must count once.
  it('does not count journal records the checkpoint already holds', () => {
    const cp = checkpoint({ position: 2, last: 'k1', finished: [[4, 'k4']], counts: { done: 3, failed: 0 } })
    const store = open(stateWith(cp, [[4], ['k4']]))
    expect(store.resumePoint().counts).toEqual({ done: 3, failed: 0 })
  })

  it('counts journaled failures as failed, not done', () => {
    const dir = stateWith(checkpoint({ position: 0, last: null, finished: [], counts: { done: 0, failed: 0 } }), [[0], ['k0']])
    const journal = new Journal(runPaths(dir, 'run').journal)
    journal.append([1], ['k1'], true)
    journal.close()
    const resume = open(dir).resumePoint()
    expect(resume.counts).toEqual({ done: 1, failed: 1 })
    expect(resume.skip.pending()).toEqual([
      [0, 'k0'],
      [1, 'k1'],
    ])
  })

  it('save writes the checkpoint and empties the journal', () => {
    const store = open(tempDir())
    store.journal([0, 1], ['a', 'b'])
    expect(Journal.read(store.paths.journal).seqs).toEqual([0, 1])
    store.save(checkpoint({ position: 2, last: 'b', counts: { done: 2, failed: 0 } }))
    expect(Journal.read(store.paths.journal)).toEqual({ seqs: [], keys: [], failed: [] })
    expect(JSON.parse(readFileSync(store.paths.checkpoint, 'utf8'))).toMatchObject({ position: 2, last: 'b' })
  })

  it('checkArgs accepts the same args in any order, and any args without a checkpoint', () => {
    open(tempDir(), 'fresh').checkArgs({ anything: 'x' })
    const store = open(stateWith(checkpoint({ args: { a: '1', b: '2' } })))
    store.checkArgs({ b: '2', a: '1' })
  })

  it('checkArgs refuses other args, showing both sets and --reset', () => {
    const store = open(stateWith(checkpoint({ args: { a: '1', b: '2' } })))
    const error = thrownBy(() => store.checkArgs({ a: '1' }), CheckpointError)
    expect(error.message).toBe("Run 'run' was started with arguments a=1 b=2 but is now given a=1; use --reset to start it over with the new arguments, or another --key")
    expect(() => store.checkArgs({})).toThrow('but is now given (none);')
    expect(() => store.checkArgs({ a: '1', b: '3' })).toThrow('is now given a=1 b=3;')
  })

  it('reset removes the checkpoint and the journal', () => {
    const dir = stateWith(checkpoint({ position: 5, last: 4 }), [[7], ['k7']])
    const store = open(dir, 'run', { reset: true })
    expect(store.previous).toBeUndefined()
    expect(store.resumePoint()).toMatchObject({ position: 0, last: null, counts: { done: 0, failed: 0 } })
    expect(store.resumePoint().skip.size).toBe(0)
  })

  it('refuses a second store on the same key, and allows it once closed', () => {
    const dir = tempDir()
    const first = open(dir)
    expect(() => new RunStore(dir, 'run')).toThrow(LockError)
    open(dir, 'other')
    first.close()
    first.close()
    open(dir)
  })

  it('takes over a stale lock left by a dead master on this host', () => {
    const dir = tempDir()
    writeFileSync(runPaths(dir, 'run').lock, JSON.stringify({ pid: deadPid(), hostname: hostname() }))
    const store = open(dir)
    expect(JSON.parse(readFileSync(store.paths.lock, 'utf8')).pid).toBe(process.pid)
  })

  it('releases the lock when the checkpoint cannot be used', () => {
    const dir = tempDir()
    writeFileSync(runPaths(dir, 'run').checkpoint, '{ not json')
    expect(() => new RunStore(dir, 'run')).toThrow(CheckpointError)
    expect(existsSync(runPaths(dir, 'run').lock)).toBe(false)
  })

  it('close releases the lock file', () => {
    const store = open(tempDir())
    store.close()
    expect(existsSync(store.paths.lock)).toBe(false)
  })

  it('reports a state dir that cannot be created', () => {
    const dir = tempDir()
    writeFileSync(join(dir, 'file'), '')
    expect(() => new RunStore(join(dir, 'file', 'state'), 'run')).toThrow(`Cannot create state dir '${join(dir, 'file', 'state')}'`)
  })
})
