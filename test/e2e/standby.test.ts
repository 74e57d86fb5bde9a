// A standby master (--standby) with the state in PostgreSQL: it waits for the run's lock
// while the active master runs, and when the active one is killed -9 mid-run it takes the
// run over from the state in PostgreSQL; slaves given both addresses (--host a,b) follow
// it; every job completes, nothing lost, repeats only the jobs in flight at the kill.
import { afterEach, describe, expect, it } from 'vitest'
import { POSTGRES_MISSING, usePostgres } from '../helpers/postgres.js'
import { MASTER_BIN, Proc, run, sandbox, startMaster, startSlave } from '../helpers/proc.js'
import {
  RANGE,
  RECORD,
  expectEachKeyAtLeastOnce,
  freeze,
  portForLater,
  expectRunEnds,
  killHard,
  linesMatching,
  recordedCount,
  repeatBound,
  resumedDone,
  tearDown,
  until,
} from '../helpers/reliability.js'

// In CI PostgreSQL must be there (.ci/run installs it): fail loudly rather than skip.
if (POSTGRES_MISSING !== undefined && process.env.CI) {
  it('PostgreSQL is installed', () => {
    throw new Error(POSTGRES_MISSING)
  })
}

describe.skipIf(POSTGRES_MISSING !== undefined)(`--standby${POSTGRES_MISSING ? ` (skipped: ${POSTGRES_MISSING})` : ''}`, () => {
  const postgres = usePostgres()

  afterEach(tearDown)

  const HEARTBEAT = 0.5

  it('kill -9 of the active master mid-run: the standby takes over, the slaves follow it, every job completes', async () => {
    const N = 6000
    const C = 4
    const box = sandbox({ TM_RECORD_DELAY_MS: '2' })
    const [a, b] = [`127.0.0.1:${await portForLater()}`, `127.0.0.1:${await portForLater()}`]
    const args = (host: string): string[] => [
      RANGE,
      `n=${N}`,
      '--key',
      'failover',
      '--state-store',
      postgres.server.url,
      '--state-dir',
      box.stateDir,
      '--host',
      host,
      '--heartbeat',
      String(HEARTBEAT),
      '--quiet',
    ]
    const active = (await startMaster(args(a), { env: box.env })).master
    const standby = new Proc(MASTER_BIN, [...args(b), '--standby'], { env: box.env })
    await standby.waitFor("Standing by for run 'failover': waiting for the active master's lease in the state store\n", 'stdout')
    const slaves = [1, 2].map(() =>
      startSlave([RECORD, '--host', `${a},${b}`, '--concurrency', String(C), '--prefetch', String(C)], { env: box.env }),
    )
    await until('a third of the jobs to be recorded', () => recordedCount(box.records) >= N / 3)
    expect(standby.stdout).not.toContain('Taskmaster server running')

    expect(await killHard(active)).toEqual({ code: null, signal: 'SIGKILL' })
    // Every job run so far (the slaves record a job as they finish it).
    const ranBefore = recordedCount(box.records)
    // The advisory lock is freed when the killed master's session ends; the standby asks every heartbeat / 4.
    await standby.waitFor(`Taskmaster server running on '${b}'`, 'stdout')
    await standby.waitFor(/^Resuming 'failover' .*$/m, 'stdout')
    const durable = resumedDone(standby.stdout, 'failover')

    await expectRunEnds(standby, slaves)
    expect(standby.stdout).toMatch(/^Run 'failover' complete: \d+ jobs \(\d+ done, 0 failed(, \d+ skipped as already done)?\)/m)
    const row = (await postgres.db.query<{ checkpoint: string }>("SELECT checkpoint FROM taskmaster_checkpoint WHERE run = 'failover'"))
      .rows[0]
    expect(JSON.parse(row.checkpoint)).toMatchObject({ complete: true, position: N, counts: { done: N, failed: 0 } })
    for (const slave of slaves) {
      expect(linesMatching(slave.stderr, new RegExp(`Connected to the master at ws://${a} `))).toHaveLength(1)
      expect(linesMatching(slave.stderr, new RegExp(`Connected to the master at ws://${b} `))).toHaveLength(1)
    }
    expect(expectEachKeyAtLeastOnce(box.records, N)).toBeLessThanOrEqual(repeatBound(ranBefore, durable, C))
  })

  it('SIGSTOP of the active master past its lease: the standby takes the lease over and finishes; continued, the old master stops with one line and writes nothing', async () => {
    const N = 6000
    const C = 4
    const box = sandbox({ TM_RECORD_DELAY_MS: '2' })
    const [a, b] = [`127.0.0.1:${await portForLater()}`, `127.0.0.1:${await portForLater()}`]
    const args = (host: string): string[] => [
      RANGE,
      `n=${N}`,
      '--key',
      'frozen',
      '--state-store',
      postgres.server.url,
      '--host',
      host,
      '--heartbeat',
      String(HEARTBEAT),
      '--quiet',
    ]
    const active = (await startMaster(args(a), { env: box.env })).master
    const standby = new Proc(MASTER_BIN, [...args(b), '--standby'], { env: box.env })
    await standby.waitFor("Standing by for run 'frozen'", 'stdout')
    const slaves = [1, 2].map(() =>
      startSlave([RECORD, '--host', `${a},${b}`, '--concurrency', String(C), '--prefetch', String(C)], { env: box.env }),
    )
    await until('a third of the jobs to be recorded', () => recordedCount(box.records) >= N / 3)

    // Frozen, its session and its advisory lock live on: only the lease's deadline frees the run.
    freeze(active)
    const ranBefore = recordedCount(box.records)
    await until(
      () => `the standby to take over; its stderr: ${standby.stderr}`,
      () => standby.stdout.includes(`Taskmaster server running on '${b}'`),
      30_000,
    )
    await standby.waitFor(/^Resuming 'frozen' .*$/m, 'stdout')
    const durable = resumedDone(standby.stdout, 'frozen')
    await expectRunEnds(standby, slaves)
    const state = async (): Promise<unknown[]> => [
      (await postgres.db.query("SELECT checkpoint FROM taskmaster_checkpoint WHERE run = 'frozen'")).rows,
      (await postgres.db.query("SELECT count(*)::int AS n FROM taskmaster_journal WHERE run = 'frozen'")).rows,
      (await postgres.db.query("SELECT count(*)::int AS n FROM taskmaster_failed WHERE run = 'frozen'")).rows,
    ]
    const written = await state()
    expect(JSON.parse((written[0] as { checkpoint: string }[])[0].checkpoint)).toMatchObject({
      complete: true,
      position: N,
      counts: { done: N, failed: 0 },
    })

    // Continued, it finds its lease gone at its first write: it stops and writes nothing.
    active.kill('SIGCONT')
    expect(await active.exited, active.stderr).toEqual({ code: 1, signal: null })
    expect(active.stderr).not.toContain('    at ')
    // Its last word: the lease is lost (the run's log said it when it stopped, too).
    expect(active.stderr.trimEnd().split('\n').at(-1)).toMatch(
      /^tm-master: Run 'frozen' lost its lease to another master in the state store postgres:\/\/postgres@127\.0\.0\.1:\d+\/postgres \(this master did not renew it for 2 s: it was paused, or cut off from the database\); it stops without writing anything more$/,
    )
    expect(await state()).toEqual(written)
    expect(expectEachKeyAtLeastOnce(box.records, N)).toBeLessThanOrEqual(repeatBound(ranBefore, durable, C))
  })

  it('a standby stopped while it waits ends at once, with a message, having run nothing', async () => {
    const box = sandbox()
    const { master } = await startMaster(
      [RANGE, 'n=100000000', '--key', 'waiting', '--state-store', postgres.server.url, '--host', '127.0.0.1:0', '--quiet'],
      { env: box.env },
    )
    const standby = new Proc(
      MASTER_BIN,
      [RANGE, 'n=100000000', '--key', 'waiting', '--state-store', postgres.server.url, '--host', '127.0.0.1:0', '--standby', '--quiet'],
      { env: box.env },
    )
    await standby.waitFor('Standing by', 'stdout')
    standby.kill('SIGINT')
    expect(await standby.exited, standby.stderr).toEqual({ code: 1, signal: null })
    expect(standby.stderr).toMatch(
      /^tm-master: Stopped while standing by for run 'waiting' \(the active master still holds its lease in postgres:\/\/postgres@127\.0\.0\.1:\d+\/postgres\)\n$/,
    )
    master.kill('SIGINT')
    expect((await master.exited).code).toBe(130)
  })

  it('--standby without --state-store is a usage error', async () => {
    const done = await run(MASTER_BIN, [RANGE, '--standby', '--host', '127.0.0.1:0'])
    expect(done.exit).toEqual({ code: 2, signal: null })
    expect(done.stderr).toBe(
      'tm-master: options.standby needs options.stateStore (--standby needs --state-store postgres://...): a standby takes over a lock held in PostgreSQL\n',
    )
  })
})
