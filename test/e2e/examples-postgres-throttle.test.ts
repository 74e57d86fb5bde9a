// examples/postgres/throttle.ts against a real PostgreSQL (test/helpers/postgres.ts) with
// the real bins: one server has no replicas, so its real lag query finds nothing to hold
// on, and the run's lag_table= argument gives a lag the test sets. While the lag is over
// max_lag the run holds with the lag in /status; once it is under, every job runs once.
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { LAG_QUERY, closeLagPool, replicationLag, throttle } from '../../examples/postgres/throttle.js'
import { POSTGRES_MISSING, usePostgres } from '../helpers/postgres.js'
import { EXIT_OK, ROOT, expectEachKeyRan, fixture, masterArgs, recordedKeys, sandbox, startMaster, startSlave } from '../helpers/proc.js'
import { statusReader } from '../helpers/poll.js'
import { tearDown } from '../helpers/reliability.js'

const THROTTLE = join(ROOT, 'examples/postgres/throttle.ts')
/** The run has no token. */
const { statusWhere } = statusReader()

if (POSTGRES_MISSING !== undefined && process.env.CI) {
  it('PostgreSQL is installed', () => {
    throw new Error(POSTGRES_MISSING)
  })
}

describe.skipIf(POSTGRES_MISSING !== undefined)(
  `examples/postgres/throttle.ts${POSTGRES_MISSING ? ` (skipped: ${POSTGRES_MISSING})` : ''}`,
  () => {
    const postgres = usePostgres()

    afterEach(tearDown)

    it('runs its real lag query on a server: a primary without replicas has no lag, and the check lets jobs go', async () => {
      expect((await postgres.db.query(LAG_QUERY)).rows).toEqual([{ seconds: null }])
      const signal = new AbortController().signal
      expect(await replicationLag({ db: postgres.server.url })).toBeNull()
      expect(await throttle({ args: { db: postgres.server.url, max_lag: '1' }, signal })).toBe(false)
      await closeLagPool()
    })

    it('holds a live run while the lag the test sets is over max_lag, shows it in /status, and goes on once it is under', async () => {
      await postgres.db.query('DROP TABLE IF EXISTS drill_lag')
      await postgres.db.query('CREATE TABLE drill_lag (seconds double precision)')
      await postgres.db.query('INSERT INTO drill_lag VALUES (4.25)')
      const box = sandbox()
      const args = [`db=${postgres.server.url}`, 'lag_table=drill_lag', 'max_lag=1', 'n=300']
      const { master, host } = await startMaster(
        [fixture('range.mjs'), ...args, ...masterArgs(box, 'lagged'), '--quiet', '--throttle', THROTTLE, '--throttle-interval', '0.2'],
        { env: box.env },
      )
      const slave = startSlave([fixture('record.mjs'), '--host', host, '--concurrency', '4', '--reconnect', '2'], { env: box.env })
      const doc = await statusWhere(
        host,
        'the throttle to hold on the lag',
        (status) =>
          status.slaves.length === 1 &&
          status.run.controls.throttled !== null &&
          status.run.controls.throttled !== 'waiting for the first throttle check',
      )
      expect(doc.run.controls).toEqual({
        paused: false,
        rate: null,
        maxInFlight: null,
        throttled: 'replication lag 4.3 s > 1 s',
        throttle: THROTTLE,
      })
      expect(doc.run).toMatchObject({ done: 0, inFlight: 0, queued: 300 })
      expect(recordedKeys(box.records)).toEqual([])
      await postgres.db.query('UPDATE drill_lag SET seconds = 0.4')
      expect(await master.exited, master.stderr).toEqual(EXIT_OK)
      expect(await slave.exited).toEqual(EXIT_OK)
      expectEachKeyRan(box.records, 300)
    })
  },
)
