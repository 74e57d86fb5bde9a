// Shards (--shard i/n): three masters, each with its own slave, share one dataset (id
// ranges without a database, and a real PostgreSQL table through pgTable): every row is
// handled exactly once, each shard its own part, and a shard stopped half way resumes on
// its own while the others run to the end.
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterEach, beforeAll, describe, expect, it } from 'vitest'
import { POSTGRES_MISSING, usePostgres } from '../helpers/postgres.js'
import type { Sandbox } from '../helpers/proc.js'
import { EXIT_OK, MASTER_BIN, cleanUp, fixture, recordedKeys, run, sandbox, spawnArgs, startMaster, tally } from '../helpers/proc.js'

const SHARDS = [1, 2, 3]

/** Keys a shard recorded, in numeric order (the stopped shard ran in two slave processes, one file each). */
const sorted = (box: Sandbox): string[] => recordedKeys(box.records).sort((a, b) => Number(a) - Number(b))

/** Args of shard i of 3 of run `key`, every shard's state in `stateDir`. */
const shardArgs = (stateDir: string, key: string, i: number): string[] => ['--key', key, '--state-dir', stateDir, '--host', '127.0.0.1:0', '--shard', `${i}/3`, ...spawnArgs(1)]

/** Keys recorded more or less than once over all boxes, and keys never recorded (of `all`). */
function expectExactlyOnce(boxes: Sandbox[], all: string[]): void {
  const counts = tally(boxes.flatMap((box) => recordedKeys(box.records)))
  const wrong = all.filter((key) => counts.get(key) !== 1).map((key) => `${key} ran ${counts.get(key) ?? 0} times`)
  for (const key of all) counts.delete(key)
  expect(wrong.slice(0, 20), `${wrong.length} keys not run exactly once`).toEqual([])
  expect([...counts.keys()].slice(0, 20), 'keys recorded that the dataset does not hold').toEqual([])
}

/**
 * Runs the three shards at once, shard `stopped` slowed and stopped half way (SIGINT),
 * then started again to its end. Returns the sandboxes (records of each shard apart).
 */
async function runShards(job: string, key: string, stateDir: string, env: NodeJS.ProcessEnv, args: string[]): Promise<{ boxes: Sandbox[]; beforeStop: string[] }> {
  const boxes = SHARDS.map(() => sandbox(env))
  const stopped = 2
  const slow = { ...boxes[stopped - 1]!.env, TM_RECORD_DELAY_MS: '2' }
  const first = await startMaster([job, ...args, ...shardArgs(stateDir, key, stopped), '--status-interval', '0.2'], { env: slow })
  const others = SHARDS.filter((i) => i !== stopped).map((i) => run(MASTER_BIN, [job, ...args, ...shardArgs(stateDir, key, i), '--quiet'], { env: boxes[i - 1]!.env }))
  await first.master.waitFor(/(?:^|\| )done [1-9]/m, 'stdout')
  first.master.kill('SIGINT')
  expect(await first.master.exited, first.master.stderr).toEqual({ code: 130, signal: null })
  const beforeStop = recordedKeys(boxes[stopped - 1]!.records)
  for (const done of await Promise.all(others)) expect(done.exit, done.stderr).toEqual(EXIT_OK)
  const again = await run(MASTER_BIN, [job, ...args, ...shardArgs(stateDir, key, stopped), '--quiet'], { env: boxes[stopped - 1]!.env })
  expect(again.exit, again.stderr).toEqual(EXIT_OK)
  expect(again.stdout).toMatch(new RegExp(`^Run '${key}\\.shard-2-of-3' complete: \\d+ jobs`, 'm'))
  return { boxes, beforeStop }
}

afterEach(cleanUp)

