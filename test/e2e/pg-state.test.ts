// The run's state in PostgreSQL (--state-store postgres://...): a real server, real
// tm-master and tm-slave processes. Tables created on first use; a complete run leaves a
// complete checkpoint and no journal; failed jobs go to a table; a kill -9 loses nothing;
// one master a key at a time (an advisory lock); other arguments are refused.
import pg from 'pg'
import { afterEach, describe, expect, it } from 'vitest'
import { POSTGRES_MISSING, usePostgres } from '../helpers/postgres.js'
import { CTL_BIN, EXIT_OK, MASTER_BIN, Proc, recordedKeys, run, sandbox, startMaster, startSlave, tally } from '../helpers/proc.js'
import type { Checkpoint } from '../../src/master/state/checkpoint.js'
import type { JournalRecord } from '../../src/master/state/file/journal.js'
import type { PgClient } from '../../src/master/state/pg/store.js'
import { FLUSH_RECORDS, PG_FLUSH, openPgStore } from '../../src/master/state/pg/store.js'
import {
  FAULTY,
  RANGE,
  RECORD,
  attemptsOf,
  expectEachKeyAtLeastOnce,
  portForLater,
  expectRunEnds,
  killHard,
  recordedCount,
  repeatBound,
  resumedDone,
  tearDown,
  until,
} from '../helpers/reliability.js'
import type { FailedLine } from '../helpers/reliability.js'

// In CI PostgreSQL must be there (.ci/run installs it): fail loudly rather than skip.
if (POSTGRES_MISSING !== undefined && process.env.CI) {
  it('PostgreSQL is installed', () => {
    throw new Error(POSTGRES_MISSING)
  })
}

