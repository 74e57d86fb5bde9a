import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { POSTGRES_MISSING } from '../helpers/postgres.js'
import { ROOT, cleanTempDirs, run, tempDir } from '../helpers/proc.js'

// Keeps `npm run bench:backfill` working: on a tiny table every scenario completes (each
// checks that every row got its value) and every field and target verdict is printed.
// Its speed is the benchmark's business, never asserted here.
const TSX = join(ROOT, 'node_modules/tsx/dist/cli.mjs')

if (POSTGRES_MISSING !== undefined && process.env.CI) {
  it('PostgreSQL is installed', () => {
    throw new Error(POSTGRES_MISSING)
  })
}

/** A row of `npm run bench:backfill -- --json`: a backfill's, or the start's (the README's command, bench/start-up.mjs). */
interface BackfillRow {
  scenario: string
  rows: number
  rowsPerSecond: number
  seconds: number
  runs: number[]
  startedIn?: number
  runningSeconds?: number
  firstJobSeconds?: number
  startRuns?: { startedIn: number; running: number; firstJob: number }[]
}

describe.skipIf(POSTGRES_MISSING !== undefined)('npm run bench:backfill on a tiny table', () => {
  afterAll(cleanTempDirs)

  it('runs every scenario and reports every field', async () => {
    const out = join(tempDir(), 'backfill.jsonl')
    const bench = await run(TSX, [
      join(ROOT, 'bench/backfill.mjs'),
      '--rows',
      '3000',
      '--per-row-rows',
      '1000',
      '--start-runs',
      '2',
      '--json',
      out,
    ])
    expect(bench.exit, bench.stderr).toEqual({ code: 0, signal: null })
    const rows = readFileSync(out, 'utf8')
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as BackfillRow)
    expect(rows.map((r) => [r.scenario, r.rows])).toEqual([
      ['script', 3000],
      ['per-row', 1000],
      ['batch-1-slave', 3000],
      ['batch-2-slaves', 3000],
      ['start', 3000],
    ])
    const [start] = rows.splice(-1)
    // The start: launch to running (the master's own figure, and as the benchmark saw the
    // line), to the first row done (after listening, whatever the machine's speed); each counted run's.
    expect(start.startRuns).toHaveLength(2)
    const figures = [
      start,
      ...start.startRuns!.map((r) => ({ startedIn: r.startedIn, runningSeconds: r.running, firstJobSeconds: r.firstJob })),
    ]
    for (const { startedIn, runningSeconds, firstJobSeconds } of figures) {
      expect(startedIn).toBeGreaterThan(0)
      expect(runningSeconds).toBeGreaterThan(0)
      expect(firstJobSeconds).toBeGreaterThan(startedIn!)
    }
    for (const row of rows) {
      expect(row.rowsPerSecond).toBeGreaterThan(0)
      expect(row.seconds).toBeGreaterThan(0)
      expect(row.runs).toEqual([row.rowsPerSecond])
    }
    expect(bench.stdout).toMatch(/^Machine: \d+ × .+, load average [\d.]+ [\d.]+ [\d.]+ /m)
    expect(bench.stdout).toMatch(
      /^PostgreSQL \d+.* \(throwaway server on 127\.0\.0\.1\): autovacuum=off, fsync=off, .*synchronous_commit=on/m,
    )
    for (const line of [
      /^\(a\) hand-written script, pages of 1,000, one UPDATE each: 3,000 rows, [\d,]+ rows\/s \([\d.]+ s\)$/m,
      /^\(b\) Taskmaster, one job per row \(handleJob, 1 slave, --concurrency 16\): 1,000 rows, [\d,]+ rows\/s \([\d.]+ s\)$/m,
      /^\(c\) Taskmaster, handleBatch --batch 1000, 1 slave: 3,000 rows, [\d,]+ rows\/s \([\d.]+ s\)$/m,
      /^\(c\) Taskmaster, handleBatch --batch 1000, 2 slaves: 3,000 rows, [\d,]+ rows\/s \([\d.]+ s\)$/m,
      /^\(d\) Taskmaster's start, the README's command \(TypeScript modules, --spawn 2\), warm, median of 2: launch to running \d+\.\d\d s, to the first row done \d+\.\d\d s$/m,
    ])
      expect(bench.stdout).toMatch(line)
    const verdicts = bench.stdout.slice(bench.stdout.indexOf('Against the targets'))
    expect(verdicts).toMatch(/^Against the targets \(a table this small is too short to judge them: run the full one\):$/m)
    for (const slaves of ['1 slave', '2 slaves']) {
      expect(verdicts).toMatch(new RegExp(`^- handleBatch, ${slaves} >= 90 % of the hand-written script: [\\d.]+ % -- (met|NOT met)$`, 'm'))
      expect(verdicts).toMatch(new RegExp(`^- handleBatch, ${slaves} >= 10 × one job per row: [\\d.]+x -- (met|NOT met)$`, 'm'))
    }
    expect(verdicts).toMatch(
      /^- warm start of the PostgreSQL example \(TypeScript jobs module and handler, --spawn 2\): launch to running \d+\.\d\d s < 1 s -- (met|NOT met); to the first job \d+\.\d\d s < 1 s -- (met|NOT met)$/m,
    )
  }, 300_000)
})
