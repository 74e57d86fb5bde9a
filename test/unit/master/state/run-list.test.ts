import { mkdirSync, readFileSync, utimesSync, writeFileSync } from 'node:fs'
import { hostname } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { CheckpointError, OptionError } from '../../../../src/errors.js'
import type { Checkpoint } from '../../../../src/master/state/checkpoint.js'
import { writeCheckpoint } from '../../../../src/master/state/checkpoint.js'
import { FileBackend } from '../../../../src/master/state/file/backend.js'
import { acquireLock } from '../../../../src/master/state/file/lock.js'
import { runPaths } from '../../../../src/master/state/file/run-store.js'
import { listRuns, listedRuns, listingOf, runStateOf } from '../../../../src/master/state/run-list.js'
import type { RunListing } from '../../../../src/master/state/run-list.js'
import { cleanTempDirs, tempDir } from '../../../helpers/proc.js'
import { checkpoint, deadPid, rejectionOf, writeJournal } from '../../support.js'

const releases: (() => void)[] = []
afterEach(() => {
  for (const release of releases.splice(0)) release()
  cleanTempDirs()
})

/** Writes run `key`'s checkpoint (run 'run''s sample with `fields`) into `dir`. */
function saveRun(dir: string, key: string, fields: Partial<Checkpoint> = {}): void {
  writeCheckpoint(runPaths(dir, key).checkpoint, checkpoint({ key, ...fields }))
}

/** Takes run `key`'s lock as a live master would (this process), released after the test. */
function hold(dir: string, key: string): void {
  releases.push(acquireLock(runPaths(dir, key).lock, key))
}

const byKey = (runs: RunListing[]): Record<string, RunListing> => Object.fromEntries(runs.map((r) => [r.key, r]))

describe('runStateOf', () => {
  it('tells complete, failed, stopped, running and paused apart', () => {
    const of = (complete: boolean, failed: number, locked: boolean, paused: boolean) => runStateOf({ complete, failed, locked, paused })
    expect(of(true, 0, false, false)).toBe('complete')
    expect(of(true, 3, false, false)).toBe('failed')
    // The checkpoint says every job is finished: its master is closing, it is no longer running.
    expect(of(true, 0, true, false)).toBe('complete')
    expect(of(false, 0, false, false)).toBe('stopped')
    expect(of(false, 3, false, true)).toBe('stopped')
    expect(of(false, 0, true, false)).toBe('running')
    expect(of(false, 3, true, true)).toBe('paused')
  })
})

describe('listingOf', () => {
  const stored = (fields: Partial<Checkpoint>, locked = false) => ({
    key: 'run',
    run: {
      checkpoint: checkpoint(fields),
      journal: { position: 0, last: null, counts: undefined, seqs: [], keys: [] },
      journalAt: undefined,
      locked,
      where: '/s/run.json',
    },
  })

  it('gives every field of a run, its arguments masked and env: ones named', () => {
    expect(
      listingOf(
        stored(
          {
            args: { db: 'postgres://u:***@h/x', dsn: 'postgres://u:clear-pw@h/x', n: '5' },
            env: { db: 'DATABASE_URL' },
            position: 7,
            last: 6,
            counts: { done: 6, failed: 1 },
            total: 5000,
            totalEstimated: true,
            paused: true,
            startedAt: '2025-01-02T10:00:00.000Z',
            updatedAt: '2025-01-02T10:05:00.000Z',
          },
          true,
        ),
      ),
    ).toEqual({
      key: 'run',
      state: 'paused',
      done: 6,
      failed: 1,
      total: 5000,
      totalEstimated: true,
      paused: true,
      startedAt: '2025-01-02T10:00:00.000Z',
      updatedAt: '2025-01-02T10:05:00.000Z',
      args: { db: 'env:DATABASE_URL', dsn: 'postgres://u:***@h/x', n: '5' },
      where: '/s/run.json',
      problem: null,
    })
  })

  it("a complete run's total is the jobs it finished, exact, even without a saved total (an older version's)", () => {
    expect(listingOf(stored({ complete: true, position: 10, last: 9, counts: { done: 8, failed: 2 } }))).toMatchObject({
      state: 'failed',
      total: 10,
      totalEstimated: false,
    })
    expect(
      listingOf(stored({ complete: true, position: 10, last: 9, counts: { done: 10, failed: 0 }, total: 12, totalEstimated: true })),
    ).toMatchObject({ state: 'complete', total: 10, totalEstimated: false, paused: false })
  })

  it('an older version: no total, nothing paused', () => {
    expect(listingOf(stored({}))).toMatchObject({ state: 'stopped', total: null, totalEstimated: false, paused: false })
  })

  it("a damaged run's problem never shows a password it quotes", () => {
    expect(listingOf({ key: 'bad', where: '/s/bad.json', problem: 'cannot read postgres://u:s3cret@h/x' }).problem).toBe(
      'cannot read postgres://u:***@h/x',
    )
  })

  it('a damaged run: its problem, and nulls', () => {
    expect(listingOf({ key: 'bad', where: '/s/bad.json', problem: 'it is broken' })).toEqual({
      key: 'bad',
      state: 'damaged',
      done: null,
      failed: null,
      total: null,
      totalEstimated: false,
      paused: false,
      startedAt: null,
      updatedAt: null,
      args: null,
      where: '/s/bad.json',
      problem: 'it is broken',
    })
  })
})

