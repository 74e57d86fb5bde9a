import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { POSTGRES_MISSING } from '../helpers/postgres.js'
import { ROOT, cleanTempDirs, run, tempDir } from '../helpers/proc.js'

// Keeps bench/no-code.mjs working (the backfill with no code beside one single UPDATE):
// on a tiny table both complete (each checks that every row got its value) and every
// field is reported. Its speed is the benchmark's business, never asserted here.
const TSX = join(ROOT, 'node_modules/tsx/dist/cli.mjs')

if (POSTGRES_MISSING !== undefined && process.env.CI) {
  it('PostgreSQL is installed', () => {
    throw new Error(POSTGRES_MISSING)
  })
}

describe.skipIf(POSTGRES_MISSING !== undefined)('bench/no-code.mjs on a tiny table', () => {
  afterAll(cleanTempDirs)

  it('runs the single UPDATE and the no-code command, and reports their rates, the ratio and the command', async () => {
    const out = join(tempDir(), 'no-code.jsonl')
    const bench = await run(TSX, [join(ROOT, 'bench/no-code.mjs'), '--rows', '3000', '--rounds', '1', '--json', out])
    expect(bench.exit, bench.stderr).toEqual({ code: 0, signal: null })
    expect(bench.stdout).toMatch(
      /^No code vs one single UPDATE, 3,000 rows, medians of 1: [\d,]+ vs [\d,]+ rows\/s, ratio [\d.]+ \(target >= 0\.7: (met|NOT met)\); from launch [\d.]+$/m,
    )
    const result = JSON.parse(readFileSync(out, 'utf8').trim()) as Record<string, unknown>
    expect(Object.keys(result).sort()).toEqual([
      'command',
      'noCode',
      'noCodeWall',
      'ratio',
      'rounds',
      'rows',
      'runs',
      'single',
      'wallRatio',
    ])
    expect(result).toMatchObject({ rows: 3000, rounds: 1 })
    for (const field of ['single', 'noCode', 'noCodeWall', 'ratio', 'wallRatio']) expect(result[field]).toBeGreaterThan(0)
    expect(result.command).toBe(
      `tm-master taskmaster-run/pg/table db=env:DATABASE_URL table=users --key users-domain --spawn 2 --handler taskmaster-run/pg/sql "sql=UPDATE users SET domain = lower(split_part(email, '@', 2)) WHERE id = ANY(\\$1)" --batch 1000`,
    )
  })
})
