import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { POSTGRES_MISSING } from '../helpers/postgres.js'
import { ROOT, run } from '../helpers/proc.js'

// Keeps bench/exactly-once.mjs (npm run bench:once) working: on a small table both paths
// complete, the ratio is reported, and through its faults (master and slave kill -9s, a
// PostgreSQL crash) no row is missed and the exactly-once path writes none twice. Its speed
// is the benchmark's business, never asserted here.
const TSX = join(ROOT, 'node_modules/tsx/dist/cli.mjs')

if (POSTGRES_MISSING !== undefined && process.env.CI) {
  it('PostgreSQL is installed', () => {
    throw new Error(POSTGRES_MISSING)
  })
}

describe.skipIf(POSTGRES_MISSING !== undefined)('bench/exactly-once.mjs on a small table', () => {
  it('runs both paths, their ratio, and both through faults: none missed, 0 rows twice on the exactly-once path', async () => {
    const bench = await run(TSX, [join(ROOT, 'bench/exactly-once.mjs'), '--rows', '20000', '--rounds', '1'])
    expect(bench.exit, bench.stdout + bench.stderr).toEqual({ code: 0, signal: null })
    expect(bench.stdout).toMatch(/^round 1: plain handleBatch [\d,]+ rows\/s, exactlyOnce [\d,]+ rows\/s \([\d.]+\)$/m)
    expect(bench.stdout).toMatch(
      /^medians: plain [\d,]+ rows\/s, exactlyOnce [\d,]+ rows\/s: [\d.]+ of plain \(target 0\.8: (met|NOT met)\)$/m,
    )
    expect(bench.stdout).toMatch(/^rows written twice on the exactly-once path: 0$/m)
    expect(bench.stdout).toMatch(
      /^through faults \(20,000 rows, the master killed -9 twice, a slave once, PostgreSQL crashed and restarted once\): rows written twice: plain handleBatch [\d,]+, exactlyOnce 0; none missed$/m,
    )
  })
})