describe.skipIf(POSTGRES_MISSING !== undefined)(
  `--state-store postgres://${POSTGRES_MISSING ? ` (skipped: ${POSTGRES_MISSING})` : ''}`,
  () => {
    const postgres = usePostgres()

    afterEach(tearDown)

    const checkpointOf = async (key: string): Promise<Record<string, unknown> | undefined> => {
      const row = (await postgres.db.query<{ checkpoint: string }>('SELECT checkpoint FROM taskmaster_checkpoint WHERE run = $1', [key]))
        .rows[0]
      return row === undefined ? undefined : (JSON.parse(row.checkpoint) as Record<string, unknown>)
    }
    const journalRows = async (key: string): Promise<number> =>
      Number((await postgres.db.query<{ n: string }>('SELECT count(*) AS n FROM taskmaster_journal WHERE run = $1', [key])).rows[0].n)
    const record = (position: number): JournalRecord => ({ position, last: position - 1, done: position, failed: 0, ranges: [], keys: [] })
    /** A real pg client, wrapped to count the statements running at once (`most`), calling `before` with each first (it may throw). */
    const countingClient = (
      url: string,
      before: (text: string, values?: unknown[]) => void,
    ): PgClient & { running: number; most: number } => {
      const client = new pg.Client(url)
      const wrapped = {
        running: 0,
        most: 0,
        connect: () => client.connect(),
        end: () => client.end(),
        on: (event: 'error', listener: (error: Error) => void) => client.on(event, listener),
        query: async (text: string, values?: unknown[]) => {
          before(text, values)
          wrapped.running++
          wrapped.most = Math.max(wrapped.most, wrapped.running)
          try {
            return await client.query(text, values)
          } finally {
            wrapped.running--
          }
        },
      }
      return wrapped
    }
    /** Master args of run `key` with its state in the test's PostgreSQL (the state dir exists only to prove it stays empty). */
    const pgArgs = (key: string, stateDir: string, host = '127.0.0.1:0'): string[] => [
      '--key',
      key,
      '--state-store',
      postgres.server.url,
      '--state-dir',
      stateDir,
      '--host',
      host,
    ]

    it('a run keeps its state in tables created on first use: complete checkpoint, no journal left, failed jobs in a table, nothing on disk', async () => {
      const N = 2000
      const box = sandbox({ TM_FAIL_IDS: '7,1500' })
      const done = await run(
        MASTER_BIN,
        [
          RANGE,
          `n=${N}`,
          ...pgArgs('pg-run', box.stateDir),
          '--spawn',
          '2',
          '--handler',
          FAULTY,
          '--retries',
          '1',
          '--retry-delay',
          '0',
          '--quiet',
        ],
        { env: box.env },
      )
      expect(done.exit, done.stderr).toEqual({ code: 1, signal: null })
      expect(done.stdout).toContain(`Run 'pg-run' complete: ${N} jobs (${N - 2} done, 2 failed)`)
      expect(done.stdout).toContain("2 jobs failed; see table taskmaster_failed (run 'pg-run') of postgres://postgres@127.0.0.1:")
      expect(await checkpointOf('pg-run')).toMatchObject({
        key: 'pg-run',
        complete: true,
        position: N,
        args: { n: String(N) },
        counts: { done: N - 2, failed: 2 },
      })
      expect(await journalRows('pg-run')).toBe(0)
      const failed = (
        await postgres.db.query<{ entry: string }>("SELECT entry FROM taskmaster_failed WHERE run = 'pg-run' ORDER BY id")
      ).rows.map((row) => JSON.parse(row.entry) as FailedLine)
      expect(failed.map((entry) => [entry.key, entry.attempts, entry.error.message]).sort()).toEqual([
        [1500, 2, 'job 1500 is broken'],
        [7, 2, 'job 7 is broken'],
      ])
      const { existsSync } = await import('node:fs')
      expect(existsSync(box.stateDir)).toBe(false)

      // Complete: started again, it says so and runs nothing.
      const again = await run(MASTER_BIN, [RANGE, `n=${N}`, ...pgArgs('pg-run', box.stateDir), '--quiet'], { env: box.env })
      expect(again.exit, again.stderr).toEqual(EXIT_OK)
      expect(again.stdout).toContain(`Run 'pg-run' is already complete (${N - 2} jobs done, 2 failed)`)
    })

    it('kill -9 of the master mid-run: restarted, it resumes from PostgreSQL; nothing is lost, repeats bounded', async () => {
      const N = 6000
      const C = 4
      const box = sandbox({ TM_RECORD_DELAY_MS: '2' })
      const address = `127.0.0.1:${await portForLater()}`
      const args = [RANGE, `n=${N}`, ...pgArgs('pg-killed', box.stateDir, address), '--quiet']
      const slaves = [1, 2].map(() =>
        startSlave([RECORD, '--host', address, '--concurrency', String(C), '--prefetch', String(C)], { env: box.env }),
      )
      const first = (await startMaster(args, { env: box.env })).master
      await until('a third of the jobs to be recorded', () => recordedCount(box.records) >= N / 3)
      expect(await killHard(first)).toEqual({ code: null, signal: 'SIGKILL' })
      const ranBefore = recordedCount(box.records)
      const saved = await checkpointOf('pg-killed')
      expect(saved).toMatchObject({ key: 'pg-killed', complete: false })

      const second = (await startMaster(args, { env: box.env })).master
      await second.waitFor(/^Resuming 'pg-killed' .*$/m, 'stdout')
      const durable = resumedDone(second.stdout, 'pg-killed')
      await expectRunEnds(second, slaves)
      expect(second.stdout).toMatch(/^Run 'pg-killed' complete: \d+ jobs \(\d+ done, 0 failed(, \d+ skipped as already done)?\)/m)
      expect(await checkpointOf('pg-killed')).toMatchObject({ complete: true, position: N, counts: { done: N, failed: 0 } })
      // In flight at the kill, and finished but not yet committed (see repeatBound).
      const repeats = expectEachKeyAtLeastOnce(box.records, N)
      expect(repeats).toBeLessThanOrEqual(repeatBound(ranBefore, durable, C))
    })

    it('one master a key at a time: a second one is refused while the first holds the advisory lock, and takes the key once it is gone', async () => {
      const box = sandbox()
      const { master } = await startMaster([RANGE, 'n=100000000', ...pgArgs('pg-locked', box.stateDir), '--quiet'], { env: box.env })
      const second = await run(MASTER_BIN, [RANGE, 'n=100000000', ...pgArgs('pg-locked', box.stateDir), '--quiet'], { env: box.env })
      expect(second.exit).toEqual({ code: 2, signal: null })
      expect(second.stderr).toMatch(
        /^tm-master: Run 'pg-locked' is in use by another master \(it holds the run's lease in the state store postgres:\/\/postgres@127\.0\.0\.1:\d+\/postgres\); stop it first, or start this one with --standby\n$/,
      )
      // Killed, its session ends and the lock with it: no stale lock to remove by hand.
      await killHard(master)
      const third = await startMaster([RANGE, 'n=100000000', ...pgArgs('pg-locked', box.stateDir), '--quiet'], { env: box.env })
      third.master.kill('SIGINT')
      expect((await third.master.exited).code).toBe(130)
    })

    it('the store batches: at most one write in flight, what queues meanwhile goes in the next one, a checkpoint supersedes the records before it', async () => {
      const flushes: number[] = []
      const wrapped = countingClient(postgres.server.url, (text, values) => {
        if (text === PG_FLUSH) flushes.push((values![FLUSH_RECORDS] as string[]).length)
      })
      const store = await openPgStore(postgres.server.url, 'pg-batch', { client: wrapped })
      await store.begin({})
      // 1,000 records in one turn of the loop: the first goes at once, the rest wait for it.
      for (let p = 1; p <= 1000; p++) store.journal(record(p))
      await until('both writes', () => flushes.length === 2 && wrapped.running === 0)
      expect(flushes).toEqual([1, 999])
      expect(wrapped.most).toBe(1)
      expect(await journalRows('pg-batch')).toBe(1000)
      // A checkpoint replaces the records queued before it (none is written) and deletes the committed ones.
      for (let p = 1001; p <= 1010; p++) store.journal(record(p))
      const checkpoint = {
        ...(await checkpointOf('pg-batch')),
        position: 1010,
        last: 1009,
        counts: { done: 1010, failed: 0 },
      } as unknown as Checkpoint
      store.save(checkpoint)
      store.journal(record(1011))
      await store.close(false)
      expect(wrapped.most).toBe(1)
      expect(await checkpointOf('pg-batch')).toMatchObject({ position: 1010, last: 1009 })
      expect(await journalRows('pg-batch')).toBe(1)
      // Opened again (the lock was freed by close): the journal's record after the checkpoint is the resume point.
      const again = await openPgStore(postgres.server.url, 'pg-batch')
      expect(again.resumePoint()).toMatchObject({ position: 1011, last: 1010, counts: { done: 1011, failed: 0 } })
      await again.close(true)
      expect(await journalRows('pg-batch')).toBe(0)
    })

    it('a master starts without DDL once the tables are there: it waits on no lock that the writes of running masters hold', async () => {
      // The tables exist (an earlier master made them).
      await (await openPgStore(postgres.server.url, 'pg-ddl-first')).close(true)
      const holder = new pg.Client(postgres.server.url)
      await holder.connect()
      try {
        await holder.query('BEGIN')
        // What a running master's write holds until it commits: ROW EXCLUSIVE on each table it writes.
        await holder.query('LOCK TABLE taskmaster_checkpoint, taskmaster_journal, taskmaster_failed IN ROW EXCLUSIVE MODE')
        const box = sandbox()
        const master = new Proc(MASTER_BIN, [RANGE, 'n=100000000', ...pgArgs('pg-ddl', box.stateDir), '--quiet'], { env: box.env })
        await until(
          () => `the master to listen while a write holds the tables; stderr: ${master.stderr}`,
          () => master.stdout.includes('Taskmaster server running'),
          20_000,
        )
        master.kill('SIGINT')
        expect((await master.exited).code).toBe(130)
      } finally {
        await holder.query('ROLLBACK')
        await holder.end()
      }
    })

    it('a write that fails with a deadlock or a serialization failure is written again, not fatal', async () => {
      const transient = ['40P01', '40001']
      const client = countingClient(postgres.server.url, (text) => {
        const code = text === PG_FLUSH ? transient.shift() : undefined
        if (code !== undefined) throw Object.assign(new Error(`injected ${code}`), { code })
      })
      const store = await openPgStore(postgres.server.url, 'pg-retried', { client })
      await store.begin({})
      store.journal(record(1))
      await until(
        'the first record written after two transient failures',
        async () => transient.length === 0 && (await journalRows('pg-retried')) === 1,
      )
      store.journal(record(2))
      await store.close(false)
      expect(await journalRows('pg-retried')).toBe(2)
    })

    it('a master whose database session is cut stops at once with one line (it no longer holds the lease), and the next one resumes the run', async () => {
      const box = sandbox()
      const args = [RANGE, 'n=100000000', ...pgArgs('pg-cut', box.stateDir), '--quiet']
      const { master } = await startMaster(args, { env: box.env })
      // The master's session is the one holding its lease's advisory lock.
      const cut = await postgres.db.query(
        "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' AND granted AND pid <> pg_backend_pid()",
      )
      expect(cut.rows).toHaveLength(1)
      expect(await master.exited, master.stderr).toEqual({ code: 1, signal: null })
      expect(master.stderr).not.toContain('    at ')
      expect(master.stderr.trimEnd().split('\n').at(-1)).toMatch(
        /^tm-master: Cannot write the state of run 'pg-cut' to the state store postgres:\/\/postgres@127\.0\.0\.1:\d+\/postgres: terminating connection due to administrator command$/,
      )
      const next = await startMaster(args, { env: box.env })
      next.master.kill('SIGINT')
      expect((await next.master.exited).code).toBe(130)
    })

    it('a run resumed with other arguments is refused; --reset starts it over', async () => {
      const box = sandbox()
      const first = await run(
        MASTER_BIN,
        [RANGE, 'n=50', ...pgArgs('pg-args', box.stateDir), '--spawn', '1', '--handler', RECORD, '--quiet'],
        { env: box.env },
      )
      expect(first.exit, first.stderr).toEqual(EXIT_OK)
      const other = await run(MASTER_BIN, [RANGE, 'n=60', ...pgArgs('pg-args', box.stateDir), '--quiet'], { env: box.env })
      expect(other.exit).toEqual({ code: 2, signal: null })
      expect(other.stderr).toContain("Run 'pg-args' was started with arguments n=50 but is now given n=60; use --reset")
      const reset = await run(
        MASTER_BIN,
        [RANGE, 'n=60', ...pgArgs('pg-args', box.stateDir), '--reset', '--spawn', '1', '--handler', RECORD, '--quiet'],
        { env: box.env },
      )
      expect(reset.exit, reset.stderr).toEqual(EXIT_OK)
      expect(await checkpointOf('pg-args')).toMatchObject({ complete: true, position: 60, args: { n: '60' } })
      // 0..49 twice (both runs), 50..59 once.
      const counts = tally(recordedKeys(box.records))
      expect([...counts.entries()].sort((a, b) => Number(a[0]) - Number(b[0]))).toEqual(
        Array.from({ length: 60 }, (_, id) => [String(id), id < 50 ? 2 : 1]),
      )
    })

    /** The failed jobs of run `run` in the table, as [key, attempts, message], sorted by key. */
    const failedRows = async (run: string): Promise<[number, number, string][]> =>
      ((await postgres.db.query('SELECT entry FROM taskmaster_failed WHERE run = $1 ORDER BY id', [run])).rows as { entry: string }[])
        .map((row) => JSON.parse(row.entry) as FailedLine)
        .map((entry): [number, number, string] => [entry.key, entry.attempts, entry.error.message])
        .sort((a, b) => a[0] - b[0])
    /** The runs the failed jobs of `key` were moved to (`<key>.failed.<time>`). */
    const rotatedRuns = async (key: string): Promise<string[]> =>
      (
        (await postgres.db.query('SELECT DISTINCT run FROM taskmaster_failed WHERE run LIKE $1 ORDER BY run', [`${key}.failed.%`]))
          .rows as { run: string }[]
      ).map((row) => row.run)
    /** How the master names the failed jobs of run `run` in the table. */
    const tableOf = (run: string): string => `table taskmaster_failed (run '${run}') of ${postgres.server.url}`

    it('--retry-failed replays exactly the failed jobs from the table (moved aside, never deleted) as run <key>.retry; again, there is nothing to retry', async () => {
      const N = 40
      const FAILING = [3, 17, 29]
      const box = sandbox({ TM_FAIL_IDS: FAILING.join(',') })
      const first = await run(
        MASTER_BIN,
        [
          RANGE,
          `n=${N}`,
          ...pgArgs('pg-flaky', box.stateDir),
          '--spawn',
          '2',
          '--handler',
          FAULTY,
          '--retries',
          '1',
          '--retry-delay',
          '0',
          '--quiet',
        ],
        { env: box.env },
      )
      expect(first.exit, first.stderr).toEqual({ code: 1, signal: null })
      expect(await failedRows('pg-flaky')).toEqual(FAILING.map((id) => [id, 2, `job ${id} is broken`]))

      const fixedEnv = { ...box.env, TM_FIXED: '1' }
      const retry = await run(
        MASTER_BIN,
        [RANGE, ...pgArgs('pg-flaky', box.stateDir), '--retry-failed', '--spawn', '1', '--handler', FAULTY, '--quiet'],
        { env: fixedEnv },
      )
      expect(retry.exit, retry.stderr).toEqual(EXIT_OK)
      const rotated = await rotatedRuns('pg-flaky')
      expect(rotated).toHaveLength(1)
      expect(rotated[0]).toMatch(/^pg-flaky\.failed\.\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/)
      expect(await failedRows(rotated[0])).toEqual(FAILING.map((id) => [id, 2, `job ${id} is broken`]))
      expect(retry.stdout).toContain(`Retrying 3 failed jobs of run 'pg-flaky' (from ${tableOf(rotated[0])}) as run 'pg-flaky.retry'\n`)
      expect(retry.stdout).toMatch(/^Run 'pg-flaky\.retry' complete: 3 jobs \(3 done, 0 failed\)/m)
      expect(await failedRows('pg-flaky'), 'no new failed jobs').toEqual([])
      expect(await checkpointOf('pg-flaky.retry')).toMatchObject({ complete: true, position: 3, args: { 'retry-log': rotated[0] } })
      expect(attemptsOf(box.records, FAILING)).toEqual({ 3: [1, 1, 2], 17: [1, 1, 2], 29: [1, 1, 2] })
      expect(tally(recordedKeys(box.records))).toEqual(new Map(Array.from({ length: N }, (_, id) => [String(id), 1])))

      const again = await run(MASTER_BIN, [RANGE, ...pgArgs('pg-flaky', box.stateDir), '--retry-failed', '--quiet'], { env: fixedEnv })
      expect(again.exit, again.stderr).toEqual(EXIT_OK)
      expect(again.stdout).toBe("Run 'pg-flaky' has no failed jobs to retry.\n")
      const { existsSync } = await import('node:fs')
      expect(existsSync(box.stateDir)).toBe(false)
    })

    it("a --retry-failed pass killed -9 (before any job, then with half done) is resumed by the next --retry-failed; jobs failing again go to the run's table", async () => {
      const N = 30
      const FAILING = [1, 4, 7, 10, 13, 16, 19, 22, 25, 28]
      const box = sandbox({ TM_FAIL_IDS: FAILING.join(',') })
      const first = await run(
        MASTER_BIN,
        [RANGE, `n=${N}`, ...pgArgs('pg-r', box.stateDir), '--spawn', '1', '--handler', FAULTY, '--retries', '0', '--quiet'],
        { env: box.env },
      )
      expect(first.exit, first.stderr).toEqual({ code: 1, signal: null })
      expect((await failedRows('pg-r')).map(([key]) => key)).toEqual(FAILING)

      // No slave: the pass listens with every job still queued, and is killed there.
      const { master: killed } = await startMaster([RANGE, ...pgArgs('pg-r', box.stateDir), '--retry-failed', '--quiet'], { env: box.env })
      const from = killed.stdout.match(/^Retrying 10 failed jobs of run 'pg-r' \(from (.+)\) as run 'pg-r\.retry'$/m)?.[1]
      expect(from, killed.stdout).toBeDefined()
      // The original run is held while its pass runs: it cannot start beside it.
      const beside = await run(MASTER_BIN, [RANGE, `n=${N}`, ...pgArgs('pg-r', box.stateDir), '--quiet'], { env: box.env })
      expect(beside.exit).toEqual({ code: 2, signal: null })
      expect(beside.stderr).toContain("Run 'pg-r' is in use by another master")
      expect(await killHard(killed)).toEqual({ code: null, signal: 'SIGKILL' })

      // Killed again with part of the pass done.
      const address = `127.0.0.1:${await portForLater()}`
      const { master: half } = await startMaster(
        [RANGE, ...pgArgs('pg-r', box.stateDir, address), '--retry-failed', '--retries', '0', '--quiet'],
        { env: box.env },
      )
      expect(half.stdout).toContain(`Resuming the retry of 10 failed jobs of run 'pg-r' (from ${from}) as run 'pg-r.retry'\n`)
      // Jobs 1, 4, 7 and 10 fail again, then 13 hangs: the pass is killed half done, whatever the machine's speed.
      const slave = startSlave([FAULTY, '--host', address, '--concurrency', '1', '--prefetch', '1'], {
        env: { ...box.env, TM_FAIL_IDS: '1,4,7,10', TM_HANG_IDS: '13' },
      })
      // Counted finished by the pass (in its checkpoint or journal), not only logged: a resume skips them.
      const passFailed = async (): Promise<number> => {
        const journaled = (
          (await postgres.db.query("SELECT record FROM taskmaster_journal WHERE run = 'pg-r.retry'")).rows as { record: string }[]
        ).map((row) => (JSON.parse(row.record) as unknown[])[3] as number)
        return Math.max(((await checkpointOf('pg-r.retry')) as { counts: { failed: number } }).counts.failed, ...journaled)
      }
      await until('jobs 1 and 4 to fail again, counted by the pass', async () => (await passFailed()) >= 2)
      expect(await killHard(half)).toEqual({ code: null, signal: 'SIGKILL' })
      slave.kill('SIGKILL')
      await slave.exited

      const fixedEnv = { ...box.env, TM_FIXED: '1' }
      const resumed = await run(
        MASTER_BIN,
        [RANGE, ...pgArgs('pg-r', box.stateDir), '--retry-failed', '--spawn', '1', '--handler', FAULTY, '--quiet'],
        { env: fixedEnv },
      )
      expect(resumed.exit, resumed.stderr).toEqual({ code: 1, signal: null })
      expect(resumed.stdout).toContain(`Resuming the retry of 10 failed jobs of run 'pg-r' (from ${from}) as run 'pg-r.retry'\n`)
      expect(resumed.stdout).toMatch(/^Run 'pg-r\.retry' complete: \d+ jobs/m)
      expect(await checkpointOf('pg-r.retry')).toMatchObject({ complete: true, position: 10 })
      // In the run's table, once each; the failures the pass counted were skipped on resume, and
      // a failure logged but not yet counted at the kill ran again: in the log or run, never lost.
      const failedAgain = (await failedRows('pg-r')).map(([key]) => key)
      expect(failedAgain.slice(0, 2)).toEqual([1, 4])
      expect(
        failedAgain.every((key) => [1, 4, 7, 10].includes(key)),
        String(failedAgain),
      ).toBe(true)
      expect(new Set(failedAgain).size).toBe(failedAgain.length)
      const recorded = tally(recordedKeys(box.records))
      expect(
        [...recorded.values()].every((times) => times === 1),
        'each job recorded once',
      ).toBe(true)
      expect(Array.from({ length: N }, (_, id) => id).filter((id) => !recorded.has(String(id)) && !failedAgain.includes(id))).toEqual([])
      for (const id of FAILING) expect(attemptsOf(box.records, [id])[id]!.length, `job ${id}`).toBeGreaterThanOrEqual(2)
    })

    it('tm-ctl status --key --state-store reads a run from the tables without its lease: stopped, held, complete, missing', async () => {
      const box = sandbox()
      const ctl = (args: string[]) =>
        run(CTL_BIN, ['status', '--key', ...args, '--state-store', postgres.server.url], { env: { ...box.env, TM_TOKEN: undefined } })
      const { master } = await startMaster([RANGE, 'n=100000000', ...pgArgs('pg-ctl', box.stateDir), '--quiet'], { env: box.env })
      const held = await ctl(['pg-ctl', '--json'])
      expect(held.exit, held.stderr).toEqual(EXIT_OK)
      expect(JSON.parse(held.stdout)).toMatchObject({ key: 'pg-ctl', args: { n: '100000000' }, complete: false, position: 0, locked: true })
      master.kill('SIGINT')
      expect((await master.exited).code).toBe(130)
      // The server ends a session (and frees its locks) a moment after the client left.
      await until(
        "the master's session to end",
        async () =>
          ((await postgres.db.query("SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory'")).rows as { n: number }[])[0]
            ?.n === 0,
      )

      const cp = (await checkpointOf('pg-ctl')) as { elapsed: number; startedAt: string; updatedAt: string }
      const stopped = await ctl(['pg-ctl', '--json'])
      expect(stopped.exit, stopped.stderr).toEqual(EXIT_OK)
      expect(JSON.parse(stopped.stdout)).toEqual({
        key: 'pg-ctl',
        args: { n: '100000000' },
        complete: false,
        position: 0,
        last: null,
        done: 0,
        failed: 0,
        elapsedMs: cp.elapsed,
        startedAt: cp.startedAt,
        updatedAt: cp.updatedAt,
        locked: false,
        paused: false,
        checkpoint: `table taskmaster_checkpoint (run 'pg-ctl') of ${postgres.server.url}`,
      })
      expect((await ctl(['pg-ctl'])).stdout.split('\n')[0]).toBe("Run 'pg-ctl': not complete; start it again with the same --key to resume")

      // A run killed mid-way: its journal after the checkpoint counts, as a resume would find it.
      await postgres.db.query("INSERT INTO taskmaster_journal (run, record) VALUES ('pg-ctl', '[7,6,7,0,[],[]]')")
      expect(JSON.parse((await ctl(['pg-ctl', '--json'])).stdout)).toMatchObject({ position: 7, last: 6, done: 7, failed: 0 })

      const whole = await run(
        MASTER_BIN,
        [RANGE, 'n=20', ...pgArgs('pg-ctl-whole', box.stateDir), '--spawn', '1', '--handler', RECORD, '--quiet'],
        { env: box.env },
      )
      expect(whole.exit, whole.stderr).toEqual(EXIT_OK)
      expect(JSON.parse((await ctl(['pg-ctl-whole', '--json'])).stdout)).toMatchObject({
        key: 'pg-ctl-whole',
        complete: true,
        position: 20,
        last: 19,
        done: 20,
        failed: 0,
        locked: false,
      })
      expect((await ctl(['pg-ctl-whole'])).stdout.split('\n')[0]).toBe("Run 'pg-ctl-whole': complete")

      const none = await ctl(['nope'])
      expect(none.exit.code).toBe(2)
      expect(none.stderr).toBe(
        `tm-ctl: No run 'nope' in the state store ${postgres.server.url} (give the --key and --state-store the master was given)\n`,
      )
      // Read-only: it took no lease (and made no row) for the runs it read.
      expect((await postgres.db.query("SELECT run FROM taskmaster_lease WHERE run IN ('nope', 'pg-ctl-whole') ORDER BY run")).rows).toEqual(
        [{ run: 'pg-ctl-whole' }],
      )
    })
  },
)