describe('--shard i/n over id ranges (no database)', () => {
  const N = 3000
  const JOBS = fixture('shard-ranges.mjs')

  it('three shards cover every id exactly once, each a contiguous third, and resume independently', async () => {
    const stateDir = join(sandbox().stateDir)
    const { boxes, beforeStop } = await runShards(JOBS, 'ranges', stateDir, {}, [`n=${N}`])
    const ids = (from: number, to: number): string[] => Array.from({ length: to - from }, (_, i) => String(from + i))
    expect(beforeStop.length).toBeGreaterThan(0)
    expect(beforeStop.length).toBeLessThan(N / 3)
    // Each shard ran its own contiguous slice.
    expect(sorted(boxes[0]!)).toEqual(ids(0, 1000))
    expect(sorted(boxes[1]!)).toEqual(ids(1000, 2000))
    expect(sorted(boxes[2]!)).toEqual(ids(2000, 3000))
    expectExactlyOnce(boxes, ids(0, N))
    // Each shard keeps its own state, with the shard saved beside the arguments.
    for (const i of SHARDS) {
      const checkpoint = JSON.parse(readFileSync(join(stateDir, `ranges.shard-${i}-of-3.json`), 'utf8'))
      expect(checkpoint).toMatchObject({ key: `ranges.shard-${i}-of-3`, complete: true, args: { n: String(N), '@shard': `${i}/3` }, counts: { done: 1000, failed: 0 } })
    }
  })

  it("a shard's state is not resumed as the whole dataset", async () => {
    const box = sandbox()
    const base = ['--state-dir', box.stateDir, '--host', '127.0.0.1:0', '--quiet', ...spawnArgs(1)]
    const started = await startMaster([JOBS, 'n=100000', '--key', 'r', '--shard', '2/3', ...base.filter((a) => a !== '--quiet'), '--status-interval', '0.2'], { env: { ...box.env, TM_RECORD_DELAY_MS: '1' } })
    await started.master.waitFor(/(?:^|\| )done [1-9]/m, 'stdout')
    started.master.kill('SIGINT')
    expect((await started.master.exited).code).toBe(130)
    const whole = await run(MASTER_BIN, [JOBS, 'n=100000', '--key', 'r.shard-2-of-3', ...base], { env: box.env })
    expect(whole.exit, whole.stderr).toEqual({ code: 2, signal: null })
    expect(whole.stderr).toContain("Run 'r.shard-2-of-3' was started with arguments n=100000 @shard=2/3 but is now given n=100000;")
    expect(recordedKeys(box.records).length).toBeLessThan(100000)
  })
})

// In CI PostgreSQL must be there (.ci/run installs it): fail loudly rather than skip.
if (POSTGRES_MISSING !== undefined && process.env.CI) {
  it('PostgreSQL is installed', () => {
    throw new Error(POSTGRES_MISSING)
  })
}

describe.skipIf(POSTGRES_MISSING !== undefined)(`--shard i/n over a PostgreSQL table${POSTGRES_MISSING ? ` (skipped: ${POSTGRES_MISSING})` : ''}`, () => {
  const ROWS = 3000
  const postgres = usePostgres()

  beforeAll(async () => {
    // int8 ids with gaps (7g + 1), so the shards' parts (id mod 3) are not every third row.
    await postgres.db.query('CREATE TABLE items (id int8 PRIMARY KEY)')
    await postgres.db.query(`INSERT INTO items SELECT 7 * g + 1 FROM generate_series(1, ${ROWS}) g`)
  })

  it('three shards, each with its own slave, handle every row exactly once, id mod 3 each, and resume independently', async () => {
    const stateDir = sandbox().stateDir
    const { boxes, beforeStop } = await runShards(fixture('pg-shard-table.mjs'), 'pg', stateDir, { TM_PG_URL: postgres.server.url, TM_PG_PAGE: '50' }, [])
    const all = Array.from({ length: ROWS }, (_, g) => 7 * (g + 1) + 1)
    expect(beforeStop.length).toBeGreaterThan(0)
    expect(beforeStop.length).toBeLessThan(ROWS / 3)
    for (const i of SHARDS) expect(sorted(boxes[i - 1]!)).toEqual(all.filter((id) => id % 3 === i - 1).map(String))
    expectExactlyOnce(boxes, all.map(String))
  })
})
