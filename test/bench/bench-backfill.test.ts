import { readFileSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, describe, expect, it, onTestFailed } from 'vitest'
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

/** A row of `npm run bench:backfill -- --json`: a backfill's, the start's (the README's command, bench/start-up.mjs), or the targets'. */
interface BackfillRow {
  scenario: string
  rows: number
  rowsPerSecond: number
  seconds: number
  runs: number[]
  /** CPU per row in µs, medians of the rounds, as the table prints them. */
  cpuPerRow?: Record<string, number | string>
  /** Each round's CPU in µs: the processes' (at exit), the database's, the machine's. */
  cpu?: Record<string, number>[]
  startedIn?: number
  runningSeconds?: number
  firstJobSeconds?: number
  startRuns?: { startedIn: number; running: number; firstJob: number }[]
  verdicts?: { target: string; goal: number; ratio: number; met: boolean }[]
}

/** Scenarios of issue 25's other parts, run when the build has them (not in this test's asserts of order). */
const LATER = ['once-2-slaves', 'nocode-2-slaves']

describe.skipIf(POSTGRES_MISSING !== undefined)('npm run bench:backfill on a tiny table', () => {
  afterAll(cleanTempDirs)

  it('runs every scenario and reports every field, the CPU per row and the ratios against the targets', async () => {
    const out = join(tempDir(), 'backfill.jsonl')
    const profiles = join(tempDir(), 'profiles')
    const bench = await run(TSX, [
      join(ROOT, 'bench/backfill.mjs'),
      '--rows',
      '3000',
      '--per-row-rows',
      '1000',
      '--repeat',
      '1',
      '--start-runs',
      '2',
      '--profile',
      profiles,
      '--json',
      out,
    ])
    // What the benchmark printed, when an assertion below fails.
    onTestFailed(() => console.log(`bench:backfill printed:\n${bench.stdout}\n${bench.stderr}`))
    expect(bench.exit, bench.stderr).toEqual({ code: 0, signal: null })
    const rows = readFileSync(out, 'utf8')
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as BackfillRow)
      .filter((row) => !LATER.includes(row.scenario))
    expect(rows.map((r) => [r.scenario, r.rows])).toEqual([
      ['script', 3000],
      ['batch-1-slave', 3000],
      ['batch-2-slaves', 3000],
      ['statement', 3000],
      ['per-row', 1000],
      ['start', 3000],
      ['targets', undefined],
    ])
    const [start, targets] = rows.splice(-2)
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
      expect(row.cpu).toHaveLength(1)
      // The database's processes are children of this machine's postmaster: their CPU is read.
      expect(row.cpu![0].database).toBeGreaterThanOrEqual(0)
      expect(row.cpu![0].machine).toBeGreaterThan(0)
    }
    // Every Taskmaster process said its CPU at exit; the script its reading and its writing.
    for (const row of rows.filter((r) => r.scenario.startsWith('batch') || r.scenario === 'per-row')) {
      expect(row.cpu![0].master).toBeGreaterThan(0)
      expect(row.cpu![0].slaves).toBeGreaterThan(0)
      expect(typeof row.cpuPerRow!.master).toBe('number')
    }
    const [script] = rows
    expect(script.cpu![0].read).toBeGreaterThan(0)
    expect(script.cpu![0].write).toBeGreaterThan(0)
    expect(targets.verdicts!.map((v) => [v.target, v.goal])).toEqual(
      expect.arrayContaining([
        ['handleBatch, 2 slaves / hand-written script', 1.2],
        ['handleBatch, 1 slave / hand-written script', 1],
        ['handleBatch, 1 slave / one job per row', 10],
      ]),
    )
    for (const v of targets.verdicts!) expect(v.met).toBe(v.ratio >= v.goal)

    expect(bench.stdout).toMatch(/^Machine: \d+ × .+, load average [\d.]+ [\d.]+ [\d.]+ /m)
    expect(bench.stdout).toMatch(
      /^PostgreSQL \d+.* \(throwaway server on 127\.0\.0\.1\): autovacuum=off, fsync=off, .*synchronous_commit=on/m,
    )
    expect(bench.stdout).toMatch(
      /^Table: users \(id bigint primary key, name, email, domain, bio, city, created_at\), 3,000 rows of \d+ bytes on average/m,
    )
    const row = (label: string, rows: string): RegExp => new RegExp(`^${label.replace(/[()]/g, '\\$&')} +${rows} +[\\d,]+  [\\d,]+$`, 'm')
    for (const line of [
      row('(a) hand-written script: keyset pages of 1,000, one UPDATE each', '3,000'),
      row('(c) Taskmaster, handleBatch --batch 1000, 1 slave', '3,000'),
      row('(c) Taskmaster, handleBatch --batch 1000, 2 slaves', '3,000'),
      row('(e) one UPDATE statement over the whole table', '3,000'),
      row('(b) Taskmaster, one job per row (handleJob, 1 slave, --concurrency 16)', '1,000'),
      /^\(d\) Taskmaster's start, the README's command \(TypeScript modules, --spawn 2\), warm, median of 2: launch to running \d+\.\d\d s, to the first row done \d+\.\d\d s$/m,
    ])
      expect(bench.stdout).toMatch(line)
    // The CPU per row: Taskmaster's processes, its own beyond the handler's work, the database's.
    expect(bench.stdout).toMatch(/^CPU per row, µs \(medians of the rounds; Taskmaster's processes less a run of [\d,]+ rows/m)
    expect(bench.stdout).toMatch(/^scenario +master +slaves +client +TM own +database  cores busy, of which others'$/m)
    for (const name of ['batch-1-slave', 'batch-2-slaves'])
      expect(bench.stdout).toMatch(new RegExp(`^${name} +-?[\\d.]+ +-?[\\d.]+ +-?[\\d.]+ +-?[\\d.]+ +[\\d.]+  [\\d.]+, [\\d.]+$`, 'm'))
    expect(bench.stdout).toMatch(/^script +- +- +[\d.]+ +- +[\d.]+  [\d.]+, [\d.]+$/m)

    // The profile of a run of 2 slaves: the master's and each slave's, their start left out.
    // On this tiny table the run can end before the second slave has loaded its modules:
    // stopped then (SIGTERM before its handlers are installed), it ends without writing a
    // profile (seen once in CI under load).
    const files = readdirSync(profiles).sort()
    expect(files[0]).toMatch(/^master-\d+\.cpuprofile$/)
    expect(files.length === 2 || files.length === 3, files.join(', ')).toBe(true)
    for (const file of files.slice(1)) expect(file).toMatch(/^slave-\d+\.cpuprofile$/)
    const profile = bench.stdout.slice(bench.stdout.indexOf('Profile of a run of 2 slaves'), bench.stdout.indexOf('Against the targets'))
    for (const role of ['master', 'slave'])
      expect(profile).toMatch(
        new RegExp(`^${role}-\\d+\\.cpuprofile: [\\d.]+ s busy, [\\d.]+ s idle( \\(its first [\\d.]+ s, the start, left out\\))?$`, 'm'),
      )
    expect(profile).toMatch(/^ +[\d.]+ %  Taskmaster$/m)
    expect(profile).toMatch(/^  top functions by self time:$/m)

    const verdicts = bench.stdout.slice(bench.stdout.indexOf('Against the targets'))
    expect(verdicts).toMatch(/^Against the targets \(a table this small is too short to judge them: run the full one\):$/m)
    // A ratio to the script that falls short says why, in figures: the cores and the CPU a
    // row took, or (the cores to spare) one UPDATE at a time a slave against the script's page.
    const cpu = "a row took [\\d.]+ µs of the database's CPU .* µs a row on the [\\d.]+ cores left is at most [\\d,]+ rows/s"
    const side = '(; the database spent \\d+ % more CPU a row than under the script, its statements running side by side)?'
    const because = `([\\d.]+ of the \\d+ cores were busy during the run, .*; ${cpu}${side}|not the cores \\(${cpu}\\): (the slave runs|each of the 2 slaves runs) one UPDATE at a time, [\\d.]+ ms a batch of 1,000 against the script's [\\d.]+ ms a page \\(its read and its write\\); the slaves' start counts in Taskmaster's time${side})`
    for (const [slaves, goal] of [
      ['2 slaves', '1.2'],
      ['1 slave', '1'],
    ])
      expect(verdicts).toMatch(
        new RegExp(
          `^- handleBatch, ${slaves} / hand-written script >= ${goal}: [\\d.]+ \\(rounds: [\\d., ]+\\) -- (met|NOT met: ${because})$`,
          'm',
        ),
      )
    expect(verdicts).toMatch(/^- handleBatch, 1 slave \/ one job per row >= 10: [\d.]+ \(rounds: [\d., ]+\) -- (met|NOT met)$/m)
    // The exactly-once and no-code targets: measured when the build has them, else said so.
    expect(verdicts).toMatch(/^- exactly-once, 2 slaves \/ hand-written script >= 1: ([\d.]+ .*-- (met|NOT met).*|not measured \(.+\))$/m)
    expect(verdicts).toMatch(/^- no code, 2 slaves \/ one UPDATE statement >= 0\.7: ([\d.]+ .*-- (met|NOT met).*|not measured \(.+\))$/m)
    expect(verdicts).toMatch(
      /^- warm start of the PostgreSQL example \(TypeScript jobs module and handler, --spawn 2\): launch to running \d+\.\d\d s < 1 s -- (met|NOT met); to the first job \d+\.\d\d s < 1 s -- (met|NOT met)$/m,
    )
  }, 600_000)
})