describe('FileBackend.list and listedRuns', () => {
  it('lists each run of a state dir with its state: complete, failed, running, paused, stopped (a master killed), newest update first', async () => {
    const dir = tempDir()
    const at = (minute: number): string => `2025-01-02T10:0${minute}:00.000Z`
    saveRun(dir, 'whole', { complete: true, position: 20, last: 19, counts: { done: 20, failed: 0 }, updatedAt: at(1) })
    saveRun(dir, 'broken-rows', { complete: true, position: 20, last: 19, counts: { done: 18, failed: 2 }, updatedAt: at(2) })
    saveRun(dir, 'live', { total: 100, updatedAt: at(3) })
    hold(dir, 'live')
    saveRun(dir, 'held', { paused: true, updatedAt: at(4) })
    hold(dir, 'held')
    saveRun(dir, 'killed', { updatedAt: at(5) })
    writeFileSync(runPaths(dir, 'killed').lock, JSON.stringify({ pid: deadPid(), hostname: hostname() }))
    const { where, runs } = await listedRuns(new FileBackend(dir))
    expect(where).toBe(dir)
    expect(runs.map((r) => [r.key, r.state])).toEqual([
      ['killed', 'stopped'],
      ['held', 'paused'],
      ['live', 'running'],
      ['broken-rows', 'failed'],
      ['whole', 'complete'],
    ])
    expect(byKey(runs).live).toMatchObject({ done: 0, failed: 0, total: 100, where: join(dir, 'live.json') })
  })

  it('lists a failed run whose failures a later --retry-failed pass all did as retried; a pass with failures, or older than the run, leaves it failed', async () => {
    const dir = tempDir()
    const at = (minute: number): string => `2025-01-02T10:0${minute}:00.000Z`
    const failed = { complete: true, position: 20, last: 19, counts: { done: 18, failed: 2 } }
    const passed = { complete: true, position: 2, last: 19, counts: { done: 2, failed: 0 } }
    saveRun(dir, 'fixed', { ...failed, startedAt: at(1), updatedAt: at(2) })
    saveRun(dir, 'fixed.retry', { ...passed, startedAt: at(3), updatedAt: at(4) })
    saveRun(dir, 'still', { ...failed, startedAt: at(1), updatedAt: at(2) })
    saveRun(dir, 'still.retry', { ...passed, counts: { done: 1, failed: 1 }, startedAt: at(3), updatedAt: at(4) })
    // Started over (--reset) after its last pass: the pass was of the run before.
    saveRun(dir, 'again', { ...failed, startedAt: at(5), updatedAt: at(6) })
    saveRun(dir, 'again.retry', { ...passed, startedAt: at(3), updatedAt: at(4) })
    saveRun(dir, 'running', { ...failed, startedAt: at(1), updatedAt: at(2) })
    saveRun(dir, 'running.retry', { startedAt: at(3), updatedAt: at(4) })
    hold(dir, 'running.retry')
    const states = byKey((await listedRuns(new FileBackend(dir))).runs)
    expect(Object.fromEntries(Object.entries(states).map(([key, run]) => [key, run.state]))).toEqual({
      fixed: 'retried',
      'fixed.retry': 'complete',
      still: 'failed',
      'still.retry': 'failed',
      again: 'failed',
      'again.retry': 'complete',
      running: 'failed',
      'running.retry': 'running',
    })
    // Its own figures stay as its master left them.
    expect(states.fixed).toMatchObject({ done: 18, failed: 2 })
  })

  it("counts the journal written after the checkpoint, and takes the journal's time when it is newer", async () => {
    const dir = tempDir()
    saveRun(dir, 'run', { updatedAt: '2025-01-02T10:00:00.000Z' })
    const journal = writeJournal(runPaths(dir, 'run').journal, [{ position: 7, last: 6, done: 6, failed: 1 }])
    utimesSync(journal, new Date('2025-01-02T11:00:00.000Z'), new Date('2025-01-02T11:00:00.000Z'))
    expect((await listedRuns(new FileBackend(dir))).runs[0]).toMatchObject({ done: 6, failed: 1, updatedAt: '2025-01-02T11:00:00.000Z' })
  })

  it('lists a run it cannot read as damaged, with the reason, and the others as they are', async () => {
    const dir = tempDir()
    saveRun(dir, 'good')
    writeFileSync(join(dir, 'torn.json'), '{"format": 1, "key": "to')
    writeFileSync(join(dir, 'future.json'), JSON.stringify({ ...checkpoint({ key: 'future' }), format: 2 }))
    writeFileSync(
      join(dir, 'leaky.json'),
      JSON.stringify({ ...checkpoint({ key: 'leaky' }), args: { db: 'postgres://u:s3cret@h/x', n: 5 } }),
    )
    saveRun(dir, 'bad-journal')
    const journal = writeJournal(runPaths(dir, 'bad-journal').journal, [
      { position: 1, last: 0, done: 1 },
      { position: 2, last: 1, done: 2 },
    ])
    const bytes = readFileSync(journal)
    bytes[8] ^= 0x40
    writeFileSync(journal, bytes)
    mkdirSync(join(dir, 'a-dir.json'))
    const runs = byKey((await listedRuns(new FileBackend(dir))).runs)
    expect(Object.keys(runs).sort()).toEqual(['a-dir', 'bad-journal', 'future', 'good', 'leaky', 'torn'])
    expect(runs.good.state).toBe('stopped')
    expect(runs.torn).toMatchObject({
      state: 'damaged',
      where: join(dir, 'torn.json'),
      problem: `Checkpoint '${join(dir, 'torn.json')}' is not valid JSON; move it away or use --reset to start over`,
    })
    expect(runs.future.problem).toContain('has format 2, this Taskmaster reads format 1')
    // A damaged checkpoint's message never quotes an argument's value.
    expect(runs.leaky.problem).toBe(
      `Checkpoint '${join(dir, 'leaky.json')}' is damaged (args: "n" is a number, not a string); move it away or use --reset to start over`,
    )
    expect(runs['bad-journal']).toMatchObject({ state: 'damaged' })
    expect(runs['bad-journal'].problem).toMatch(/^Journal '.*bad-journal\.journal' is damaged at byte 0 \(checksum mismatch\)/)
    expect(runs['a-dir'].problem).toMatch(/^Cannot read checkpoint '.*a-dir\.json': EISDIR/)
  })

  it('reads the checkpoint of an older version (no total, no env, arguments in clear): unknown fields null, secrets masked', async () => {
    const dir = tempDir()
    writeFileSync(
      join(dir, 'old.json'),
      JSON.stringify({
        format: 1,
        key: 'old',
        args: { db: 'postgres://u:s3cret@h/x', apiToken: 'abc', n: '3' },
        complete: false,
        position: 3,
        last: 2,
        finished: [],
        counts: { done: 3, failed: 0 },
        elapsed: 10,
        startedAt: '2024-01-01T00:00:00.000Z',
        updatedAt: '2024-01-01T00:00:01.000Z',
      }),
    )
    expect((await listedRuns(new FileBackend(dir))).runs).toEqual([
      {
        key: 'old',
        state: 'stopped',
        done: 3,
        failed: 0,
        total: null,
        totalEstimated: false,
        paused: false,
        startedAt: '2024-01-01T00:00:00.000Z',
        updatedAt: '2024-01-01T00:00:01.000Z',
        args: { db: 'postgres://u:***@h/x', apiToken: '***', n: '3' },
        where: join(dir, 'old.json'),
        problem: null,
      },
    ])
  })

  it('lists only <key>.json files whose name is a run key: not temp files, logs, locks, nor odd names', async () => {
    const dir = tempDir()
    saveRun(dir, 'a.b_c-D.retry')
    for (const name of [
      'x.json.tmp',
      'x.failed.jsonl',
      'x.lock',
      'x.journal',
      '.json',
      '..json',
      '-x.json',
      'sp ace.json',
      'esc\u001b[31m.json',
    ])
      writeFileSync(join(dir, name), '{}')
    expect((await listedRuns(new FileBackend(dir))).runs.map((r) => r.key)).toEqual(['a.b_c-D.retry'])
  })

  it('an empty state dir has no runs; a missing one, or a file, is a one-line CheckpointError', async () => {
    const dir = tempDir()
    expect(await listedRuns(new FileBackend(dir))).toEqual({ where: dir, runs: [] })
    const missing = await rejectionOf(listedRuns(new FileBackend(join(dir, 'nope'))), CheckpointError)
    expect(missing.message).toBe(
      `There is no state dir '${join(dir, 'nope')}' (give the --state-dir the masters were given, or --state-store)`,
    )
    expect(missing.exitCode).toBe(2)
    writeFileSync(join(dir, 'file'), '')
    expect((await rejectionOf(listedRuns(new FileBackend(join(dir, 'file'))), CheckpointError)).message).toBe(
      `The state dir '${join(dir, 'file')}' is not a directory`,
    )
  })
})

describe('listRuns', () => {
  it('lists a state dir', async () => {
    const dir = tempDir()
    saveRun(dir, 'one')
    expect((await listRuns({ stateDir: dir })).runs.map((r) => r.key)).toEqual(['one'])
  })

  it('refuses a state store that is not a postgres:// URL, and options that are none, rejecting (never throwing)', async () => {
    const refused = listRuns({ stateStore: 'mysql://u:pw@h/x' })
    expect((await rejectionOf(refused, OptionError)).message).toBe("options.stateStore must be a postgres:// URL, got 'mysql://u:pw@h/x'")
    expect((await rejectionOf(listRuns({ stateDir: 5 as unknown as string }), OptionError)).message).toBe(
      'options.stateDir must be a path, got number',
    )
    expect((await rejectionOf(listRuns(null as unknown as object), OptionError)).message).toBe(
      'listRuns() takes { stateDir } or { stateStore }',
    )
  })
})
