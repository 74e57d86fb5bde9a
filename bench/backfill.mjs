#!/usr/bin/env node
// Backfill benchmark: the same UPDATE of every row of a generated PostgreSQL table
// (examples/postgres) done (a) by a hand-written single-process script (keyset pages of
// 1,000, one batched UPDATE each: bench/backfill-script.mjs), (b) through Taskmaster one
// job per row (handleJob, one UPDATE per row, --concurrency 16), (c) through Taskmaster
// with handleBatch (--batch 1000), 1 and 2 slaves; side by side in one run, since the
// machine is shared and noisy. Each scenario gets a freshly created table (no bloat from
// the one before). Then (d) the start of the README's command (bench/start-up.mjs): launch
// to running and to the first row done, warm. PostgreSQL: a throwaway server
// (test/helpers/postgres.ts), or --db URL.
//   npm run bench:backfill -- [--rows 1000000] [--per-row-rows 100000] [--repeat 1] [--start-runs 3] [--db url] [--json file]
import { spawn } from 'node:child_process'
import { appendFileSync, mkdtempSync, rmSync } from 'node:fs'
import { cpus, loadavg, tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import pg from 'pg'
import { startPostgres } from '../test/helpers/postgres.ts'
import { startUp, startUpTarget } from './start-up.mjs'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const MASTER = join(root, 'bin/tm-master.js')
const TSX = join(root, 'node_modules/tsx/dist/cli.mjs')
const SCRIPT = join(root, 'bench/backfill-script.mjs')
const SETUP = join(root, 'examples/postgres/setup.ts')
const JOBS = join(root, 'examples/postgres/jobs.ts')
const HANDLER = join(root, 'examples/postgres/handler.ts')

const argv = process.argv.slice(2)
const option = (name, fallback) => {
  const at = argv.indexOf(name)
  return at >= 0 && argv[at + 1] !== undefined ? argv[at + 1] : fallback
}
if (argv.includes('--help')) {
  console.log('npm run bench:backfill -- [--rows 1000000] [--per-row-rows 100000] [--repeat 1] [--start-runs 3] [--db postgres://...] [--json file]')
  process.exit(0)
}
const ROWS = Number(option('--rows', 1_000_000))
// A million single-row UPDATEs take minutes: one job per row runs on a smaller table, and
// is compared in rows/s.
const PER_ROW_ROWS = Number(option('--per-row-rows', Math.min(ROWS, 100_000)))
const REPEAT = Math.max(1, Number(option('--repeat', 1)))
const START_RUNS = Math.max(1, Number(option('--start-runs', 3)))
const json = option('--json', undefined)

/** Runs a node script to its end; rejects with its output when it fails. */
function node(args, env = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d) => (stdout += d))
    child.stderr.on('data', (d) => (stderr += d))
    child.on('exit', (code) => (code === 0 ? resolve(stdout) : reject(new Error(`${args.join(' ')} exited ${code}\n${stdout}\n${stderr}`))))
  })
}

const server = option('--db', undefined) === undefined ? await startPostgres() : undefined
const url = option('--db', undefined) ?? server.url
const db = new pg.Client(url)
await db.connect()

/** A fresh table of `rows` rows (examples/postgres/setup.ts), flushed to disk before the clock starts. */
async function freshTable(rows) {
  await db.query('DROP TABLE IF EXISTS users')
  await node([TSX, SETUP, `db=${url}`, `rows=${rows}`])
  await db.query('CHECKPOINT')
}

/** Checks the scenario updated every row to its value (a benchmark of a wrong backfill measures nothing). */
async function expectAllUpdated(rows) {
  const { n, wrong } = (await db.query("SELECT count(*)::int AS n, count(*) FILTER (WHERE domain IS DISTINCT FROM lower(split_part(email, '@', 2)))::int AS wrong FROM users")).rows[0]
  if (n !== rows || wrong !== 0) throw new Error(`backfill incomplete: ${n} rows, ${wrong} not updated to their value`)
}

