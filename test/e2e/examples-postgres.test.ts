// examples/postgres end to end against a real PostgreSQL (test/helpers/postgres.ts) with
// the real bins: its setup fills a table with generate_series, a run through the example's
// jobs module (pgTable) and handleBatch (one UPDATE per batch, a pool from setup) is
// stopped half way (SIGINT) after one of its slaves was killed with -9, resumed with the
// same key, and SQL then finds every row updated to exactly its expected value.
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { POSTGRES_MISSING, usePostgres } from '../helpers/postgres.js'
import { EXIT_OK, MASTER_BIN, ROOT, fixture, masterArgs, readCheckpoint, run, sandbox, startMaster, startSlave } from '../helpers/proc.js'
import { killHard, stopLongLived, tearDown } from '../helpers/reliability.js'
import { matching } from '../helpers/matchers.js'

const TSX = join(ROOT, 'node_modules/tsx/dist/cli.mjs')
const SLOW = fixture('slow-handler.ts')
const JOBS = join(ROOT, 'examples/postgres/jobs.ts')
const HANDLER = join(ROOT, 'examples/postgres/handler.ts')
const SETUP = join(ROOT, 'examples/postgres/setup.ts')
const ROWS = 50_000

// In CI PostgreSQL must be there (.ci/run installs it): fail loudly rather than skip.
if (POSTGRES_MISSING !== undefined && process.env.CI) {
  it('PostgreSQL is installed', () => {
    throw new Error(POSTGRES_MISSING)
  })
}

describe.skipIf(POSTGRES_MISSING !== undefined)(`examples/postgres${POSTGRES_MISSING ? ` (skipped: ${POSTGRES_MISSING})` : ''}`, () => {
  const postgres = usePostgres()

  afterEach(tearDown)

  /** Rows whose domain was written (any value). */
  const updated = async (): Promise<number> =>
    Number((await postgres.db.query<{ n: string }>('SELECT count(*) AS n FROM users WHERE domain IS NOT NULL')).rows[0].n)

  it('setup fills the table; stopped half way with a slave killed -9, then resumed: every row updated to exactly its value', async () => {
    // As the README runs it: the connection string (with a password, which trust ignores) in
    // the environment, db=env:DATABASE_URL on the command line.
    const url = postgres.server.url.replace('postgres@', 'postgres:pg-s3cret@')
    const setup = await run(TSX, [SETUP, 'db=env:DATABASE_URL', `rows=${ROWS}`], { env: { DATABASE_URL: url } })
    expect(setup.exit, setup.stderr).toEqual(EXIT_OK)
    expect(setup.stdout).toBe(`Created table users with ${ROWS} rows\n`)
    const again = await run(TSX, [SETUP, `db=${postgres.server.url}`, `rows=${ROWS}`])
    expect(again.stdout).toBe('Table users exists; drop it to start over\n')
    expect(await updated()).toBe(0)

    // Two slaves of two lanes each, slowed to 1 ms a row so the run lasts long enough to be
    // interrupted; the db= argument reaches the generator and every slave's setup.
    const box = sandbox({ TM_SLOW_HANDLER: HANDLER, TM_SLOW_MS: '1' })
    const { master, host } = await startMaster([JOBS, `db=${url}`, ...masterArgs(box, 'pg-backfill'), '--status-interval', '0.2'], {
      env: box.env,
    })
    const slaveArgs = [SLOW, '--host', host, '--batch', '100', '--concurrency', '2', '--reconnect', '0']
    const victim = startSlave(slaveArgs, { env: box.env })
    const survivor = startSlave(slaveArgs, { env: box.env })
    await master.waitFor(/(?:^|\| )done [1-9]\d{0,2}(?:,\d{3})+\b/m, 'stdout')
    expect(await killHard(victim)).toEqual({ code: null, signal: 'SIGKILL' })
    // The survivor goes on (and takes back the victim's rows): 10,000 rows done, then stop.
    await master.waitFor(/(?:^|\| )done (?:[1-9]\d{1,2}(?:,\d{3})+|[1-9]\d{0,2}(?:,\d{3}){2,})\b/m, 'stdout')
    master.kill('SIGINT')
    expect(await master.exited, master.stderr).toEqual({ code: 130, signal: null })
    expect(master.stdout).toMatch(/^Run 'pg-backfill' stopped: /m)
    expect(await stopLongLived(survivor), survivor.stderr).toEqual(EXIT_OK)

    const checkpoint = readCheckpoint(box, 'pg-backfill')
    const done = checkpoint.counts.done
    expect(checkpoint.counts.failed).toBe(0)
    expect(done).toBeGreaterThanOrEqual(10_000)
    expect(done).toBeLessThan(ROWS)
    // int8 ids resume as bigint keys, every digit kept.
    expect(checkpoint.last).toMatchObject({ $bigint: matching(/^\d+$/) })
    // Rows the victim committed but never reported may be written and still to run: the
    // UPDATE is idempotent, so running them again changes nothing.
    const before = await updated()
    expect(before).toBeGreaterThanOrEqual(done)
    expect(before).toBeLessThan(ROWS)

    // Resumed with the same database from the environment: the same run (its password is not part of its identity, nor saved).
    const resumed = await run(
      MASTER_BIN,
      [JOBS, 'db=env:DATABASE_URL', ...masterArgs(box, 'pg-backfill'), '--spawn', '2', '--handler', HANDLER, '--batch', '500', '--quiet'],
      { env: { ...box.env, DATABASE_URL: url } },
    )
    expect(resumed.exit, resumed.stderr).toEqual(EXIT_OK)
    expect(resumed.stdout).toMatch(new RegExp(`^Run 'pg-backfill' complete: ${ROWS - done} jobs \\(${ROWS - done} done, 0 failed`, 'm'))
    expect(readCheckpoint(box, 'pg-backfill')).toMatchObject({
      complete: true,
      counts: { done: ROWS, failed: 0 },
      args: { db: url.replace('pg-s3cret', '***') },
    })
    expect(resumed.stdout + resumed.stderr).not.toContain('pg-s3cret')

    // Every row, none missed, each with exactly the value its email gives.
    const domains = await postgres.db.query('SELECT domain, count(*)::int AS n FROM users GROUP BY domain ORDER BY domain')
    expect(domains.rows).toEqual([
      { domain: 'corp.example', n: ROWS / 4 },
      { domain: 'example.com', n: ROWS / 4 },
      { domain: 'example.net', n: ROWS / 4 },
      { domain: 'mail.example.org', n: ROWS / 4 },
    ])
    const wrong = await postgres.db.query(
      "SELECT count(*)::int AS n FROM users WHERE domain IS DISTINCT FROM lower(split_part(email, '@', 2))",
    )
    expect(wrong.rows).toEqual([{ n: 0 }])
  }, 180_000)
})
