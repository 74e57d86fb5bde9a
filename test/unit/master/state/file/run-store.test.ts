import { existsSync, readFileSync, rmSync, statSync, unlinkSync, writeFileSync } from 'node:fs'
import { hostname } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { CheckpointError, StateFileError, LockError } from '../../../../../src/errors.js'
import type { Checkpoint } from '../../../../../src/master/state/checkpoint.js'
import { freshCheckpoint, readCheckpoint, writeCheckpoint } from '../../../../../src/master/state/checkpoint.js'
import { Journal } from '../../../../../src/master/state/file/journal.js'
import type { JournalRecord } from '../../../../../src/master/state/file/journal.js'
import { RunStore, runPaths } from '../../../../../src/master/state/file/run-store.js'
import { identityArgs } from '../../../../../src/shard.js'
import { cleanTempDirs, tempDir } from '../../../../helpers/proc.js'
import { checkpoint, deadPid, journalRecord, thrownBy, writeJournal } from '../../../support.js'

const stores: RunStore[] = []
afterEach(async () => {
  for (const store of stores.splice(0)) await store.close()
  cleanTempDirs()
})

function open(dir: string, key = 'run', options: { reset?: boolean; acceptJournalLoss?: boolean } = {}): RunStore {
  const store = new RunStore(dir, key, options)
  stores.push(store)
  return store
}

/** A state dir holding `cp` (if any) as run 'run' and, optionally, journal records. */
function stateWith(cp: Checkpoint | undefined, journal?: JournalRecord[]): string {
  const dir = tempDir()
  const paths = runPaths(dir, 'run')
  if (cp) writeCheckpoint(paths.checkpoint, cp)
  if (journal) writeJournal(paths.journal, journal)
  return dir
}

