// Chaos on the PostgreSQL state store, bounded and reproducible: a run of 12,000 jobs held
// by an active master and a standby (both --standby, slaves given both addresses) while
// the active one is killed -9 twice and paused (SIGSTOP) past its lease twice, in an order
// and at points of progress drawn from a seeded generator; each time the standby takes the
// run over, the old master (killed, or continued and stopped by its lost lease) comes back
// as the new standby. Throughout, masters of other keys start and stop on the same
// database. At the end every job is done, the repeats are within the bound below, every
// paused master stopped on its lease without writing, and the server logged no deadlock.
import { afterEach, describe, expect, it } from 'vitest'
import { POSTGRES_MISSING, usePostgres } from '../helpers/postgres.js'
import type { Exit } from '../helpers/proc.js'
import { MASTER_BIN, Proc, fixture, run, sandbox, startSlave } from '../helpers/proc.js'
import {
  RANGE,
  RECORD,
  expectEachKeyAtLeastOnce,
  expectRunEndsThenStop,
  freeze,
  killHard,
  portForLater,
  recordedCount,
  seeded,
  shuffle,
  tearDown,
  until,
} from '../helpers/reliability.js'
import { matching } from '../helpers/matchers.js'

// In CI PostgreSQL must be there (.ci/run installs it): fail loudly rather than skip.
if (POSTGRES_MISSING !== undefined && process.env.CI) {
  it('PostgreSQL is installed', () => {
    throw new Error(POSTGRES_MISSING)
  })
}

const N = 12_000
const SLAVES = 2
const C = 4
/** Jobs the fleet holds at most: each slave's concurrency plus its fixed prefetch. */
const FLEET = SLAVES * (C + C)
/**
 * Acks a master may hold that its store has not committed: those of the write in flight
 * and of the queue behind it, one or two round trips to PostgreSQL (a few ms at the fleet's
 * 8 jobs/ms at most; generous for a busy machine).
 */
const UNCOMMITTED_ACKS = 64
/**
 * What one loss of the active master repeats at most: the jobs the fleet held (run again by
 * the new master), the acks not yet committed, and for a paused master the jobs it may hand
 * out once continued, before its first renewal finds the lease gone (slaves that reached
 * its socket while it was paused): the fleet's window again.
 */
const PER_LOSS = 2 * FLEET + UNCOMMITTED_ACKS
const KILLS = 2
const PAUSES = 2
const SEED = 0x9e5
const HEARTBEAT = 0.5

type Loss = { at: number; how: 'kill' | 'pause' }

/** The losses, in a seeded order: one in each of 4 equal slices of jobs 1,500..9,500, at a random point of it. */
function plan(random: () => number): Loss[] {
  const hows = shuffle([...Array<'kill'>(KILLS).fill('kill'), ...Array<'pause'>(PAUSES).fill('pause')], random)
  const slice = 8000 / hows.length
  return hows.map((how, i) => ({ at: Math.round(1500 + i * slice + random() * slice * 0.75), how }))
}

