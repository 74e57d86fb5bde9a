// Progress that tells the truth after a resume (issue 24), against a real PostgreSQL: a
// pgTable run whose total() is the planner's estimate, over a table its own UPDATEs bloat
// (autovacuum off, so the estimate, scaled by the table's pages, grows as the run goes),
// killed with -9 at about half and resumed. The resume line and every status document
// (--stats) give a percent within 5 points of the truth, never going back, never an ETA
// of 0 before the end, the estimate marked as one; the run ends at 100 % of its true count.
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import type { RunStatus } from '../../src/index.js'
import { POSTGRES_MISSING, usePostgres } from '../helpers/postgres.js'
import { statsDocuments } from '../helpers/poll.js'
import { EXIT_OK, ROOT, fixture, masterArgs, run, sandbox, startMaster, startSlave } from '../helpers/proc.js'
import { killHard, tearDown, until } from '../helpers/reliability.js'

const TSX = join(ROOT, 'node_modules/tsx/dist/cli.mjs')
const JOBS = fixture('pg-users-estimated.mjs')
const SLOW = fixture('slow-handler.ts')
const HANDLER = join(ROOT, 'examples/postgres/handler.ts')
const SETUP = join(ROOT, 'examples/postgres/setup.ts')
const ROWS = 20_000

// In CI PostgreSQL must be there (.ci/run installs it): fail loudly rather than skip.
if (POSTGRES_MISSING !== undefined && process.env.CI) {
  it('PostgreSQL is installed', () => {
    throw new Error(POSTGRES_MISSING)
  })
}

/** What is wrong with a master's status documents: a percent off the truth or going back, an ETA of 0 before the end. */
function wrongDocuments(docs: RunStatus[], from = 0): string[] {
  const wrong: string[] = []
  let previous = from
  for (const doc of docs) {
    const r = doc.run
    const truth = ((r.done + r.failed) * 100) / ROWS
    const at = `${doc.time} (${r.state}, done ${r.done}, percent ${r.percent}, total ${r.total}, etaMs ${r.etaMs})`
    if (r.percent === null || Math.abs(r.percent - truth) > 5) wrong.push(`${at}: percent not within 5 points of ${truth}`)
    if (r.percent !== null && r.percent < previous) wrong.push(`${at}: percent went back from ${previous}`)
    if (r.state !== 'complete' && r.etaMs === 0) wrong.push(`${at}: ETA 0 before the end`)
    previous = r.percent ?? previous
  }
  return wrong
}

