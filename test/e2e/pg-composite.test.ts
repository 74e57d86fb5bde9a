// pgTable by a composite key against a real PostgreSQL: a table keyed by (tenant_id, id)
// whose ids repeat across tenants (and go beyond 2^53 in one), walked by real masters and
// slaves through a jobs module that is one export (`export default pgTable(...)`, its
// database the run's db= argument): killed -9 mid-run and resumed without skipping a row,
// and sharded in two by the first key column. In the test's process: total() and
// progress() on that table, and the pool pgTable makes from a connection string ended
// with the generator.
import { afterEach, beforeAll, describe, expect, it } from 'vitest'
import { pgTable } from '../../src/pg/index.js'
import { POSTGRES_MISSING, usePostgres } from '../helpers/postgres.js'
import {
  EXIT_OK,
  MASTER_BIN,
  fixture,
  masterArgs,
  readCheckpoint,
  recordedKeys,
  run,
  sandbox,
  spawnArgs,
  startMaster,
  startSlave,
  tally,
} from '../helpers/proc.js'
import { expectRunEndsThenStop, killHard, tearDown, until } from '../helpers/reliability.js'

const JOBS = fixture('pg-composite.mjs')
const RECORD = fixture('tuple-record.mjs')
const TENANTS = 6
const PER_TENANT = 1000
const ROWS = TENANTS * PER_TENANT
/** Tenant 4's ids start here: beyond 2^53, where a number would lose digits. */
const BIG = 9_007_199_254_740_990n
/** Every row as the record handler writes it, `tenant_id/id`: ids 1..1000 in each tenant but 4. */
const ALL = Array.from({ length: TENANTS }, (_, t) =>
  Array.from({ length: PER_TENANT }, (_, g) => `${t + 1}/${t + 1 === 4 ? BIG + BigInt(g + 1) : g + 1}`),
).flat()
const tenantOf = (row: string): number => Number(row.split('/')[0])

/** Rows recorded other than once (of `all`), and rows recorded that `all` does not hold. */
function runsOf(records: string[], all: string[]): { notOnce: string[]; unknown: string[]; missing: string[] } {
  const counts = tally(records)
  const notOnce = all.filter((row) => counts.get(row) !== 1)
  const missing = all.filter((row) => !counts.has(row))
  for (const row of all) counts.delete(row)
  return { notOnce, unknown: [...counts.keys()], missing }
}

// In CI PostgreSQL must be there (.ci/run installs it): fail loudly rather than skip.
if (POSTGRES_MISSING !== undefined && process.env.CI) {
  it('PostgreSQL is installed', () => {
    throw new Error(POSTGRES_MISSING)
  })
}