/** One Taskmaster run over the table; its rate is the master's own (from listening to the last row done: its own start is not counted, the local slaves' is, but for what it overlaps). */
async function taskmaster(rows, handler, extra) {
  const dir = mkdtempSync(join(tmpdir(), 'tm-bench-backfill-'))
  try {
    const out = await node([MASTER, JOBS, `db=${url}`, '--key', 'backfill', '--state-dir', dir, '--host', '127.0.0.1:0', '--handler', handler, ...extra, '--quiet'])
    const match = out.match(/^Run 'backfill' complete: (\d+) jobs \(\1 done, 0 failed\) in [\d:]+, ([\d.]+) jobs\/s \(started in [\d.]+ s\)$/m)
    if (match === null || Number(match[1]) !== rows) throw new Error(`unexpected summary:\n${out}`)
    return { rowsPerSecond: Number(match[2]), seconds: rows / Number(match[2]) }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

const SCENARIOS = [
  { name: 'script', label: '(a) hand-written script, pages of 1,000, one UPDATE each', rows: ROWS, run: async (rows) => {
    const { seconds } = JSON.parse(await node([SCRIPT, url]))
    return { rowsPerSecond: rows / seconds, seconds }
  } },
  { name: 'per-row', label: '(b) Taskmaster, one job per row (handleJob, 1 slave, --concurrency 16)', rows: PER_ROW_ROWS, run: (rows) => taskmaster(rows, `${HANDLER}:handleJob`, ['--spawn', '1', '--concurrency', '16']) },
  { name: 'batch-1-slave', label: '(c) Taskmaster, handleBatch --batch 1000, 1 slave', rows: ROWS, run: (rows) => taskmaster(rows, HANDLER, ['--spawn', '1', '--batch', '1000']) },
  { name: 'batch-2-slaves', label: '(c) Taskmaster, handleBatch --batch 1000, 2 slaves', rows: ROWS, run: (rows) => taskmaster(rows, HANDLER, ['--spawn', '2', '--batch', '1000']) },
]

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]
const settings = Object.fromEntries((await db.query("SELECT name, setting, unit FROM pg_settings WHERE name IN ('fsync', 'synchronous_commit', 'shared_buffers', 'wal_level', 'max_wal_size', 'autovacuum')")).rows.map((r) => [r.name, r.unit ? `${r.setting} ${r.unit}` : r.setting]))
const version = (await db.query('SHOW server_version')).rows[0].server_version
console.log(`Machine: ${cpus().length} × ${cpus()[0]?.model ?? 'unknown CPU'}, load average ${loadavg().map((l) => l.toFixed(2)).join(' ')} (shared: compare ratios within one run)`)
console.log(`PostgreSQL ${version}${server ? ' (throwaway server on 127.0.0.1)' : ''}: ${Object.entries(settings).map(([k, v]) => `${k}=${v}`).join(', ')}`)

const results = {}
let start
try {
  for (const scenario of SCENARIOS) {
    const runs = []
    for (let i = 0; i < REPEAT; i++) {
      await freshTable(scenario.rows)
      const { rowsPerSecond } = await scenario.run(scenario.rows)
      await expectAllUpdated(scenario.rows)
      runs.push(Math.round(rowsPerSecond))
    }
    const rowsPerSecond = median(runs)
    const row = { scenario: scenario.name, rows: scenario.rows, rowsPerSecond, seconds: Number((scenario.rows / rowsPerSecond).toFixed(2)), runs }
    results[scenario.name] = row
    console.log(`${scenario.label}: ${scenario.rows.toLocaleString('en-US')} rows, ${rowsPerSecond.toLocaleString('en-US')} rows/s (${row.seconds} s)`)
    if (json !== undefined) appendFileSync(json, JSON.stringify(row) + '\n')
  }
  // The README's command on the table the last scenario left (what the rows hold does not
  // change a start), its password from the environment as there.
  const args = ['db=env:DATABASE_URL', '--batch', '1000']
  start = await startUp('start', { rows: ROWS, jobs: JOBS, handler: HANDLER, args, env: { DATABASE_URL: url }, runs: START_RUNS })
  console.log(`(d) Taskmaster's start, the README's command (TypeScript modules, --spawn 2), warm, median of ${START_RUNS}: launch to running ${start.startedIn.toFixed(2)} s, to the first row done ${start.firstJobSeconds.toFixed(2)} s`)
  const { jobs: rows, ...figures } = start
  if (json !== undefined) appendFileSync(json, JSON.stringify({ ...figures, rows }) + '\n')
} finally {
  await db.end()
  server?.stop()
}

const pct = (a, b) => ((100 * a) / b).toFixed(1)
const verdict = (ok) => (ok ? 'met' : 'NOT met')
const { script, 'per-row': perRow, 'batch-1-slave': one, 'batch-2-slaves': two } = results
console.log(`\nAgainst the targets${ROWS < 100_000 ? ' (a table this small is too short to judge them: run the full one)' : ''}:`)
for (const [label, row] of [['1 slave', one], ['2 slaves', two]]) {
  console.log(`- handleBatch, ${label} >= 90 % of the hand-written script: ${pct(row.rowsPerSecond, script.rowsPerSecond)} % -- ${verdict(row.rowsPerSecond >= 0.9 * script.rowsPerSecond)}`)
  console.log(`- handleBatch, ${label} >= 10 × one job per row: ${(row.rowsPerSecond / perRow.rowsPerSecond).toFixed(1)}x -- ${verdict(row.rowsPerSecond >= 10 * perRow.rowsPerSecond)}`)
}
console.log(`- ${startUpTarget('the PostgreSQL example', start)}`)
