// Shards (--shard i/n): three masters, each with its own slave, share one dataset (id
// ranges without a database, and a real PostgreSQL table through pgTable): every row is
// handled exactly once, each shard its own part, and a shard stopped half way resumes on
// its own while the others run to the end.
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterEach, beforeAll, describe, expect, it } from 'vitest'
import { POSTGRES_MISSING, usePostgres } from '../helpers/postgres.js'
import { openPgStore } from '../../src/master/state/pg/store.js'
import { identityArgs } from '../../src/shard.js'
import type { Sandbox } from '../helpers/proc.js'
import {
  EXIT_OK,
  MASTER_BIN,
  cleanUp,
  expectEachKeyRan,
  expectUsageError,
  fixture,
  masterArgs,
  recordedKeys,
  run,
  sandbox,
  spawnArgs,
  startMaster,
  tally,
} from '../helpers/proc.js'

const SHARDS = [1, 2, 3]

/** Keys a shard recorded, in numeric order (the stopped shard ran in two slave processes, one file each). */
const sorted = (box: Sandbox): string[] => recordedKeys(box.records).sort((a, b) => Number(a) - Number(b))

/** Args of shard i of 3 of run `key`, every shard's state in `stateDir`. */
const shardArgs = (stateDir: string, key: string, i: number): string[] => [
  '--key',
  key,
  '--state-dir',
  stateDir,
  '--host',
  '127.0.0.1:0',
  '--shard',
  `${i}/3`,
  ...spawnArgs(1),
]

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
async function runShards(
  job: string,
  key: string,
  stateDir: string,
  env: NodeJS.ProcessEnv,
  args: string[],
): Promise<{ boxes: Sandbox[]; beforeStop: string[] }> {
  const boxes = SHARDS.map(() => sandbox(env))
  const stopped = 2
  const slow = { ...boxes[stopped - 1].env, TM_RECORD_DELAY_MS: '2' }
  const first = await startMaster([job, ...args, ...shardArgs(stateDir, key, stopped), '--status-interval', '0.2'], { env: slow })
  const others = SHARDS.filter((i) => i !== stopped).map((i) =>
    run(MASTER_BIN, [job, ...args, ...shardArgs(stateDir, key, i), '--quiet'], { env: boxes[i - 1].env }),
  )
  await first.master.waitFor(/(?:^|\| )done [1-9]/m, 'stdout')
  first.master.kill('SIGINT')
  expect(await first.master.exited, first.master.stderr).toEqual({ code: 130, signal: null })
  const beforeStop = recordedKeys(boxes[stopped - 1].records)
  for (const done of await Promise.all(others)) expect(done.exit, done.stderr).toEqual(EXIT_OK)
  const again = await run(MASTER_BIN, [job, ...args, ...shardArgs(stateDir, key, stopped), '--quiet'], { env: boxes[stopped - 1].env })
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
    expect(sorted(boxes[0])).toEqual(ids(0, 1000))
    expect(sorted(boxes[1])).toEqual(ids(1000, 2000))
    expect(sorted(boxes[2])).toEqual(ids(2000, 3000))
    expectExactlyOnce(boxes, ids(0, N))
    // Each shard keeps its own state, with the shard saved beside the arguments.
    for (const i of SHARDS) {
      const checkpoint: unknown = JSON.parse(readFileSync(join(stateDir, `ranges.shard-${i}-of-3.json`), 'utf8'))
      expect(checkpoint).toMatchObject({
        key: `ranges.shard-${i}-of-3`,
        complete: true,
        args: { n: String(N), '@shard': `${i}/3` },
        counts: { done: 1000, failed: 0 },
      })
    }
  })

  it("a shard's state is not resumed as the whole dataset", async () => {
    const box = sandbox()
    const base = ['--state-dir', box.stateDir, '--host', '127.0.0.1:0', '--quiet', ...spawnArgs(1)]
    const started = await startMaster(
      [JOBS, 'n=100000', '--key', 'r', '--shard', '2/3', ...base.filter((a) => a !== '--quiet'), '--status-interval', '0.2'],
      { env: { ...box.env, TM_RECORD_DELAY_MS: '1' } },
    )
    await started.master.waitFor(/(?:^|\| )done [1-9]/m, 'stdout')
    started.master.kill('SIGINT')
    expect((await started.master.exited).code).toBe(130)
    const whole = await run(MASTER_BIN, [JOBS, 'n=100000', '--key', 'r.shard-2-of-3', ...base], { env: box.env })
    expect(whole.exit, whole.stderr).toEqual({ code: 2, signal: null })
    expect(whole.stderr).toContain("Run 'r.shard-2-of-3' was started with arguments n=100000 @shard=2/3 but is now given n=100000;")
    expect(recordedKeys(box.records).length).toBeLessThan(100000)
  })
})