describe.skipIf(POSTGRES_MISSING !== undefined)(
  `taskmaster-run/pg by a composite key${POSTGRES_MISSING ? ` (skipped: ${POSTGRES_MISSING})` : ''}`,
  () => {
    const postgres = usePostgres()

    beforeAll(async () => {
      await postgres.db.query('CREATE TABLE orders (tenant_id int NOT NULL, id int8 NOT NULL, PRIMARY KEY (tenant_id, id))')
      // Inserted id by id across the tenants, so the table's physical order is not the key's.
      await postgres.db.query(
        `INSERT INTO orders SELECT t, CASE WHEN t = 4 THEN ${BIG} + g ELSE g END FROM generate_series(1, ${PER_TENANT}) g, generate_series(1, ${TENANTS}) t`,
      )
    })

    afterEach(tearDown)

    it('a run killed -9 mid-run and resumed processes every row at least once and skips none; the checkpoint keeps the tuple', async () => {
      const box = sandbox({ TM_RECORD_DELAY_MS: '1' })
      const argsAt = (host: string): string[] => [
        JOBS,
        `db=${postgres.server.url}`,
        '--key',
        'orders',
        '--state-dir',
        box.stateDir,
        '--host',
        host,
        '--quiet',
      ]
      // The restarted master listens where the first one did, where the slave looks for it.
      const first = await startMaster(argsAt('127.0.0.1:0'), { env: box.env })
      const slave = startSlave([RECORD, '--host', first.host, '--concurrency', '2', '--reconnect', '0'], { env: box.env })
      await until('a checkpoint with 1,000 rows done', () => readCheckpoint(box, 'orders').counts.done >= 1000, 60_000)
      expect(await killHard(first.master)).toEqual({ code: null, signal: 'SIGKILL' })

      const killed = readCheckpoint(box, 'orders')
      expect(killed.complete).toBe(false)
      expect(killed.counts.done).toBeLessThan(ROWS)
      // The watermark's key is the tuple as one string, the int8 id as its digits.
      expect(killed.last).toMatch(/^\[[1-6],"\d+"\]$/)
      expect(recordedKeys(box.records).length).toBeLessThan(ROWS)

      const { master } = await startMaster(argsAt(first.host), { env: box.env })
      await expectRunEndsThenStop(master, [slave])
      expect(master.stdout).toMatch(/^Run 'orders' complete: \d+ jobs \(\d+ done, 0 failed/m)
      expect(readCheckpoint(box, 'orders')).toMatchObject({
        complete: true,
        position: ROWS,
        last: `[${TENANTS},"${PER_TENANT}"]`,
        counts: { failed: 0 },
      })
      const records = recordedKeys(box.records)
      const { missing, unknown } = runsOf(records, ALL)
      expect(missing.slice(0, 20), `${missing.length} rows never processed`).toEqual([])
      expect(unknown.slice(0, 20), 'rows recorded that the table does not hold').toEqual([])
      // Repeated at most: what the slave held when the master was killed, beyond the watermark.
      expect(records.length - ROWS).toBeLessThan(1000)
    })

    it('two shards split the rows by tenant_id mod 2, each exactly its own, together every row exactly once', async () => {
      const stateDir = sandbox().stateDir
      const boxes = [1, 2].map(() => sandbox())
      const runs = await Promise.all(
        [1, 2].map((i) =>
          run(
            MASTER_BIN,
            [
              JOBS,
              `db=${postgres.server.url}`,
              '--key',
              'orders-sharded',
              '--state-dir',
              stateDir,
              '--host',
              '127.0.0.1:0',
              '--shard',
              `${i}/2`,
              ...spawnArgs(1, RECORD),
              '--quiet',
            ],
            {
              env: boxes[i - 1].env,
            },
          ),
        ),
      )
      for (const done of runs) {
        expect(done.exit, done.stderr).toEqual(EXIT_OK)
        expect(done.stdout).toMatch(new RegExp(`complete: ${ROWS / 2} jobs \\(${ROWS / 2} done, 0 failed`))
      }
      for (const i of [1, 2]) {
        const own = ALL.filter((row) => tenantOf(row) % 2 === i - 1)
        const { notOnce, unknown } = runsOf(recordedKeys(boxes[i - 1].records), own)
        expect(notOnce.slice(0, 20), `shard ${i}: ${notOnce.length} of its rows not processed exactly once`).toEqual([])
        expect(unknown.slice(0, 20), `shard ${i}: rows of the other shard`).toEqual([])
      }
      const { notOnce, unknown } = runsOf([...recordedKeys(boxes[0].records), ...recordedKeys(boxes[1].records)], ALL)
      expect(notOnce).toEqual([])
      expect(unknown).toEqual([])
    })

    it('without its db argument the run stops before it listens with one line naming it (exit 2), and no total() warning before it', async () => {
      const box = sandbox()
      const refused = await run(MASTER_BIN, [JOBS, ...masterArgs(box, 'no-db'), '--quiet'], { env: box.env })
      // pgTable's check says it before the first job (the generator said it once the run was under way, exit 1).
      expect(refused.exit).toEqual({ code: 2, signal: null })
      expect(refused.stderr).toMatch(
        /^tm-master: pgTable: no database: give the run argument db \(db=postgres:\/\/user@host:5432\/database, or db=env:DATABASE_URL\)$/m,
      )
      expect(refused.stdout).toBe('')
      expect(refused.stderr).not.toContain('total()')
      expect(refused.stderr).not.toContain('    at ')
    })

    it('total() counts the rows (a shard its tenants), progress() places a tuple by its tenant', async () => {
      const source = pgTable({ db: postgres.db, table: 'orders', key: ['tenant_id', 'id'] })
      expect(await source.total({ args: {} })).toBe(ROWS)
      expect(await source.total({ args: {}, shard: { index: 1, count: 2 } })).toBe(ROWS / 2)
      // Tenants 1..6: through tenant 3 is half the key space, through tenant 6 all of it.
      expect(await source.progress(`[3,"${BIG + 7n}"]`)).toBe(0.5)
      expect(await source.progress('[6,"1"]')).toBe(1)
      expect(await source.progress('[0,"1"]')).toBe(0)
    })

    it('the pool made from the db argument is ended when the generator ends, and when it is stopped', async () => {
      const probe = 'tm_pool_probe'
      const open = async (): Promise<number> =>
        Number(
          (await postgres.db.query<{ n: string }>('SELECT count(*) AS n FROM pg_stat_activity WHERE application_name = $1', [probe]))
            .rows[0].n,
        )
      const source = pgTable({ db: (args) => args.db, table: 'orders', key: ['tenant_id', 'id'], pageSize: 500 })
      const ctx = { position: 0, args: { db: `${postgres.server.url}?application_name=${probe}` } }
      let rows = 0
      for await (const row of source.getJobs(undefined, ctx)) {
        if (rows++ === 0) expect([row, await open()]).toEqual([{ tenant_id: 1, id: '1' }, 1])
      }
      expect(rows).toBe(ROWS)
      await until('the pool to be ended', async () => (await open()) === 0, 3000)
      // Stopped after one row: return(), as the master does when a run stops.
      for await (const row of source.getJobs(undefined, ctx)) {
        expect([row, await open()]).toEqual([{ tenant_id: 1, id: '1' }, 1])
        break
      }
      await until('the pool to be ended', async () => (await open()) === 0, 3000)
    })
  },
)
