// The examples run end to end with the real bins: every row or line handled exactly
// once, also when a run is stopped half way (SIGINT) and started again.
import { readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { afterEach, describe, expect, it } from 'vitest'
import { EXIT_OK, MASTER_BIN, ROOT, cleanUp, run, startMaster, tempDir } from '../helpers/proc.js'

const TSX = join(ROOT, 'node_modules/tsx/dist/cli.mjs')
const SLOW = join(ROOT, 'test/fixtures/slow-handler.ts')
const example = (path: string): string => join(ROOT, 'examples', path)

afterEach(cleanUp)

/** Master options of run `key`: state in `dir`, a free port, `spawn` local slaves running `handler`. */
const masterArgs = (dir: string, key: string, handler: string, spawn = 2): string[] => [
  '--key',
  key,
  '--state-dir',
  join(dir, 'state'),
  '--host',
  '127.0.0.1:0',
  '--spawn',
  String(spawn),
  '--handler',
  handler,
]

/** Runs `key` once to its end; resolves with the number of jobs the summary line reports. */
async function runToEnd(jobs: string, dir: string, key: string, handler: string, env: NodeJS.ProcessEnv): Promise<number> {
  const done = await run(MASTER_BIN, [jobs, ...masterArgs(dir, key, handler), '--quiet'], { env })
  expect(done.exit, done.stderr).toEqual(EXIT_OK)
  const match = done.stdout.match(new RegExp(`^Run '${key}' complete: (\\d+) jobs \\(\\1 done, 0 failed`, 'm'))
  expect(match, done.stdout).not.toBeNull()
  return Number(match![1])
}

/** Starts `key` with a slowed handler, stops it (SIGINT) once jobs are done, and checks it stopped gracefully. */
async function stopHalfWay(jobs: string, dir: string, key: string, handler: string, env: NodeJS.ProcessEnv): Promise<void> {
  const { master } = await startMaster([jobs, ...masterArgs(dir, key, SLOW), '--status-interval', '0.2'], {
    env: { ...env, TM_SLOW_HANDLER: handler, TM_SLOW_MS: '2' },
  })
  await master.waitFor(/(?:^|\| )done [1-9]/m, 'stdout')
  master.kill('SIGINT')
  expect(await master.exited, master.stderr).toEqual({ code: 130, signal: null })
  expect(master.stdout).toMatch(new RegExp(`^Run '${key}' stopped: `, 'm'))
}

describe('examples/sqlite', () => {
  const ROWS = 5000
  const JOBS = example('sqlite/jobs.ts')
  const HANDLER = example('sqlite/handler.ts')

  async function setUp(): Promise<{ dir: string; env: NodeJS.ProcessEnv; db: string }> {
    const dir = tempDir()
    const db = join(dir, 'users.db')
    const env = { SQLITE_DB: db }
    const setup = await run(TSX, [example('sqlite/setup.ts'), `rows=${ROWS}`], { env })
    expect(setup.exit, setup.stderr).toEqual(EXIT_OK)
    expect(setup.stdout).toBe(`Created ${db} with ${ROWS} users\n`)
    return { dir, env, db }
  }

  /** How many rows were written how many times, and the domains written. */
  function written(path: string) {
    const db = new Database(path, { readonly: true })
    try {
      return {
        times: db.prepare('SELECT backfilled, count(*) AS n FROM users GROUP BY backfilled').all(),
        domains: db.prepare('SELECT domain, count(*) AS n FROM users GROUP BY domain ORDER BY domain').all(),
      }
    } finally {
      db.close()
    }
  }

  const EXPECTED = {
    times: [{ backfilled: 1, n: ROWS }],
    domains: [
      { domain: 'corp.example', n: ROWS / 4 },
      { domain: 'example.com', n: ROWS / 4 },
      { domain: 'example.net', n: ROWS / 4 },
      { domain: 'mail.example.org', n: ROWS / 4 },
    ],
  }

  it('backfills every row exactly once', async () => {
    const { dir, env, db } = await setUp()
    expect(await runToEnd(JOBS, dir, 'sqlite', `${HANDLER}:handleBatch`, env)).toBe(ROWS)
    expect(written(db)).toEqual(EXPECTED)
  })

  it('stopped half way and run again, every row is written exactly once', async () => {
    const { dir, env, db } = await setUp()
    await stopHalfWay(JOBS, dir, 'sqlite-resume', HANDLER, env)
    const first = (written(db).times as { backfilled: number; n: number }[]).find((row) => row.backfilled === 1)?.n ?? 0
    expect(first).toBeGreaterThan(0)
    expect(first).toBeLessThan(ROWS)
    expect(await runToEnd(JOBS, dir, 'sqlite-resume', `${HANDLER}:handleBatch`, env)).toBe(ROWS - first)
    expect(written(db)).toEqual(EXPECTED)
  })
})

describe('examples/ndjson', () => {
  const LINES = 5000
  const JOBS = example('ndjson/jobs.ts')
  const HANDLER = example('ndjson/handler.ts')

  async function setUp(): Promise<{ dir: string; env: NodeJS.ProcessEnv; out: string }> {
    const dir = tempDir()
    const env = { NDJSON_FILE: join(dir, 'orders.ndjson'), NDJSON_OUT: join(dir, 'out') }
    const generate = await run(TSX, [example('ndjson/generate.ts'), `lines=${LINES}`], { env })
    expect(generate.exit, generate.stderr).toEqual(EXIT_OK)
    return { dir, env, out: env.NDJSON_OUT }
  }

  /** Order ids in the output files, sorted (duplicates kept). */
  function outputIds(out: string): number[] {
    return readdirSync(out)
      .flatMap((file) =>
        readFileSync(join(out, file), 'utf8')
          .split('\n')
          .filter((line) => line !== ''),
      )
      .map((line) => (JSON.parse(line) as { id: number }).id)
      .sort((a, b) => a - b)
  }
  const ALL = Array.from({ length: LINES }, (_, i) => i + 1)

  it('handles every line exactly once', async () => {
    const { dir, env, out } = await setUp()
    expect(await runToEnd(JOBS, dir, 'ndjson', `${HANDLER}:handleJob`, env)).toBe(LINES)
    expect(outputIds(out)).toEqual(ALL)
    // The handler's work, for one line: price (id % 100) + 0.5 times qty (id % 7) + 1.
    const first = readdirSync(out)
      .flatMap((file) => readFileSync(join(out, file), 'utf8').split('\n'))
      .find((line) => line.startsWith('{"id":10,'))
    expect(first).toBe('{"id":10,"customer":"c10","amount":42}')
  })

  it('stopped half way and run again, every line is handled exactly once', async () => {
    const { dir, env, out } = await setUp()
    await stopHalfWay(JOBS, dir, 'ndjson-resume', HANDLER, env)
    const first = outputIds(out).length
    expect(first).toBeGreaterThan(0)
    expect(first).toBeLessThan(LINES)
    expect(await runToEnd(JOBS, dir, 'ndjson-resume', `${HANDLER}:handleJob`, env)).toBe(LINES - first)
    expect(outputIds(out)).toEqual(ALL)
  })

  it('getJobs resumes after the line at any offset, with lines longer than a read chunk and no final newline', async () => {
    const dir = tempDir()
    const file = join(dir, 'lines.ndjson')
    const lines = ['{"a":1}', 'x'.repeat(70_000), '', '{"b":"é"}', 'y'.repeat(130_000), '{"last":true}']
    writeFileSync(file, lines.join('\n'))
    process.env.NDJSON_FILE = file
    const { getJobs, total } = await import('../../examples/ndjson/jobs.ts')
    delete process.env.NDJSON_FILE
    const collect = async (last?: number) => {
      const jobs: { offset: number; line: string }[] = []
      for await (const job of getJobs(last)) jobs.push(job)
      return jobs
    }
    const all = await collect()
    const content = readFileSync(file)
    expect(all.map((job) => job.line)).toEqual(lines.filter((line) => line !== ''))
    for (const job of all) expect(content.toString('utf8', job.offset, job.offset + Buffer.byteLength(job.line))).toBe(job.line)
    for (let i = 0; i < all.length; i++) expect(await collect(all[i].offset)).toEqual(all.slice(i + 1))
    // total() counts newlines: a progress estimate (here the empty line and the unterminated last one even out).
    expect(await total()).toBe(5)
  })
})