describe('runPaths', () => {
  it('puts every file of a run next to each other', () => {
    expect(runPaths('/state', 'job')).toEqual({
      checkpoint: '/state/job.json',
      journal: '/state/job.journal',
      failed: '/state/job.failed.jsonl',
      lock: '/state/job.lock',
    })
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
    const cp = checkpoint({
      position: 10,
      last: 9,
      finished: [
        [12, 'k12'],
        [15, 15n],
      ],
      counts: { done: 12, failed: 1 },
      elapsed: 5000,
      startedAt: 'then',
    })
    // A record older than the checkpoint (position 8), then one with jobs beyond it.
    const store = open(
      stateWith(cp, [
        journalRecord({ position: 8, last: 7, done: 9, ranges: [8, 1], keys: ['k8'] }),
        journalRecord({ position: 10, last: 9, done: 14, failed: 1, ranges: [13, 1, 20, 1], keys: ['k13', 'k20'] }),
      ]),
    )
    const resume = store.resumePoint()
    expect(resume).toMatchObject({ position: 10, last: 9, counts: { done: 14, failed: 1 }, elapsed: 5000, startedAt: 'then' })
    expect(resume.skip.pending()).toEqual([
      [12, 'k12'],
      [15, 15n],
      [13, 'k13'],
      [20, 'k20'],
    ])
  })

  it('resumes from the journal watermark when it is beyond the checkpoint, dropping what it covers', () => {
    const cp = checkpoint({
      position: 10,
      last: 9,
      finished: [
        [12, 'k12'],
        [30, 'k30'],
      ],
      counts: { done: 12, failed: 0 },
    })
    const store = open(
      stateWith(cp, [journalRecord({ position: 25, last: 'k24', done: 27, failed: 1, ranges: [27, 2], keys: ['k27', 'k28'] })]),
    )
    const resume = store.resumePoint()
    expect(resume).toMatchObject({ position: 25, last: 'k24', counts: { done: 27, failed: 1 } })
    expect(resume.skip.pending()).toEqual([
      [30, 'k30'],
      [27, 'k27'],
      [28, 'k28'],
    ])
  })

  // save() writes the checkpoint, then truncates the journal: a crash between the two
  // leaves journal records the checkpoint already holds, which must count once.
  it('does not count journal records the checkpoint already holds', () => {
    const cp = checkpoint({ position: 2, last: 'k1', finished: [[4, 'k4']], counts: { done: 3, failed: 0 } })
    const store = open(stateWith(cp, [journalRecord({ position: 2, last: 'k1', done: 3, ranges: [4, 1], keys: ['k4'] })]))
    const resume = store.resumePoint()
    expect(resume.counts).toEqual({ done: 3, failed: 0 })
    expect(resume.skip.pending()).toEqual([[4, 'k4']])
  })

  it('save writes the checkpoint and empties the journal', () => {
    const store = open(tempDir())
    store.journal(journalRecord({ position: 0, done: 2, ranges: [1, 2], keys: ['a', 'b'] }))
    expect(Journal.read(store.paths.journal).seqs).toEqual([1, 2])
    store.save(checkpoint({ position: 3, last: 'b', counts: { done: 2, failed: 0 } }))
    expect(Journal.read(store.paths.journal)).toEqual({ position: 0, last: null, counts: undefined, seqs: [], keys: [] })
    expect(JSON.parse(readFileSync(store.paths.checkpoint, 'utf8'))).toMatchObject({ position: 3, last: 'b' })
  })

  it('checkArgs accepts the same args in any order, and any args without a checkpoint', () => {
    open(tempDir(), 'fresh').checkArgs({ anything: 'x' })
    const store = open(stateWith(checkpoint({ args: { a: '1', b: '2' } })))
    store.checkArgs({ b: '2', a: '1' })
  })

  it('checkArgs refuses other args, showing both sets and --reset', () => {
    const store = open(stateWith(checkpoint({ args: { a: '1', b: '2' } })))
    const error = thrownBy(() => store.checkArgs({ a: '1' }), CheckpointError)
    expect(error.message).toBe(
      "Run 'run' was started with arguments a=1 b=2 but is now given a=1; use --reset to start it over with the new arguments, or another --key",
    )
    expect(() => store.checkArgs({})).toThrow('but is now given (none);')
    expect(() => store.checkArgs({ a: '1', b: '3' })).toThrow('is now given a=1 b=3;')
  })

  it('reset removes the checkpoint and the journal', () => {
    const dir = stateWith(checkpoint({ position: 5, last: 4 }), [
      journalRecord({ position: 7, last: 6, done: 7, ranges: [8, 1], keys: ['k8'] }),
    ])
    const store = open(dir, 'run', { reset: true })
    expect(store.previous).toBeUndefined()
    expect(store.resumePoint()).toMatchObject({ position: 0, last: null, counts: { done: 0, failed: 0 } })
    expect(store.resumePoint().skip.size).toBe(0)
  })

  it('refuses a second store on the same key, and allows it once closed', async () => {
    const dir = tempDir()
    const first = open(dir)
    expect(() => new RunStore(dir, 'run')).toThrow(LockError)
    open(dir, 'other')
    await first.close()
    await first.close()
    open(dir)
  })

  it('takes over a stale lock left by a dead master on this host', () => {
    const dir = tempDir()
    writeFileSync(runPaths(dir, 'run').lock, JSON.stringify({ pid: deadPid(), hostname: hostname() }))
    const store = open(dir)
    expect((JSON.parse(readFileSync(store.paths.lock, 'utf8')) as { pid: number }).pid).toBe(process.pid)
  })

  it('releases the lock when the checkpoint cannot be used', () => {
    const dir = tempDir()
    writeFileSync(runPaths(dir, 'run').checkpoint, '{ not json')
    expect(() => new RunStore(dir, 'run')).toThrow(CheckpointError)
    expect(existsSync(runPaths(dir, 'run').lock)).toBe(false)
  })

  it('close releases the lock file', async () => {
    const store = open(tempDir())
    await store.close()
    expect(existsSync(store.paths.lock)).toBe(false)
  })

  it('reports a state dir that cannot be created', () => {
    const dir = tempDir()
    writeFileSync(join(dir, 'file'), '')
    expect(() => new RunStore(join(dir, 'file', 'state'), 'run')).toThrow(`Cannot create state dir '${join(dir, 'file', 'state')}'`)
  })

  it('refuses a damaged journal, and with acceptJournalLoss resumes from what precedes the damage, with a warning', () => {
    const cp = checkpoint({ position: 10, last: 9, counts: { done: 10, failed: 0 } })
    const dir = stateWith(cp, [
      journalRecord({ position: 20, last: 19, done: 20 }),
      journalRecord({ position: 30, last: 29, done: 30 }),
      journalRecord({ position: 40, last: 39, done: 40 }),
    ])
    const path = runPaths(dir, 'run').journal
    const data = readFileSync(path)
    const second = data.readUInt32LE(0) + 8
    data[second + 8] ^= 0x01
    writeFileSync(path, data)
    const error = thrownBy(() => new RunStore(dir, 'run'), CheckpointError)
    expect(error.message).toBe(
      `Journal '${path}' is damaged at byte ${second} (checksum mismatch): what it records from there on is unknown. Start over with --reset, or resume without it with --accept-journal-loss (those jobs run again)`,
    )
    expect(existsSync(runPaths(dir, 'run').lock)).toBe(false)
    const store = open(dir, 'run', { acceptJournalLoss: true })
    expect(store.warnings).toEqual([
      `Journal '${path}' is damaged at byte ${second} (checksum mismatch); --accept-journal-loss: the ${data.length - second} bytes from there on are dropped, and the jobs they recorded run again`,
    ])
    expect(store.resumePoint()).toMatchObject({ position: 20, last: 19, counts: { done: 20, failed: 0 } })
    expect(statSync(path).size).toBe(second)
  })

  it('has no warnings for a sound state', () => {
    expect(open(stateWith(checkpoint({ position: 1, last: 0 }), [journalRecord({ position: 2, last: 1, done: 2 })])).warnings).toEqual([])
  })

  it("begin makes a fresh run's identity durable: a checkpoint at position 0 with its args, before any job", async () => {
    const dir = tempDir()
    const store = open(dir)
    await store.begin({ table: 'posts' })
    const written = JSON.parse(readFileSync(store.paths.checkpoint, 'utf8')) as Checkpoint
    expect(written).toMatchObject({
      format: 1,
      key: 'run',
      args: { table: 'posts' },
      complete: false,
      position: 0,
      last: null,
      finished: [],
      counts: { done: 0, failed: 0 },
      elapsed: 0,
    })
    expect(written.startedAt).toBe(written.updatedAt)
    expect(store.resumePoint()).toMatchObject({ position: 0, last: null, startedAt: written.startedAt })
    await store.close()
    // Killed before its first real checkpoint: the next incarnation knows its arguments.
    const again = open(dir)
    expect(again.previous).toMatchObject({ args: { table: 'posts' }, position: 0 })
    await expect(again.begin({ table: 'users' })).rejects.toThrow(
      "Run 'run' was started with arguments table=posts but is now given table=users;",
    )
    await again.begin({ table: 'posts' })
    expect(JSON.parse(readFileSync(again.paths.checkpoint, 'utf8'))).toEqual(written)
  })

  it("the run's identity is made by begin, kept at each resume (killed before its first checkpoint too), and new after --reset", async () => {
    const dir = tempDir()
    const store = open(dir)
    await store.begin({}, {})
    const id = store.resumePoint().id
    expect(id).toMatch(/^[0-9a-f]{16}$/)
    expect(JSON.parse(readFileSync(store.paths.checkpoint, 'utf8'))).toMatchObject({ id })
    await store.close()
    const again = open(dir)
    await again.begin({}, {})
    expect(again.resumePoint().id).toBe(id)
    again.save(checkpoint({ id, position: 4, last: 3 }))
    await again.close()
    expect(open(dir).resumePoint().id).toBe(id)
    await stores.pop()!.close()
    const reset = open(dir, 'run', { reset: true })
    await reset.begin({}, {})
    expect(reset.resumePoint().id).toMatch(/^[0-9a-f]{16}$/)
    expect(reset.resumePoint().id).not.toBe(id)
  })

  it('durable is the position of the last checkpoint written, never of the journal (it is not synced); written resolves at once', async () => {
    const dir = stateWith(checkpoint({ position: 5, last: 4 }), [journalRecord({ position: 9, last: 8, done: 9, ranges: [], keys: [] })])
    const store = open(dir)
    expect(store.resumePoint().position).toBe(9)
    expect(store.durable()).toBe(5)
    store.journal(journalRecord({ position: 12, last: 11, done: 12, ranges: [], keys: [] }))
    expect(store.durable()).toBe(5)
    store.save(checkpoint({ position: 12, last: 11 }))
    expect(store.durable()).toBe(12)
    await expect(store.written()).resolves.toBeUndefined()
  })

  it('begin saves the arguments given as env:VAR with the fresh checkpoint, and no env field without any', async () => {
    const store = open(tempDir())
    await store.begin({ db: 'postgres://u:***@h/x', n: '3' }, { db: 'DATABASE_URL' })
    expect(JSON.parse(readFileSync(store.paths.checkpoint, 'utf8'))).toMatchObject({ args: { n: '3' }, env: { db: 'DATABASE_URL' } })
    await store.close()
    const plain = open(tempDir())
    await plain.begin({ n: '3' }, {})
    expect(JSON.parse(readFileSync(plain.paths.checkpoint, 'utf8'))).not.toHaveProperty('env')
    await plain.close()
  })

  it("refuses a journal without a checkpoint: the run's arguments and start are unknown", () => {
    const dir = stateWith(undefined, [journalRecord({ position: 6960, last: 6959, done: 6960 })])
    const paths = runPaths(dir, 'run')
    const error = thrownBy(() => new RunStore(dir, 'run'), CheckpointError)
    expect(error.message).toBe(
      `Run 'run' has a journal ('${paths.journal}') but no checkpoint ('${paths.checkpoint}'): its arguments are unknown, so it cannot be resumed safely. Start it over with --reset`,
    )
    expect(error.exitCode).toBe(2)
    expect(existsSync(paths.lock)).toBe(false)
    const store = open(dir, 'run', { reset: true })
    expect(store.resumePoint().position).toBe(0)
  })

  it('discardFresh removes the checkpoint begin wrote, and nothing else', async () => {
    const dir = tempDir()
    const store = open(dir)
    await store.begin({})
    await store.discardFresh()
    expect(existsSync(store.paths.checkpoint)).toBe(false)
    await store.close()
    const resumed = open(stateWith(checkpoint({ position: 5, last: 4 })))
    await resumed.begin({ n: '10' })
    await resumed.discardFresh()
    expect(existsSync(resumed.paths.checkpoint)).toBe(true)
  })

  describe('state deleted while the run is live', () => {
    /** A store on `<temp>/state` that has begun, saved once and journaled a record. */
    async function live(): Promise<{ store: RunStore; dir: string }> {
      const dir = join(tempDir(), 'state')
      const store = open(dir)
      await store.begin({ n: '10' })
      store.save(checkpoint({ position: 2, last: 1, counts: { done: 2, failed: 0 } }))
      store.journal(journalRecord({ position: 3, last: 2, done: 3 }))
      return { store, dir }
    }
    const later = checkpoint({ position: 5, last: 4, finished: [[7, 7]], counts: { done: 6, failed: 1 } })

    it('save rewrites a deleted state dir from memory (checkpoint, lock, journal) and says so', async () => {
      const { store, dir } = await live()
      rmSync(dir, { recursive: true })
      expect(store.save(later)).toBe(
        `The state of run 'run' was deleted while the run was live (the state dir '${dir}' was removed); rewritten from memory (position 5, 6 done, 1 failed). Anything else kept there (a failed-jobs log) is gone`,
      )
      expect(readCheckpoint(store.paths.checkpoint)).toEqual(later)
      expect((JSON.parse(readFileSync(store.paths.lock, 'utf8')) as { pid: number }).pid).toBe(process.pid)
      // Appends reach the journal on disk again, not the deleted file.
      store.journal(journalRecord({ position: 6, last: 5, done: 7 }))
      expect(Journal.read(store.paths.journal)).toMatchObject({ position: 6, last: 5, counts: { done: 7, failed: 0 } })
      // Once rewritten, a save is quiet again.
      expect(store.save(later)).toBeUndefined()
      await store.close()
      expect(existsSync(store.paths.lock)).toBe(false)
    })

    it('save rewrites a deleted checkpoint, and reopens a deleted journal', async () => {
      const { store } = await live()
      unlinkSync(store.paths.checkpoint)
      expect(store.save(later)).toMatch(
        /^The state of run 'run' was deleted while the run was live \(its checkpoint was removed\); rewritten from memory \(position 5, 6 done, 1 failed\)$/,
      )
      expect(readCheckpoint(store.paths.checkpoint)).toEqual(later)
      unlinkSync(store.paths.journal)
      expect(store.save(later)).toMatch(/\(its journal was removed\); rewritten from memory/)
      store.journal(journalRecord({ position: 6, last: 5, done: 7 }))
      expect(Journal.read(store.paths.journal).position).toBe(6)
    })

    it('save that cannot rewrite the state says it is gone and what a restart would do', async () => {
      const { store, dir } = await live()
      rmSync(dir, { recursive: true })
      // A file where the state dir was: it cannot be made again, even by root.
      writeFileSync(dir, '')
      const error = thrownBy(() => store.save(later), StateFileError)
      expect(error.message).toMatch(
        new RegExp(
          `^The state of run 'run' was deleted while the run was live \\(the state dir '${dir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}' was removed\\) and cannot be written again: EEXIST: .*\\. Nothing of the run is saved: started again with --key run, it would run every job from the beginning$`,
        ),
      )
      expect(error.exitCode).toBe(1)
    })
  })
})