describe('--shard mistyped', () => {
  it('0/3, 4/3, 1/0, 1/3.5, a/b, 1/3/3, -1/3, 1e3/1e3, huge numbers and nothing are each a one-line error naming the flag, before anything starts', async () => {
    const box = sandbox()
    const huge = ['1/99999999999999999999', '99999999999999999999/99999999999999999999', '1/1000001']
    const bad = ['0/3', '4/3', '1/0', '1/3.5', 'a/b', '1/3/3', '-1/3', '1e3/1e3', '', ...huge]
    const refused = await Promise.all(
      bad.map((text) => run(MASTER_BIN, [fixture('shard-ranges.mjs'), 'n=10', '--shard', text, ...masterArgs(box, 'm')])),
    )
    for (const [i, proc] of refused.entries()) {
      expectUsageError(proc)
      expect(proc.stderr).toBe(
        `error: option '--shard <i/n>' argument '${bad[i]}' is invalid. must be i/n with 1 <= i <= n <= 1000000 (e.g. 2/3), got '${bad[i]}'\n`,
      )
    }
    expect(existsSync(box.stateDir)).toBe(false)
  })
})

/** What every refusal of another shard count says, after its particulars. */
const COUNT_RULE = ": a key's shards must all have one count, or jobs are skipped or run twice"

/** Master args of a shard (or of the whole run: no `shard`) of run `key` over ids 0..n-1, its state kept by `store` args. */
const countArgs = (store: string[], key: string, shard: string | undefined, n: number): string[] => [
  fixture('shard-ranges.mjs'),
  `n=${n}`,
  '--key',
  key,
  ...store,
  '--host',
  '127.0.0.1:0',
  '--quiet',
  ...(shard === undefined ? [] : ['--shard', shard]),
  ...spawnArgs(1),
]

/**
 * The issue's mistake, in a store (`store`: its tm-master args; `where`: how refusals name
 * it): --shard 1/3 and 2/3 run, then 4/4 and 1/4 are refused before any job goes out, and
 * so is the key without --shard; 3/3 then completes the ids, each run exactly once. Beside
 * it, under another key, a run of the whole key refuses --shard 1/2.
 */
async function expectOneCount(store: string[], where: string): Promise<void> {
  const saved = `(saved: 'k.shard-1-of-3' and 1 more, in ${where})`
  const sharded = async (): Promise<void> => {
    const box = sandbox()
    const N = 300
    const start = (shard: string | undefined): ReturnType<typeof run> => run(MASTER_BIN, countArgs(store, 'k', shard, N), { env: box.env })
    for (const done of await Promise.all([start('1/3'), start('2/3')])) expect(done.exit, done.stderr).toEqual(EXIT_OK)
    const ran = recordedKeys(box.records).length
    expect(ran).toBe(200)
    // 4/4 and 1/4 at once: of one count, neither counts the other.
    const [four, one] = await Promise.all([start('4/4'), start('1/4')])
    expectRefused(four, `Run 'k' is sharded in 3 ${saved} but is now given --shard 4/4${COUNT_RULE}. Use --shard i/3, or another --key`)
    expectRefused(one, `Run 'k' is sharded in 3 ${saved} but is now given --shard 1/4${COUNT_RULE}. Use --shard i/3, or another --key`)
    // Still 'and 1 more': the refused shards left no state.
    expectRefused(
      await start(undefined),
      `Run 'k' is sharded in 3 ${saved} but is now given no --shard${COUNT_RULE}. Use --shard i/3, or another --key`,
    )
    expect(recordedKeys(box.records).length, 'jobs run by refused masters').toBe(ran)
    const last = await start('3/3')
    expect(last.exit, last.stderr).toEqual(EXIT_OK)
    expectEachKeyRan(box.records, N)
  }
  // The other way round: a key run whole refuses shards.
  const whole = async (): Promise<void> => {
    const box = sandbox()
    const once = await run(MASTER_BIN, countArgs(store, 'w', undefined, 10), { env: box.env })
    expect(once.exit, once.stderr).toEqual(EXIT_OK)
    expectRefused(
      await run(MASTER_BIN, countArgs(store, 'w', '1/2', 10), { env: box.env }),
      `Run 'w' is not sharded (saved: 'w', in ${where}) but is now given --shard 1/2${COUNT_RULE}. Use no --shard, or another --key`,
    )
    expectEachKeyRan(box.records, 10)
  }
  await Promise.all([sharded(), whole()])
}

/** A bad-usage exit whose one line is exactly `message`. */
function expectRefused(proc: Awaited<ReturnType<typeof run>>, message: string): void {
  expectUsageError(proc)
  expect(proc.stderr).toBe(`tm-master: ${message}\n`)
}

