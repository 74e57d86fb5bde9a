// The backfill with no code against a real PostgreSQL (test/helpers/postgres.ts):
// `tm-master taskmaster-run/pg/table ... --handler taskmaster-run/pg/sql sql=...`, the
// package's own modules named on the command line. A `touched` counter column counts how
// often each row was written: every row exactly once in a plain run, with a where clause, by a
// composite key and over two shards; at least once and none lost through a master kill -9;
// a row whose statement fails in the failed-jobs log, then run by --retry-failed; a lagging
// replica holding dispatch (max-lag=). Every mistake of input is one line, exit 2, before
// any job: nothing written, no row marked failed.
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import pg from 'pg'
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { POSTGRES_MISSING, usePostgres } from '../helpers/postgres.js'
import { statusReader } from '../helpers/poll.js'
import {
  EXIT_OK,
  MASTER_BIN,
  SLAVE_BIN,
  expectUsageError,
  masterArgs,
  readCheckpoint,
  run,
  sandbox,
  startMaster,
  startSlave,
} from '../helpers/proc.js'
import type { Sandbox } from '../helpers/proc.js'
import { expectRunEndsThenStop, failedLogPath, killHard, readFailedLog, tearDown, until } from '../helpers/reliability.js'

const ROWS = 6000
/** The README's statement, counting each write. */
const DOMAIN = "UPDATE users SET domain = lower(split_part(email, '@', 2)), touched = touched + 1 WHERE id = ANY($1)"
const TABLE = 'taskmaster-run/pg/table'
const SQL = 'taskmaster-run/pg/sql'
const { statusWhere } = statusReader()

if (POSTGRES_MISSING !== undefined && process.env.CI) {
  it('PostgreSQL is installed', () => {
    throw new Error(POSTGRES_MISSING)
  })
}

