// The PostgreSQL helper (taskmaster-run/pg) against a real server: a table with bigint
// ids beyond 2^53 and gaps, iterated by a real tm-master and tm-slave, stopped half way
// and resumed; a where clause; total() an exact count, or the planner's { estimate }.
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterEach, beforeAll, describe, expect, it } from 'vitest'
import { pgTable } from '../../src/pg/index.js'
import { POSTGRES_MISSING, usePostgres } from '../helpers/postgres.js'
import {
  EXIT_OK,
  MASTER_BIN,
  cleanUp,
  fixture,
  masterArgs,
  readCheckpoint,
  recordFiles,
  recordedKeys,
  run,
  sandbox,
  spawnArgs,
  startMaster,
} from '../helpers/proc.js'

const JOBS = fixture('pg-table.mjs')
const ROWS = 10_000
/** ids BASE + 3g for g in 1..ROWS: beyond 2^53 (a number would lose digits), with gaps. */
const BASE = 9_007_199_254_730_000n
const ID = (g: number): string => String(BASE + 3n * BigInt(g))
const ALL = Array.from({ length: ROWS }, (_, i) => ID(i + 1))
/** Rows with flag = true: g % 4 = 0. */
const FLAGGED = ALL.filter((_, i) => (i + 1) % 4 === 0)

// In CI PostgreSQL must be there (.ci/run installs it): fail loudly rather than skip.
if (POSTGRES_MISSING !== undefined && process.env.CI) {
  it('PostgreSQL is installed', () => {
    throw new Error(POSTGRES_MISSING)
  })
}

describe.skipIf(POSTGRES_MISSING !== undefined)(`taskmaster-run/pg${POSTGRES_MISSING ? ` (skipped: ${POSTGRES_MISSING})` : ''}`, () => {
  const postgres = usePostgres()

  beforeAll(async () => {
    await postgres.db.query('CREATE TABLE items (id int8 PRIMARY KEY, flag boolean NOT NULL, payload text)')
    await postgres.db.query(`INSERT INTO items SELECT ${BASE} + 3 * g, g % 4 = 0, 'row ' || g FROM generate_series(1, ${ROWS}) g`)
  })

  afterEach(cleanUp)

  /** Record lines of each slave process, file by file. */
  const perProcess = (dir: string): string[][] =>
    recordFiles(dir).map((file) =>
      readFileSync(join(dir, file), 'utf8')
        .split('\n')
        .filter((line) => line !== ''),
    )

  it('a run stopped half way (SIGINT) and resumed handles every row exactly once, in key order', async () => {
    const box = sandbox({ TM_PG_URL: postgres.server.url, TM_PG_PAGE: '700' })
    const slow = { ...box.env, TM_RECORD_DELAY_MS: '1' }
    const { master } = await startMaster([JOBS, ...masterArgs(box, 'pg'), ...spawnArgs(1), '--status-interval', '0.2'], { env: slow })
    await master.waitFor(/(?:^|\| )done [1-9]/m, 'stdout')
    master.kill('SIGINT')
    expect(await master.exited, master.stderr).toEqual({ code: 130, signal: null })
    const before = recordedKeys(box.records)
    expect(before.length).toBeGreaterThan(0)
    expect(before.length).toBeLessThan(ROWS)
    // The int8 key is checkpointed as a bigint, every digit kept.
    expect(readCheckpoint(box, 'pg').last).toEqual({ $bigint: before.at(-1) })

    const again = await run(MASTER_BIN, [JOBS, ...masterArgs(box, 'pg'), ...spawnArgs(1), '--quiet'], { env: box.env })
    expect(again.exit, again.stderr).toEqual(EXIT_OK)
    expect(again.stdout).toMatch(
      new RegExp(`^Run 'pg' complete: ${ROWS - before.length} jobs \\(${ROWS - before.length} done, 0 failed`, 'm'),
    )
    // One slave running one job at a time: each process saw its rows in key order, and
    // the two runs together saw every id once, every digit kept.
    const runs = perProcess(box.records).sort((a, b) => (BigInt(a[0]) < BigInt(b[0]) ? -1 : 1))
    expect(runs).toHaveLength(2)
    expect(runs.flat()).toEqual(ALL)
  })

  it('a where clause with parameters selects its rows only', async () => {
    const box = sandbox({ TM_PG_URL: postgres.server.url, TM_PG_WHERE: 'flag = $1', TM_PG_PARAMS: '[true]', TM_PG_PAGE: '300' })
    const done = await run(MASTER_BIN, [JOBS, ...masterArgs(box, 'pg-where'), ...spawnArgs(1), '--quiet'], { env: box.env })
    expect(done.exit, done.stderr).toEqual(EXIT_OK)
    expect(recordedKeys(box.records)).toEqual(FLAGGED)
  })

  it('total(): an exact count for a small table, the planner estimate (no count(*) scan) for a large one', async () => {
    const small = pgTable({ db: postgres.db, table: 'items' })
    expect(await small.total({ args: {} })).toBe(ROWS)
    const filtered = pgTable({ db: postgres.db, table: 'public.items', where: 'flag = $1', params: [true] })
    expect(await filtered.total({ args: {} })).toBe(FLAGGED.length)

    await postgres.db.query('CREATE TABLE big (id int8 PRIMARY KEY)')
    await postgres.db.query('INSERT INTO big SELECT g FROM generate_series(1, 150000) g')
    await postgres.db.query('ANALYZE big')
    // Deleted after ANALYZE (autovacuum is off): the estimate still says 150,000, a count 149,000.
    await postgres.db.query('DELETE FROM big WHERE id <= 1000')
    expect((await postgres.db.query<{ n: number }>('SELECT count(*)::int AS n FROM big')).rows[0].n).toBe(149_000)
    const queries: string[] = []
    const spy = { query: (text: string, values?: unknown[]) => (queries.push(text), postgres.db.query(text, values)) }
    expect(await pgTable({ db: spy, table: 'big' }).total({ args: {} })).toEqual({ estimate: 150_000 })
    expect(queries.some((text) => /count\(/i.test(text))).toBe(false)
  })
})
