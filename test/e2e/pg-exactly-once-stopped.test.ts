// exactlyOnce and a slave stopped (SIGSTOP) past the master's heartbeat timeout while another
// slave goes on: the master drops it and sends its jobs again, the other slave writes them,
// they become durable and their claims are compacted. When the stopped slave continues it
// still holds copies of those jobs: their claims are gone, and only the floor compaction
// records per incarnation ("every job below this seq is done") keeps it from writing them again.
import { afterEach, describe, expect, it } from 'vitest'
import { POSTGRES_MISSING, usePostgres } from '../helpers/postgres.js'
import { EXIT_OK, MASTER_BIN, Proc, sandbox, startSlave } from '../helpers/proc.js'
import { freeze, portForLater, stopLongLived, tearDown, until } from '../helpers/reliability.js'
import { TOUCH, TOUCH_JOBS, expectEachOnce, rows, touchTable, touchedRows } from '../helpers/touch.js'

// In CI PostgreSQL must be there (.ci/run installs it): fail loudly rather than skip.
if (POSTGRES_MISSING !== undefined && process.env.CI) {
  it('PostgreSQL is installed', () => {
    throw new Error(POSTGRES_MISSING)
  })
}

describe.skipIf(POSTGRES_MISSING !== undefined)(
  `exactlyOnce, a slave stopped past the heartbeat timeout${POSTGRES_MISSING ? ` (skipped: ${POSTGRES_MISSING})` : ''}`,
  () => {
    const postgres = usePostgres()

    afterEach(tearDown)

    it('the stopped slave continues after its jobs were written by the other and compacted: every row once', async () => {
      // Before the floors, 6 runs of 6 wrote 6 to 214 rows twice.
      const N = 12_000
      const name = 'touch_stopped'
      await touchTable(postgres.server.url, name, N)
      const url = postgres.server.url
      // A transaction the stopped slave left open is ended by the server after a second, so
      // the other slave is not held on its claims' locks (a stopped machine's sessions end so too).
      const box = sandbox({ TM_PG_TABLE: name, PGOPTIONS: '-c idle_in_transaction_session_timeout=1000' })
      const host = `127.0.0.1:${await portForLater()}`
      const master = new Proc(
        MASTER_BIN,
        [
          TOUCH_JOBS,
          `db=${url}`,
          '--key',
          name,
          '--state-dir',
          box.stateDir,
          '--host',
          host,
          '--heartbeat',
          '0.5',
          '--rate',
          '1500',
          '--quiet',
        ],
        { env: box.env },
      )
      const slave = (): Proc =>
        startSlave([TOUCH, '--host', host, '--batch', '100', '--concurrency', '3', '--reconnect', '0'], { env: box.env })
      const stopped = slave()
      const other = slave()
      await until(
        () => `a tenth of the rows touched (${stopped.stderr.slice(-800)})`,
        async () => ((await touchedRows(url, name)) ?? 0) >= N / 10,
        60_000,
      )
      freeze(stopped)
      const at = (await touchedRows(url, name)) ?? 0
      // Held until the other slave wrote well past everything the stopped one held (its window,
      // a few batches) and the master's durable position followed: their claims are compacted.
      await until('the other slave to go on without it', async () => ((await touchedRows(url, name)) ?? 0) >= at + 3000, 60_000)
      await until(
        'the claims below the durable position compacted',
        async () => Number((await rows(url, `SELECT min(seq)::text AS low FROM taskmaster_claims`))[0]?.low ?? Infinity) > at + 1000,
        60_000,
      )
      stopped.kill('SIGCONT')
      expect(await master.exited, master.stderr).toEqual(EXIT_OK)
      for (const proc of [stopped, other]) await stopLongLived(proc)
      await expectEachOnce(url, name, N)
    })
  },
)