describe.skipIf(POSTGRES_MISSING !== undefined)(
  `progress after a resume${POSTGRES_MISSING ? ` (skipped: ${POSTGRES_MISSING})` : ''}`,
  () => {
    const postgres = usePostgres()

    afterEach(tearDown)

    /**
     * The table `users` of ROWS rows made by `prepare`, walked by a pgTable run whose total is
     * the planner's estimate, killed -9 at about half and resumed: every figure is checked.
     */
    const resumedAtHalf = async (prepare: () => Promise<void>, key: string): Promise<void> => {
      const url = postgres.server.url
      await prepare()
      const estimate = async (): Promise<number> => {
        const plan = await postgres.db.query<{ 'QUERY PLAN': [{ Plan: { 'Plan Rows': number } }] }>(
          'EXPLAIN (FORMAT JSON) SELECT * FROM users',
        )
        return plan.rows[0]['QUERY PLAN'][0].Plan['Plan Rows']
      }
      const before = await estimate()

      // One slave of two lanes, 100 rows a batch slowed to 1 ms a row: about 2,000 rows a second.
      const box = sandbox({ TM_SLOW_HANDLER: HANDLER, TM_SLOW_MS: '1' })
      const stats1 = join(box.stateDir, '..', 'stats-1.jsonl')
      const master1 = await startMaster(
        [JOBS, `db=${url}`, ...masterArgs(box, key), '--quiet', '--stats', stats1, '--stats-interval', '0.5'],
        {
          env: box.env,
        },
      )
      const slaveArgs = (host: string): string[] => [SLOW, '--host', host, '--batch', '100', '--concurrency', '2']
      const slave1 = startSlave(slaveArgs(master1.host), { env: box.env })
      await until('half the rows done', () => statsDocuments(stats1).some((doc) => doc.run.done >= ROWS / 2), 120_000, 50)
      expect(await killHard(master1.master)).toEqual({ code: null, signal: 'SIGKILL' })
      await killHard(slave1)
      const first = statsDocuments(stats1)
      expect(wrongDocuments(first)).toEqual([])
      // The run's own UPDATEs grew the table: the planner now guesses well over the rows there are.
      expect(await estimate()).toBeGreaterThan(before * 1.2)

      const stats2 = join(box.stateDir, '..', 'stats-2.jsonl')
      const master2 = await startMaster(
        [JOBS, `db=${url}`, ...masterArgs(box, key), '--stats', stats2, '--stats-interval', '0.5', '--status-interval', '0.5'],
        {
          env: box.env,
        },
      )
      const slave2 = startSlave(slaveArgs(master2.host), { env: box.env })
      const resumeLine = await master2.master.waitFor(
        new RegExp(String.raw`^Resuming '${key}' at [\d,]+ of (~?)([\d,]+), ([\d.]+) % \(after key \d+\): ([\d,]+) done and 0 failed`, 'm'),
      )
      const [, tilde, , shown, doneText] = resumeLine
      const resumedDone = Number(doneText.replaceAll(',', ''))
      expect(resumedDone).toBeGreaterThan(ROWS / 4)
      expect(resumedDone).toBeLessThan(ROWS)
      expect(Math.abs(Number(shown) - (resumedDone * 100) / ROWS), resumeLine[0]).toBeLessThanOrEqual(5)
      expect(tilde, 'the total shown is an estimate').toBe('~')
      expect(await master2.master.exited, master2.master.stderr).toEqual(EXIT_OK)
      await killHard(slave2)

      const second = statsDocuments(stats2)
      expect(second.length).toBeGreaterThanOrEqual(3)
      expect(wrongDocuments(second, Number(shown))).toEqual([])
      // An estimate until the generator has ended; then the jobs known are the total, exact.
      expect(second[0].run.totalEstimated).toBe(true)
      const known = (r: RunStatus['run']): number => r.done + r.failed + r.inFlight + r.queued + r.waiting
      expect(second.filter((doc) => !doc.run.totalEstimated && doc.run.total !== known(doc.run))).toEqual([])
      expect(second.at(-1)!.run).toMatchObject({
        state: 'complete',
        done: ROWS,
        failed: 0,
        total: ROWS,
        totalEstimated: false,
        percent: 100,
        etaMs: 0,
      })
      // The status lines (stdout is no terminal) show the estimate as one, and the end as 100 % of the true count.
      expect(master2.master.stdout).toMatch(/^[\d.]+ % ETA [\d:-]+ \| done [\d,]+ of ~[\d,]+ \|/m)
      expect(master2.master.stdout).toMatch(
        new RegExp(`^100\\.0 % ETA 0:00:00 \\| done ${ROWS.toLocaleString('en-US')} of ${ROWS.toLocaleString('en-US')} \\|`, 'm'),
      )
    }

    it('a pgTable run over a table its UPDATEs bloat, killed -9 at half and resumed: the percent tells the truth at every line', async () => {
      await resumedAtHalf(async () => {
        const setup = await run(TSX, [SETUP, `db=${postgres.server.url}`, `rows=${ROWS}`])
        expect(setup.exit, setup.stderr).toEqual(EXIT_OK)
      }, 'bloat')
    }, 240_000)

    it("over keys spread unevenly (half the rows ids 100 apart, half far above), the planner's statistics keep every line true", async () => {
      // Where the key stands between the lowest and highest id says 0.1 % at half the rows.
      await resumedAtHalf(async () => {
        await postgres.db.query('DROP TABLE IF EXISTS users')
        await postgres.db.query('CREATE TABLE users (id bigint PRIMARY KEY, email text NOT NULL, domain text)')
        await postgres.db.query(
          `INSERT INTO users (id, email) SELECT CASE WHEN g <= $1 THEN g * 100 ELSE 100000000 + g END, 'user' || g || '@Example.com' FROM generate_series(1, $2::int) AS g`,
          [ROWS / 2, ROWS],
        )
        await postgres.db.query('ANALYZE users')
      }, 'uneven')
    }, 240_000)
  },
)