describe.skipIf(POSTGRES_MISSING !== undefined)(`PostgreSQL chaos${POSTGRES_MISSING ? ` (skipped: ${POSTGRES_MISSING})` : ''}`, () => {
  const postgres = usePostgres()

  afterEach(tearDown)

  it(`loses no job of ${N} through ${KILLS} kills (-9) and ${PAUSES} pauses past the lease of the active master, beside masters of other keys, with no deadlock`, async () => {
    const box = sandbox({ TM_RECORD_DELAY_MS: '1' })
    const masterAt = (host: string): Proc =>
      new Proc(
        MASTER_BIN,
        [
          RANGE,
          `n=${N}`,
          '--key',
          'pg-chaos',
          '--state-store',
          postgres.server.url,
          '--host',
          host,
          '--heartbeat',
          String(HEARTBEAT),
          '--standby',
          '--quiet',
        ],
        { env: box.env },
      )
    const listening = (master: Proc, host: string): Promise<unknown> =>
      until(
        () => `the master on ${host} to take the run; its stderr: ${master.stderr}`,
        () => master.stdout.includes(`Taskmaster server running on '${host}'`) || master.child.exitCode !== null,
        60_000,
      )
    let active = { host: `127.0.0.1:${await portForLater()}`, master: undefined as unknown as Proc }
    let standby = { host: `127.0.0.1:${await portForLater()}`, master: undefined as unknown as Proc }
    active.master = masterAt(active.host)
    await listening(active.master, active.host)
    standby.master = masterAt(standby.host)
    await standby.master.waitFor("Standing by for run 'pg-chaos'", 'stdout')
    // Long-lived slaves: between two masters a slave cannot tell "no master yet" from "the run is over".
    const slaves = Array.from({ length: SLAVES }, () =>
      startSlave(
        [RECORD, '--host', `${active.host},${standby.host}`, '--concurrency', String(C), '--prefetch', String(C), '--reconnect', '0'],
        { env: box.env },
      ),
    )

    // Masters of other keys, one after another until the run ends: half run 200 jobs to the end, half are stopped once listening.
    let ended = false
    const others: Exit[] = []
    const otherMasters = (async () => {
      for (let i = 0; !ended; i++) {
        const args = [
          RANGE,
          'n=200',
          '--key',
          `pg-chaos-other-${i}`,
          '--state-store',
          postgres.server.url,
          '--host',
          '127.0.0.1:0',
          '--quiet',
        ]
        if (i % 2 === 0) {
          others.push((await run(MASTER_BIN, [...args, '--spawn', '1', '--handler', fixture('noop.mjs')])).exit)
        } else {
          const other = new Proc(MASTER_BIN, args)
          await other.waitFor('Taskmaster server running')
          other.kill('SIGINT')
          others.push(await other.exited)
        }
      }
    })()

    const lostLease: string[] = []
    for (const loss of plan(seeded(SEED))) {
      const current = active.master
      await until(`${loss.at} jobs recorded`, () => recordedCount(box.records) >= loss.at || current.child.exitCode !== null, 60_000)
      expect(current.child.exitCode, `the active master ended before the ${loss.how} at ${loss.at} jobs: ${current.stderr}`).toBeNull()
      if (loss.how === 'kill') {
        expect(await killHard(current)).toEqual({ code: null, signal: 'SIGKILL' })
        await listening(standby.master, standby.host)
      } else {
        // Paused, its session (and its advisory lock) live on: only the lease's deadline frees the run.
        freeze(current)
        await listening(standby.master, standby.host)
        current.kill('SIGCONT')
        expect(await current.exited, current.stderr).toEqual({ code: 1, signal: null })
        lostLease.push(current.stderr.trimEnd().split('\n').at(-1)!)
      }
      ;[active, standby] = [standby, { host: active.host, master: masterAt(active.host) }]
      await standby.master.waitFor("Standing by for run 'pg-chaos'", 'stdout')
    }

    await expectRunEndsThenStop(active.master, slaves)
    ended = true
    await otherMasters
    expect(active.master.stdout).toMatch(/^Run 'pg-chaos' complete: \d+ jobs \(\d+ done, 0 failed(, \d+ skipped as already done)?\)/m)
    // The standby takes the lease once the active master ends, and finds the run complete.
    expect(await standby.master.exited, standby.master.stderr).toEqual({ code: 0, signal: null })
    expect(standby.master.stdout).toContain(`Run 'pg-chaos' is already complete (${N} jobs done, 0 failed)`)

    expect(lostLease).toEqual(
      Array.from({ length: PAUSES }, () =>
        matching(
          /^tm-master: Run 'pg-chaos' lost its lease to another master in the state store postgres:\/\/postgres@127\.0\.0\.1:\d+\/postgres \(/,
        ),
      ),
    )
    const row = (await postgres.db.query<{ checkpoint: string }>("SELECT checkpoint FROM taskmaster_checkpoint WHERE run = 'pg-chaos'"))
      .rows[0]
    expect(JSON.parse(row.checkpoint)).toMatchObject({ complete: true, position: N, last: N - 1, counts: { done: N, failed: 0 } })
    const lease = (await postgres.db.query<{ fence: string }>("SELECT fence FROM taskmaster_lease WHERE run = 'pg-chaos'")).rows[0]
    // Taken once at the start, once at each loss, once by the last standby.
    expect(Number(lease.fence)).toBeGreaterThanOrEqual(1 + KILLS + PAUSES + 1)

    expect(others.length).toBeGreaterThanOrEqual(2)
    expect(others.filter((exit) => !(exit.signal === null && (exit.code === 0 || exit.code === 130)))).toEqual([])
    expect(postgres.server.readLog()).not.toMatch(/deadlock detected/)
    const repeats = expectEachKeyAtLeastOnce(box.records, N)
    expect(repeats).toBeLessThanOrEqual((KILLS + PAUSES) * PER_LOSS)
  })
})
