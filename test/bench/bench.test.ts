import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { cleanTempDirs, ROOT, run, tempDir } from '../helpers/proc.js'

// Keeps `npm run bench` working: the smoke version (every scenario's code path on tiny
// inputs) completes and reports every field of every scenario. Its speed is the
// benchmark's business, never asserted here.
/** A row of `npm run bench -- --json`: the fields every row has, and those of some scenarios. */
interface BenchRow {
  scenario: string
  smoke: boolean
  quick: boolean
  jobs: number
  jobsPerSecond: number
  runs: number[]
  seconds: number
  masterJobsPerSecond: number
  masterPeakRssMb: number
  slavePeakRssMb: number
  masterCpuSeconds: number
  slaveCpuSeconds: number[]
  jobsPerSlave: number[]
  repeated?: number
  repeatedMs?: number
  connections?: number
  idealJobsPerSecond?: number | null
  mostIdleWhileQueued?: number
  leastServedShare?: number
  statusPolls?: number
  startedIn?: number
  runningSeconds?: number
  firstJobSeconds?: number
  startRuns?: { startedIn: number; running: number; firstJob: number }[]
}

describe('npm run bench -- --smoke', () => {
  afterAll(cleanTempDirs)

  it('runs every scenario and reports every field', async () => {
    const out = join(tempDir(), 'bench.jsonl')
    const bench = await run(join(ROOT, 'bench/run.js'), ['--smoke', '--json', out])
    expect(bench.exit.code, bench.stderr).toBe(0)
    const rows = readFileSync(out, 'utf8')
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as BenchRow)
    expect(rows.map((r) => r.scenario)).toEqual([
      'baseline',
      'baseline-codec',
      'bare-1',
      'bare-2',
      '1-slave',
      '1-slave-tuned',
      '1-slave-status-polled',
      '2-slaves',
      '2-slaves-tuned',
      'c16',
      'c64',
      'c256',
      'latency-20ms',
      'latency-20ms-tuned',
      'fast-and-slow',
      'kill-20ms',
      'memory-100k',
      'memory-10M',
      'memory-30M',
      '1KB-jobs',
      '1KB-jobs-tuned',
      'bare-1KB',
      'cpu-1-slave',
      'cpu-2-slaves',
      '1000-slaves',
      '100-noop',
      'start-sqlite',
    ])
    // The start of the sqlite example (bench/start-up.mjs): launch to running, to the first
    // job done (after listening, whatever the machine's speed), over one counted run in a smoke run.
    const start = rows.splice(rows.length - 1)[0]
    expect(start).toMatchObject({ scenario: 'start-sqlite', smoke: true, jobs: 2000 })
    expect(start.startRuns).toHaveLength(1)
    expect(start.startedIn).toBeGreaterThan(0)
    expect(start.runningSeconds).toBeGreaterThan(0)
    expect(start.firstJobSeconds).toBeGreaterThan(start.startedIn!)
    for (const row of rows) {
      expect(row.smoke).toBe(true)
      expect(row.quick).toBe(true)
      expect(row.jobs).toBeGreaterThan(0)
      expect(row.jobsPerSecond).toBeGreaterThan(0)
      expect(row.runs).toEqual([row.jobsPerSecond])
      if (row.scenario.startsWith('baseline')) continue
      if (row.scenario === 'kill-20ms') {
        // The killed slave writes no usage; every job ran once and the ones it handed back twice.
        expect(row.repeated).toBeGreaterThan(0)
        expect(row.repeatedMs).toBeGreaterThan(0)
        expect(row.jobsPerSlave.reduce((a: number, b: number) => a + b, 0)).toBe(row.jobs + row.repeated!)
        continue
      }
      expect(row.seconds).toBeGreaterThan(0)
      expect(row.masterJobsPerSecond).toBeGreaterThan(0)
      expect(row.masterPeakRssMb).toBeGreaterThan(0)
      expect(row.slavePeakRssMb).toBeGreaterThan(0)
      expect(row.masterCpuSeconds).toBeGreaterThan(0)
      expect(row.slaveCpuSeconds.length).toBe(row.jobsPerSlave.length)
      // Every job ran exactly once across the slaves.
      expect(row.jobsPerSlave.reduce((a: number, b: number) => a + b, 0)).toBe(row.jobs)
    }
    // The many-slaves rows: how many connections, and how evenly they were served.
    expect(
      rows
        .filter((r) => r.connections !== undefined)
        .map((r) => [r.scenario, r.connections, r.idealJobsPerSecond, r.mostIdleWhileQueued! >= 0, r.leastServedShare! >= 0]),
    ).toEqual([
      // A smoke run's fleets: 2 processes of 25 connections (4 of 250 in a full run), and 25 (100).
      ['1000-slaves', 50, 1000, true, true],
      ['100-noop', 25, null, true, true],
    ])
    // GET /status was polled during the run, and answered.
    expect(rows.find((r) => r.scenario === '1-slave-status-polled')!.statusPolls).toBeGreaterThan(0)
    // The verdict on every target, from the same rows (met or not is the run's business).
    const verdicts = bench.stdout.slice(bench.stdout.indexOf('Against the targets'))
    expect(verdicts).toMatch(/^Against the targets \(a smoke run is too short to judge them: run the full one\):$/m)
    for (const target of [
      /^- 1 master \+ 1 slave >= 1 M jobs\/s \(aim 2 M\): [\d.]+ M jobs\/s, [\d.]+ of the bare pipeline -- (met|NOT met)$/m,
      /^- 2 slaves no slower than 1: [\d.]+ of one slave; the bare pipeline, 2 consumers against 1: [\d.]+ -- (met|NOT met)$/m,
      /^- status polled 10\/s: within noise of 1-slave: [\d.]+ M against [\d.]+ M jobs\/s, [\d.]+ of 1-slave \(noise [\d.]+ %, \d+ polls answered\) -- (met|NOT met)$/m,
      /^- CPU-bound handler, 2 slaves against 1: [\d.]+x/m,
      /^- latency-bound >= 95 % of 10,000 jobs\/s: [\d.]+ % \(--prefetch 100 beside it: [\d.]+ %\) -- (met|NOT met)$/m,
      /^- defaults >= 0\.8 of the tuned setting and >= 1\.5 M jobs\/s: [\d.]+ M jobs\/s, [\d.]+ of [\d.]+ M -- (met|ratio met, 1\.5 M NOT met|NOT met)$/m,
      /^- 2 slaves, defaults >= 0\.8 of tuned: [\d.]+ -- (met|NOT met)$/m,
      /^- --concurrency 16, no --prefetch >= 0\.8 of tuned: [\d.]+ M jobs\/s, [\d.]+ -- (met|NOT met)$/m,
      /^- --concurrency 64, no --prefetch >= 0\.8 of tuned: [\d.]+ M jobs\/s, [\d.]+ -- (met|NOT met)$/m,
      /^- --concurrency 256, no --prefetch >= 0\.8 of tuned: [\d.]+ M jobs\/s, [\d.]+ -- (met|NOT met)$/m,
      /^- fast and slow slave share in proportion to speed \(10 to 1\): \d+ \/ \d+, slow [\d.]+ % -- (met|NOT met)$/m,
      /^- 20 ms handler killed -9 hands back <= ~100 ms of its work: \d+ jobs repeated = \d+ ms -- (met|NOT met)$/m,
      /^- peak RSS 2,000 jobs within 10 % of 1,000, master < 150 MB: master [\d.]+ -> [\d.]+ MB \([+-][\d.]+ %\), slave [\d.]+ -> [\d.]+ MB \([+-][\d.]+ %\) -- (met|NOT met)$/m,
      /^- after warm-up, peak RSS 3,000 jobs against 2,000 \(no target: shows whether growth goes on\): master [\d.]+ -> [\d.]+ MB \([+-][\d.]+ %\), slave [\d.]+ -> [\d.]+ MB \([+-][\d.]+ %\)$/m,
      /^- 1 KB jobs on defaults >= 500,000 jobs\/s and >= 0\.7 of the bare pipeline: [\d,]+, [\d.]+ of [\d,]+ -- (met|NOT met)$/m,
      /^- 50 slaves \(50 ms handler\) >= 90 % of 1,000 jobs\/s, master RSS < 300 MB, none idle while jobs are queued: [\d.]+ %, [\d.]+ MB, master CPU [\d.]+ s, most idle \d+, least-served connection [\d.]+ of the mean -- (met|NOT met)$/m,
      /^- 25 no-op slaves against 1 slave: [\d.]+ M against [\d.]+ M master jobs\/s, [\d.]+$/m,
      /^- warm start of the sqlite example \(TypeScript jobs module and handler, --spawn 2\): launch to running \d+\.\d\d s < 1 s -- (met|NOT met); to the first job \d+\.\d\d s < 1 s -- (met|NOT met)$/m,
    ])
      expect(verdicts).toMatch(target)
    // 26 scenarios, each at least one process start-up (seconds on a loaded machine).
  }, 300_000)

  it('stops a second slave that came after the run was over, and counts it 0 jobs', async () => {
    const out = join(tempDir(), 'bench.jsonl')
    const bench = await run(join(ROOT, 'bench/run.js'), ['--smoke', '--only', 'cpu-2-slaves', '--json', out], {
      env: { BENCH_LATE_SLAVES: '1' },
    })
    expect(bench.exit.code, bench.stderr).toBe(0)
    const [row, ...more] = readFileSync(out, 'utf8')
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as BenchRow)
    expect(more).toEqual([])
    expect(row).toMatchObject({ scenario: 'cpu-2-slaves', jobs: 500, jobsPerSlave: [500, 0] })
    expect(row.slaveCpuSeconds).toHaveLength(2)
  })
})
