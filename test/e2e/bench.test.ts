import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { cleanTempDirs, ROOT, run, tempDir } from '../helpers/proc.js'

// Keeps `npm run bench` working: the quick version completes and reports every field of
// every scenario. Its speed is the benchmark's business, never asserted here.
describe('npm run bench -- --quick', () => {
  afterAll(cleanTempDirs)

  it('runs every scenario and reports every field', async () => {
    const out = join(tempDir(), 'bench.jsonl')
    const bench = await run(join(ROOT, 'bench/run.js'), ['--quick', '--json', out])
    expect(bench.exit.code, bench.stderr).toBe(0)
    const rows = readFileSync(out, 'utf8').trim().split('\n').map((line) => JSON.parse(line))
    expect(rows.map((r) => r.scenario)).toEqual(['baseline', 'baseline-codec', 'bare-1', 'bare-2', '1-slave', '2-slaves', 'latency-20ms', 'fast-and-slow', 'memory-100k', 'memory-10M', '1KB-jobs', 'cpu-1-slave', 'cpu-2-slaves'])
    for (const row of rows) {
      expect(row.quick).toBe(true)
      expect(row.jobs).toBeGreaterThan(0)
      expect(row.jobsPerSecond).toBeGreaterThan(0)
      expect(row.runs).toEqual([row.jobsPerSecond])
      if (row.scenario.startsWith('baseline')) continue
      expect(row.seconds).toBeGreaterThan(0)
      expect(row.masterJobsPerSecond).toBeGreaterThan(0)
      expect(row.masterPeakRssMb).toBeGreaterThan(0)
      expect(row.slavePeakRssMb).toBeGreaterThan(0)
      expect(row.masterCpuSeconds).toBeGreaterThan(0)
      expect(row.slaveCpuSeconds.length).toBe(row.jobsPerSlave.length)
      // Every job ran exactly once across the slaves.
      expect(row.jobsPerSlave.reduce((a: number, b: number) => a + b, 0)).toBe(row.jobs)
    }
  })
})