describe.skipIf(POSTGRES_MISSING !== undefined)(
  `the backfill with no code${POSTGRES_MISSING ? ` (skipped: ${POSTGRES_MISSING})` : ''}`,
  () => {
    const postgres = usePostgres()
    const env = (box: Sandbox): NodeJS.ProcessEnv => ({ ...box.env, DATABASE_URL: postgres.server.url })
    /** The master of run `key` over `args`, with `spawn` local slaves running pg/sql. */
    const noCode = (
      box: Sandbox,
      key: string,
      args: string[],
      spawn = 2,
      more: string[] = [],
    ): Promise<ReturnType<typeof run> extends Promise<infer P> ? P : never> =>
      run(
        MASTER_BIN,
        [
          TABLE,
          'db=env:DATABASE_URL',
          ...args,
          ...masterArgs(box, key),
          '--spawn',
          String(spawn),
          '--handler',
          SQL,
          '--batch',
          '200',
          '--quiet',
          ...more,
        ],
        {
          env: env(box),
        },
      )
    /** How many rows were written how often: `{ 0: n, 1: m }`. */
    const touches = async (table = 'users'): Promise<Record<string, number>> =>
      Object.fromEntries(
        (
          await postgres.db.query<{ touched: number; n: string }>(
            `SELECT touched, count(*) AS n FROM ${table} GROUP BY touched ORDER BY touched`,
          )
        ).rows.map((row) => [String(row.touched), Number(row.n)]),
      )

    beforeAll(async () => {
      // As examples/postgres/setup.ts makes it (bigint ids with gaps), with a counter of writes.
      await postgres.db.query(
        'CREATE TABLE users (id bigint PRIMARY KEY, email text NOT NULL, domain text, touched int NOT NULL DEFAULT 0)',
      )
      await postgres.db.query(
        `INSERT INTO users (id, email) SELECT 2 * g, 'user' || g || '@' || (ARRAY['example.com', 'Mail.example.org', 'EXAMPLE.net', 'corp.example'])[g % 4 + 1] FROM generate_series(1, ${ROWS}) AS g`,
      )
      await postgres.db.query(
        'CREATE TABLE orders (tenant_id int NOT NULL, id int8 NOT NULL, touched int NOT NULL DEFAULT 0, PRIMARY KEY (tenant_id, id))',
      )
      await postgres.db.query('INSERT INTO orders (tenant_id, id) SELECT t, g FROM generate_series(1, 500) g, generate_series(1, 4) t')
      await postgres.db.query('CREATE TABLE empty (id int8 PRIMARY KEY, touched int NOT NULL DEFAULT 0)')
      await postgres.db.query('CREATE TABLE poison (id int8 PRIMARY KEY)')
      await postgres.db.query('CREATE TABLE tags (name text PRIMARY KEY, n int NOT NULL DEFAULT 0)')
      await postgres.db.query("INSERT INTO tags (name) VALUES ('a'), ('b')")
    })

    beforeEach(async () => {
      await postgres.db.query('UPDATE users SET domain = NULL, touched = 0')
      await postgres.db.query('UPDATE orders SET touched = 0')
    })

    afterEach(tearDown)

    it("the README's command writes every row exactly once, the domain from its email", async () => {
      const box = sandbox()
      const done = await noCode(box, 'users-domain', [
        'table=users',
        "sql=UPDATE users SET domain = lower(split_part(email, '@', 2)), touched = touched + 1 WHERE id = ANY($1)",
      ])
      expect(done.exit, done.stderr).toEqual(EXIT_OK)
      expect(done.stdout).toMatch(new RegExp(`^Run 'users-domain' complete: ${ROWS} jobs \\(${ROWS} done, 0 failed`, 'm'))
      expect(await touches()).toEqual({ 1: ROWS })
      const domains = await postgres.db.query<{ domain: string; n: string }>(
        'SELECT domain, count(*) AS n FROM users GROUP BY domain ORDER BY domain',
      )
      expect(domains.rows.map((row) => [row.domain, Number(row.n)])).toEqual([
        ['corp.example', ROWS / 4],
        ['example.com', ROWS / 4],
        ['example.net', ROWS / 4],
        ['mail.example.org', ROWS / 4],
      ])
      // The run's jobs are the key column only, and the checkpoint keeps the int8 key exactly.
      expect(readCheckpoint(box, 'users-domain')).toMatchObject({ complete: true, last: { $bigint: String(2 * ROWS) } })
    })

    it('with where=, only the rows it matches; an empty result and a table with no rows are runs of 0 jobs', async () => {
      const box = sandbox()
      const done = await noCode(box, 'where', ['table=users', 'where=id % 3 = 0', `sql=${DOMAIN}`])
      expect(done.exit, done.stderr).toEqual(EXIT_OK)
      const matching = Math.floor(ROWS / 3)
      expect(done.stdout).toMatch(new RegExp(`complete: ${matching} jobs \\(${matching} done, 0 failed`))
      expect(await touches()).toEqual({ 0: ROWS - matching, 1: matching })
      expect((await postgres.db.query('SELECT count(*)::int AS n FROM users WHERE touched = 1 AND id % 3 <> 0')).rows[0]).toEqual({ n: 0 })
      for (const [key, args] of [
        ['nothing', ['table=users', 'where=id < 0', `sql=${DOMAIN}`]],
        ['empty', ['table=empty', 'sql=UPDATE empty SET touched = touched + 1 WHERE id = ANY($1)']],
      ] as const) {
        const none = await noCode(box, key, [...args], 1)
        expect(none.exit, none.stderr).toEqual(EXIT_OK)
        expect(none.stdout).toMatch(/complete: 0 jobs \(0 done, 0 failed/)
      }
      expect(await touches()).toEqual({ 0: ROWS - matching, 1: matching })
    })

    it('by a composite key: $1 and $2 the arrays of its two columns, every row once', async () => {
      const box = sandbox()
      const done = await noCode(box, 'orders', [
        'table=orders',
        'keys=tenant_id,id',
        'sql=UPDATE orders SET touched = touched + 1 WHERE (tenant_id, id) IN (SELECT * FROM unnest($1::int[], $2::bigint[]))',
      ])
      expect(done.exit, done.stderr).toEqual(EXIT_OK)
      expect(done.stdout).toMatch(/complete: 2000 jobs \(2000 done, 0 failed/)
      expect(await touches('orders')).toEqual({ 1: 2000 })
      expect(readCheckpoint(box, 'orders').last).toBe('[4,"500"]')
    })

    it('two shards (--shard i/2) share the table by the first key column: each its own half, together every row once', async () => {
      const box = sandbox()
      const sql = 'sql=UPDATE orders SET touched = touched + 1 WHERE (tenant_id, id) IN (SELECT * FROM unnest($1::int[], $2::bigint[]))'
      const shards = await Promise.all(
        [1, 2].map((i) => noCode(box, 'sharded', ['table=orders', 'keys=tenant_id,id', sql], 1, ['--shard', `${i}/2`])),
      )
      for (const done of shards) {
        expect(done.exit, done.stderr).toEqual(EXIT_OK)
        expect(done.stdout).toMatch(/complete: 1000 jobs \(1000 done, 0 failed/)
      }
      expect(await touches('orders')).toEqual({ 1: 2000 })
      // Shard 1 took tenants 2 and 4 (tenant_id mod 2 = 0), shard 2 tenants 1 and 3.
      expect(readCheckpoint(box, 'sharded.shard-1-of-2').last).toBe('[4,"500"]')
      expect(readCheckpoint(box, 'sharded.shard-2-of-2').last).toBe('[3,"500"]')
      // A shard needs an integer first key column: said before the first job.
      const text = await noCode(box, 'text-shard', ['table=tags', 'keys=name', 'sql=UPDATE tags SET n = n + 1 WHERE name = ANY($1)'], 1, [
        '--shard',
        '1/2',
      ])
      expectUsageError(
        text,
        /^tm-master: pgTable: a sharded run \(--shard\) needs an integer key column \(shard i of n takes the rows whose name mod n is i - 1\): operator does not exist: text % unknown$/,
      )
    })

    /**
     * A master killed -9 mid-run and started again, its slave outliving it: how often each row
     * was written. The upper half of the table is locked by another session until the kill, so
     * that the kill finds the run under way however fast or slow the machine is, and the
     * slave's batches blocked on it commit after the master died, unacknowledged.
     */
    const killedMidRun = async (key: string, more: string[]): Promise<Record<string, number>> => {
      const box = sandbox()
      const holder = new pg.Client(postgres.server.url)
      await holder.connect()
      try {
        await holder.query('BEGIN')
        await holder.query('SELECT id FROM users WHERE id > $1 FOR UPDATE', [ROWS])
        const argsAt = (host: string): string[] => [
          TABLE,
          'db=env:DATABASE_URL',
          'table=users',
          'sql=UPDATE users SET touched = touched + 1 WHERE id = ANY($1)',
          ...more,
          '--key',
          key,
          '--state-dir',
          box.stateDir,
          '--host',
          host,
          '--quiet',
        ]
        const first = await startMaster(argsAt('127.0.0.1:0'), { env: env(box) })
        // A slave of its own, started by name too, outliving the master it serves.
        const slave = startSlave([SQL, '--host', first.host, '--batch', '100', '--concurrency', '2', '--reconnect', '0'], {
          env: env(box),
        })
        await until(
          'a checkpoint with 1,000 rows done',
          () => existsSync(join(box.stateDir, `${key}.json`)) && readCheckpoint(box, key).counts.done >= 1000,
          60_000,
        )
        expect(await killHard(first.master)).toEqual({ code: null, signal: 'SIGKILL' })
        const killed = await touches()
        expect(killed[0]).toBeGreaterThanOrEqual(ROWS / 2)
        await holder.query('ROLLBACK')

        const { master } = await startMaster(argsAt(first.host), { env: env(box) })
        await expectRunEndsThenStop(master, [slave])
        expect(master.stdout).toMatch(new RegExp(`^Run '${key}' complete: \\d+ jobs \\(\\d+ done, 0 failed`, 'm'))
        const after = await touches()
        expect(after[0], 'rows never written').toBeUndefined()
        return after
      } finally {
        // Ends the transaction too, if a failed assertion left it open.
        await holder.end()
      }
    }

    it('a master killed -9 mid-run and started again: no row lost, only the rows in flight written again', async () => {
      const after = await killedMidRun('killed', [])
      // Written twice at most: the rows the slave held when the master died, beyond the watermark.
      expect(Object.keys(after).every((times) => times === '1' || times === '2')).toBe(true)
      expect(after[2]).toBeGreaterThan(0)
      expect(after[2]).toBeLessThan(1000)
    })

    it('with once=true, the same kill writes every row exactly once, and the run leaves no claim', async () => {
      const after = await killedMidRun('killed-once', ['once=true'])
      expect(after).toEqual({ 1: ROWS })
      const claims = await postgres.db.query<{ n: number }>('SELECT count(*)::int AS n FROM taskmaster_claims')
      expect(claims.rows[0]).toEqual({ n: 0 })
    })

    it('a row whose statement fails ends alone in the failed-jobs log with its error; --retry-failed with the same arguments writes it', async () => {
      const box = sandbox()
      await postgres.db.query('INSERT INTO poison VALUES (1000), (4002)')
      const failing = `sql=UPDATE users SET touched = touched + 1, domain = CASE WHEN id IN (SELECT id FROM poison) THEN (1 / (id - id))::text ELSE lower(split_part(email, '@', 2)) END WHERE id = ANY($1)`
      const args = ['table=users', failing]
      const done = await noCode(box, 'poisoned', args, 2, ['--retries', '1', '--retry-delay', '0'])
      expect(done.exit, done.stderr).toEqual({ code: 1, signal: null })
      expect(done.stdout).toMatch(new RegExp(`complete: ${ROWS} jobs \\(${ROWS - 2} done, 2 failed`))
      expect(await touches()).toEqual({ 0: 2, 1: ROWS - 2 })
      expect(
        readFailedLog(box.stateDir, 'poisoned').map((line) => [line.key, line.job, line.attempts, line.error.message] as unknown[]),
      ).toEqual(
        [
          [{ $bigint: '1000' }, { id: '1000' }, 2, 'division by zero'],
          [{ $bigint: '4002' }, { id: '4002' }, 2, 'division by zero'],
        ].sort(),
      )

      await postgres.db.query('DELETE FROM poison')
      const retried = await noCode(box, 'poisoned', args, 1, ['--retry-failed'])
      expect(retried.exit, retried.stderr).toEqual(EXIT_OK)
      expect(retried.stdout).toMatch(/^Retrying 2 failed jobs of run 'poisoned'/m)
      expect(retried.stdout).toMatch(/^Run 'poisoned.retry' complete: 2 jobs \(2 done, 0 failed/m)
      expect(await touches()).toEqual({ 1: ROWS })
      expect(existsSync(failedLogPath(box.stateDir, 'poisoned'))).toBe(false)
    })

    it('max-lag= holds dispatch while the replica lags more, shows it, and lets the run go once it caught up', async () => {
      // One server has no replica: a schema of the test's shadows pg_catalog's pg_stat_replication
      // for the lag connection alone (lag-db= with its search_path), with a lag the test sets.
      await postgres.db.query('CREATE SCHEMA IF NOT EXISTS fake')
      await postgres.db.query('CREATE TABLE IF NOT EXISTS fake.lag (replay_lag interval)')
      await postgres.db.query("INSERT INTO fake.lag VALUES ('4.25 s')")
      await postgres.db.query('CREATE OR REPLACE VIEW fake.pg_stat_replication AS SELECT replay_lag FROM fake.lag')
      const lagDb = `${postgres.server.url}?options=${encodeURIComponent('-c search_path=fake,pg_catalog')}`
      const box = sandbox()
      const { master, host } = await startMaster(
        [
          TABLE,
          'db=env:DATABASE_URL',
          'table=users',
          `sql=${DOMAIN}`,
          'max-lag=1s',
          `lag-db=${lagDb}`,
          ...masterArgs(box, 'lagged'),
          '--spawn',
          '1',
          '--handler',
          SQL,
          '--quiet',
          '--throttle-interval',
          '0.2',
        ],
        { env: env(box) },
      )
      const held = await statusWhere(
        host,
        'the lag to hold dispatch',
        (doc) => doc.slaves.length === 1 && doc.run.controls.throttled?.startsWith('replication') === true,
      )
      expect(held.run.controls).toMatchObject({ throttled: 'replication lag 4.3 s > 1 s', throttle: 'replication lag over 1 s (max-lag)' })
      expect(held.run.done).toBe(0)
      expect(await touches()).toEqual({ 0: ROWS })
      await postgres.db.query("UPDATE fake.lag SET replay_lag = '0.5 s'")
      expect(await master.exited, master.stderr).toEqual(EXIT_OK)
      expect(await touches()).toEqual({ 1: ROWS })
    })

    describe('a mistake of input is one line and exit 2 before any job: nothing written, no row failed', () => {
      const cases: [string, string[], string][] = [
        [
          'a table that does not exist',
          ['table=userz', `sql=${DOMAIN}`],
          'pgTable: cannot read table userz: relation "userz" does not exist',
        ],
        [
          'a key column that does not exist',
          ['table=users', 'keys=uid', `sql=${DOMAIN}`],
          'pgTable: cannot read table users: column "uid" does not exist (Perhaps you meant to reference the column "users.id".)',
        ],
        [
          'a column that does not exist',
          ['table=users', 'columns=emial', `sql=${DOMAIN}`],
          'pgTable: cannot read table users: column "emial" does not exist (Perhaps you meant to reference the column "users.email".)',
        ],
        [
          'a key that is not unique',
          ['table=users', 'keys=domain', `sql=${DOMAIN}`],
          'pgTable: no unique index of table users holds only its key (domain): rows sharing a key would be skipped; key it by its primary key or other unique NOT NULL columns',
        ],
        [
          'a where clause that is no SQL',
          ['table=users', 'where=touched = = 0', `sql=${DOMAIN}`],
          'pgTable: cannot read table users: syntax error at or near "="',
        ],
        [
          'a where clause that closes a parenthesis it did not open (every row at every page, once wrapped)',
          ['table=users', 'where=id<10) OR (1=1', `sql=${DOMAIN}`],
          'pgTable: where must be one SQL condition: it closes a parenthesis it did not open; it must be one condition: id<10) OR (1=1',
        ],
        [
          'an empty where= (a variable unset), which would widen the backfill to the whole table',
          ['table=users', 'where=', `sql=${DOMAIN}`],
          'taskmaster-run/pg/table: where= is empty: give a condition, or leave where= out to walk the whole table; arguments: ',
        ],
        [
          'a statement with a syntax error',
          ['table=users', 'sql=UPDAT users SET touched = 1 WHERE id = ANY($1)'],
          'taskmaster-run/pg/sql: sql= fails: syntax error at or near "UPDAT" (at character 1); sql= must be a SELECT, INSERT, UPDATE, DELETE, MERGE or VALUES statement',
        ],
        [
          'a statement naming a column that does not exist',
          ['table=users', 'sql=UPDATE users SET tuoched = 1 WHERE id = ANY($1)'],
          'taskmaster-run/pg/sql: sql= fails: column "tuoched" of relation "users" does not exist (at character 18)',
        ],
        [
          'a statement without $1 (it would write every row at each batch)',
          ['table=users', "sql=UPDATE users SET touched = touched + 1 WHERE email <> '$1'"],
          "taskmaster-run/pg/sql: sql= uses no parameter; it must use $1: a batch's keys are $1 = its id values (bigint[]), as in WHERE id = ANY($1)",
        ],
        [
          'a statement whose $1 is not an array',
          ['table=users', 'sql=UPDATE users SET touched = touched + 1 WHERE id = $1'],
          "taskmaster-run/pg/sql: $1 of sql= is bigint, not an array: a batch's keys are $1 = its id values (bigint[]), as in WHERE id = ANY($1)",
        ],
        [
          'a statement whose $1 is of another type than the key',
          ['table=users', 'sql=UPDATE users SET touched = touched + 1 WHERE email = ANY($1)'],
          "taskmaster-run/pg/sql: $1 of sql= is text[], but the key column id is bigint: a batch's keys are $1 = its id values (bigint[]), as in WHERE id = ANY($1)",
        ],
        [
          'two statements',
          ['table=users', `sql=${DOMAIN}; DROP TABLE users`],
          'taskmaster-run/pg/sql: sql= fails: cannot insert multiple commands into a prepared statement',
        ],
        [
          'a composite key given one array',
          ['table=orders', 'keys=tenant_id,id', 'sql=UPDATE orders SET touched = touched + 1 WHERE id = ANY($1)'],
          "taskmaster-run/pg/sql: sql= uses $1; it must use $1 to $2: a batch's keys are $1 = its tenant_id values (integer[]), $2 = its id values (bigint[]), as in WHERE (tenant_id, id) IN (SELECT * FROM unnest($1::integer[], $2::bigint[]))",
        ],
        [
          'a table name that tries SQL (identifiers are quoted)',
          ['table=users"; DROP TABLE users; --', `sql=${DOMAIN}`],
          'pgTable: cannot read table users"; DROP TABLE users; --: relation "users"; DROP TABLE users; --" does not exist',
        ],
        [
          'a key name that tries SQL',
          ['table=users', 'keys=id" FROM users; DROP TABLE users; --', `sql=${DOMAIN}`],
          'pgTable: cannot read table users: column "id" FROM users; DROP TABLE users; --" does not exist',
        ],
        [
          'a misspelt where=',
          ['table=users', 'wher=id < 10', `sql=${DOMAIN}`],
          "taskmaster-run/pg/table: unknown run argument 'wher' (did you mean where=?); arguments: ",
        ],
        [
          'no table=',
          [`sql=${DOMAIN}`],
          'taskmaster-run/pg/table: missing run argument table=; arguments: db=<connection string> table=<table> keys=',
        ],
      ]

      it.each(cases)('%s', async (_what, args, line) => {
        const box = sandbox()
        const done = await noCode(box, 'mistake', args, 1)
        expectUsageError(
          done,
          new RegExp(
            `^tm-master: ${line.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}${line.endsWith(': ') || line.endsWith('keys=') ? '' : '$'}`,
          ),
        )
        expect(await touches()).toEqual({ 0: ROWS })
        expect(existsSync(failedLogPath(box.stateDir, 'mistake'))).toBe(false)
        // Refused before the run had any identity: a corrected command starts afresh under the same key.
        expect(existsSync(join(box.stateDir, 'mistake.json'))).toBe(false)
      })

      it('no db=, or a db= that is no database, with the no-code module or a pgTable jobs module of your own', async () => {
        const box = sandbox()
        const usage = await run(MASTER_BIN, [TABLE, 'table=users', `sql=${DOMAIN}`, ...masterArgs(box, 'no-db'), '--quiet'], {
          env: env(box),
        })
        expectUsageError(usage, /^tm-master: taskmaster-run\/pg\/table: missing run argument db=; arguments: /)
        const jobs = join(process.cwd(), 'examples/postgres/jobs.ts')
        const none = await run(MASTER_BIN, [jobs, ...masterArgs(box, 'example'), '--quiet'], { env: env(box) })
        expectUsageError(
          none,
          /^tm-master: pgTable: no database: give the run argument db \(db=postgres:\/\/user@host:5432\/database, or db=env:DATABASE_URL\)$/,
        )
        const garbage = await run(MASTER_BIN, [jobs, 'db=garbage', ...masterArgs(box, 'example'), '--quiet'], { env: env(box) })
        expectUsageError(garbage, /^tm-master: pgTable: cannot connect to the database 'garbage': \S.*$/)
        expect(garbage.stderr).not.toMatch(/node_modules|pg-pool/)
        const secret = await run(
          MASTER_BIN,
          [jobs, 'db=postgres://app:s3cret-pw@127.0.0.1:1/app', ...masterArgs(box, 'example'), '--quiet'],
          {
            env: env(box),
          },
        )
        expectUsageError(
          secret,
          /^tm-master: pgTable: cannot connect to the database 'postgres:\/\/app:\*\*\*@127\.0\.0\.1:1\/app': connect ECONNREFUSED/,
        )
        expect(secret.stderr).not.toContain('s3cret-pw')
      })

      it('a slave of pg/sql without its statement: the slave says it in one line and exits 2, and so does the master that spawned it', async () => {
        const box = sandbox()
        const done = await noCode(box, 'no-sql', ['table=users'], 1)
        expect(done.exit, done.stderr).toEqual({ code: 2, signal: null })
        expect(done.stderr).toMatch(
          /^\[slave 1\] tm-slave: The handler's setup failed: taskmaster-run\/pg\/sql: missing run argument sql=; arguments: db=/m,
        )
        expect(done.stderr).not.toContain('    at ')
        expect(await touches()).toEqual({ 0: ROWS })
        const { master, host } = await startMaster([TABLE, 'db=env:DATABASE_URL', 'table=users', ...masterArgs(box, 'remote'), '--quiet'], {
          env: env(box),
        })
        const slave = await run(SLAVE_BIN, [SQL, '--host', host, '--quiet'], { env: env(box) })
        expectUsageError(slave, /^tm-slave: The handler's setup failed: taskmaster-run\/pg\/sql: missing run argument sql=; arguments: /)
        master.kill('SIGTERM')
        await master.exited
      })
    })
  },
)