describe('a key keeps one shard count (state dir)', () => {
  it('--shard 1/3 and 2/3 run, 4/4, 1/4 and no --shard are refused before any job goes out, 3/3 completes every id once; a key run whole refuses --shard', async () => {
    const stateDir = sandbox().stateDir
    await expectOneCount(['--state-dir', stateDir], `the state dir '${stateDir}'`)
  }, 300_000)

  it("--retry-failed on a shard replays that shard's failed jobs (its pass is a run of its own), and the key keeps its count", async () => {
    const box = sandbox({ TM_FAIL_IDS: '3,15' })
    const shard = (i: number, extra: string[], env = box.env): ReturnType<typeof run> =>
      run(
        MASTER_BIN,
        [
          fixture('shard-ranges.mjs'),
          '--key',
          'rf',
          '--shard',
          `${i}/2`,
          '--state-dir',
          box.stateDir,
          '--host',
          '127.0.0.1:0',
          '--quiet',
          '--retries',
          '0',
          ...spawnArgs(1, fixture('rel-faulty.mjs')),
          ...extra,
        ],
        { env },
      )
    for (const done of await Promise.all([shard(1, ['n=20']), shard(2, ['n=20'])])) expect(done.exit.code, done.stderr).toBe(1)
    const fixed = { ...box.env, TM_FIXED: '1' }
    for (const i of [1, 2]) {
      const retry = await shard(i, ['--retry-failed'], fixed)
      expect(retry.exit, retry.stderr).toEqual(EXIT_OK)
      expect(retry.stdout).toMatch(new RegExp(`^Run 'rf\\.shard-${i}-of-2\\.retry' complete: 1 jobs \\(1 done, 0 failed\\)`, 'm'))
    }
    expectEachKeyRan(box.records, 20)
    expectRefused(
      await shard(1, ['n=20', '--shard', '1/3']),
      `Run 'rf' is sharded in 2 (saved: 'rf.shard-1-of-2' and 1 more, in the state dir '${box.stateDir}') but is now given --shard 1/3${COUNT_RULE}. Use --shard i/2, or another --key`,
    )
  })
})

// In CI PostgreSQL must be there (.ci/run installs it): fail loudly rather than skip.
if (POSTGRES_MISSING !== undefined && process.env.CI) {
  it('PostgreSQL is installed', () => {
    throw new Error(POSTGRES_MISSING)
  })
}

describe.skipIf(POSTGRES_MISSING !== undefined)(
  `--shard i/n over a PostgreSQL table${POSTGRES_MISSING ? ` (skipped: ${POSTGRES_MISSING})` : ''}`,
  () => {
    const ROWS = 3000
    const postgres = usePostgres()

    beforeAll(async () => {
      // int8 ids with gaps (7g + 1), so the shards' parts (id mod 3) are not every third row.
      await postgres.db.query('CREATE TABLE items (id int8 PRIMARY KEY)')
      await postgres.db.query(`INSERT INTO items SELECT 7 * g + 1 FROM generate_series(1, ${ROWS}) g`)
    })

    it('three shards, each with its own slave, handle every row exactly once, id mod 3 each, and resume independently', async () => {
      const stateDir = sandbox().stateDir
      const { boxes, beforeStop } = await runShards(
        fixture('pg-shard-table.mjs'),
        'pg',
        stateDir,
        { TM_PG_URL: postgres.server.url, TM_PG_PAGE: '50' },
        [],
      )
      const all = Array.from({ length: ROWS }, (_, g) => 7 * (g + 1) + 1)
      expect(beforeStop.length).toBeGreaterThan(0)
      expect(beforeStop.length).toBeLessThan(ROWS / 3)
      for (const i of SHARDS) expect(sorted(boxes[i - 1])).toEqual(all.filter((id) => id % 3 === i - 1).map(String))
      expectExactlyOnce(boxes, all.map(String))
    })

    it('two first starts of different counts at once do not both go on', async () => {
      for (let round = 0; round < 8; round++) {
        const stores = await Promise.all([3, 4].map((count) => openPgStore(postgres.server.url, `race${round}.shard-1-of-${count}`)))
        const begun = await Promise.allSettled(stores.map((store, i) => store.begin(identityArgs({}, { index: 1, count: 3 + i }))))
        expect(
          begun.filter((result) => result.status === 'fulfilled'),
          `round ${round}`,
        ).not.toHaveLength(2)
        for (const [i, result] of begun.entries()) {
          if (result.status === 'rejected') {
            expect(String(result.reason)).toMatch(new RegExp(`^CheckpointError: Run 'race${round}' is sharded in ${4 - i} `))
            await stores[i].discardFresh()
          }
          await stores[i].close()
        }
      }
    })

    it('in the state store too: 4/4, 1/4 and no --shard are refused beside 1/3 and 2/3, 3/3 completes every id once; a key run whole refuses --shard', async () => {
      const url = postgres.server.url
      await expectOneCount(['--state-store', url, '--state-dir', sandbox().stateDir], `the state store ${url}`)
    }, 300_000)
  },
)