describe('RunStore: one shard count a key', () => {
  const args = (index: number, count: number): Record<string, string> => identityArgs({}, { index, count })

  it('two first starts of different counts at once: each writes its checkpoint before it looks, so they do not both go on (here both refuse)', async () => {
    const dir = tempDir()
    const three = open(dir, 'k.shard-1-of-3')
    const four = open(dir, 'k.shard-1-of-4')
    // Four's begin has written its checkpoint (as a begin does first) when three's looks.
    writeCheckpoint(runPaths(dir, 'k.shard-1-of-4').checkpoint, freshCheckpoint('k.shard-1-of-4', args(1, 4)))
    await expect(three.begin(args(1, 3))).rejects.toThrow("Run 'k' is sharded in 4 (saved: 'k.shard-1-of-4'")
    await expect(four.begin(args(1, 4))).rejects.toThrow("Run 'k' is sharded in 3 (saved: 'k.shard-1-of-3'")
    // The refused runs discard what they wrote: the key takes any count again.
    await three.discardFresh()
    await four.discardFresh()
    await expect(open(dir, 'k.shard-2-of-2').begin(args(2, 2))).resolves.toBeUndefined()
  })

  it('--reset of a shard forgets its own state only: the count stays while another shard of the key has state', async () => {
    const dir = tempDir()
    const first = open(dir, 'k.shard-1-of-2')
    await first.begin(args(1, 2))
    await first.close()
    const second = open(dir, 'k.shard-2-of-2')
    await second.begin(args(2, 2))
    await second.close()
    const reset = open(dir, 'k.shard-1-of-2', { reset: true })
    expect(reset.previous).toBeUndefined()
    await reset.begin(args(1, 2))
    await reset.close()
    const other = open(dir, 'k.shard-1-of-3', { reset: true })
    await expect(other.begin(args(1, 3))).rejects.toThrow("Run 'k' is sharded in 2 (saved: 'k.shard-1-of-2' and 1 more,")
    await other.discardFresh()
    await other.close()
    // Once no run of the key has state, another count starts.
    for (const key of ['k.shard-1-of-2', 'k.shard-2-of-2']) rmSync(runPaths(dir, key).checkpoint)
    await expect(open(dir, 'k.shard-1-of-3').begin(args(1, 3))).resolves.toBeUndefined()
  })
})
