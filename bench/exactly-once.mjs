#!/usr/bin/env node
// What exactly-once costs: the same backfill of a PostgreSQL table (each row's `touched`
// counter + 1, a row with a text column as a real table has) through Taskmaster with the
// plain handleBatch (one UPDATE per batch, at least once) and through taskmaster-run/pg's
// exactlyOnce (the same UPDATE in a transaction that claims the batch's keys first), side
// by side in interleaved rounds (the machine is shared and noisy: compare within a round),
// each on a freshly made table. Prints each round, the medians, their ratio (target: at
// least 0.8) and the rows written twice (a counter shows them: 0 on the exactly-once path).
// The handler and jobs modules are the test fixtures (test/fixtures/pg-touch*.mjs).
// PostgreSQL: a throwaway server (test/helpers/postgres.ts), or --db URL.
//   npx tsx bench/exactly-once.mjs [--rows 200000] [--rounds 3] [--slaves 2] [--batch 1000] [--db url]
import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { cpus, loadavg, tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import pg from 'pg'
import { startPostgres } from '../test/helpers/postgres.ts'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const MASTER = join(root, 'bin/tm-master.js')
const JOBS = join(root, 'test/fixtures/pg-touch-jobs.mjs')
const HANDLER = join(root, 'test/fixtures/pg-touch.mjs')

const { values: given } = parseArgs({
  options: { rows: { type: 'string' }, rounds: { type: 'string' }, slaves: { type: 'string' }, batch: { type: 'string' }, db: { type: 'string' } },
})
const ROWS = Number(given.rows ?? 200_000)
const ROUNDS = Math.max(1, Number(given.rounds ?? 3))
const SLAVES = Number(given.slaves ?? 2)
const BATCH = Number(given.batch ?? 1000)

const server = given.db === undefined ? await startPostgres() : undefined
const url = given.db ?? server.url
const db = new pg.Client(url)
await db.connect()

/** Runs tm-master to its end; resolves with its stdout, rejects with its output when it fails. */
function master(args, env) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [MASTER, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    child.stdout.on('data', (d) => (out += d))
    child.stderr.on('data', (d) => (out += d))
    child.on('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`tm-master exited ${code}\n${out}`))))
  })
}

/** A fresh table of ROWS rows, flushed to disk before the clock starts. */
async function freshTable() {
  await db.query('DROP TABLE IF EXISTS touch_bench')
  await db.query('CREATE TABLE touch_bench (id bigint PRIMARY KEY, email text NOT NULL, touched int NOT NULL DEFAULT 0)')
  await db.query("INSERT INTO touch_bench (id, email) SELECT g, 'user' || g || '@example.com' FROM generate_series(1, $1::int) g", [ROWS])
  await db.query('VACUUM ANALYZE touch_bench')
  await db.query('CHECKPOINT')
}

/** One run over the table; its rate is the master's own (from listening to the last row done). */
async function run(plain) {
  await freshTable()
  const dir = mkdtempSync(join(tmpdir(), 'tm-bench-once-'))
  try {
    const args = [JOBS, `db=${url}`, '--key', 'bench', '--state-dir', dir, '--host', '127.0.0.1:0']
    const out = await master([...args, '--spawn', String(SLAVES), '--handler', HANDLER, '--batch', String(BATCH), '--quiet'], {
      TM_PG_TABLE: 'touch_bench',
      TM_PG_PAGE: String(BATCH),
      ...(plain ? { TM_PLAIN: '1' } : {}),
    })
    const match = out.match(/^Run 'bench' complete: (\d+) jobs \(\1 done, 0 failed\) in [\d:]+, ([\d.]+) jobs\/s/m)
    if (match === null || Number(match[1]) !== ROWS) throw new Error(`unexpected summary:\n${out}`)
    const { twice, missed } = (await db.query('SELECT count(*) FILTER (WHERE touched > 1)::int AS twice, count(*) FILTER (WHERE touched = 0)::int AS missed FROM touch_bench')).rows[0]
    if (missed !== 0) throw new Error(`${missed} rows never touched`)
    return { rowsPerSecond: Math.round(Number(match[2])), twice }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]
console.log(`Machine: ${cpus().length} × ${cpus()[0]?.model ?? 'unknown CPU'}, load average ${loadavg().map((l) => l.toFixed(2)).join(' ')} (shared: compare within a round)`)
console.log(`${ROWS.toLocaleString('en-US')} rows, ${SLAVES} slaves, --batch ${BATCH}, ${ROUNDS} rounds`)
const plain = []
const once = []
let twice = 0
try {
  for (let round = 1; round <= ROUNDS; round++) {
    // The order alternates, so neither path always runs on the warmer (or more loaded) machine.
    const order = round % 2 === 1 ? [true, false] : [false, true]
    const results = {}
    for (const isPlain of order) results[isPlain ? 'plain' : 'once'] = await run(isPlain)
    plain.push(results.plain.rowsPerSecond)
    once.push(results.once.rowsPerSecond)
    twice += results.once.twice
    console.log(
      `round ${round}: plain handleBatch ${results.plain.rowsPerSecond.toLocaleString('en-US')} rows/s, exactlyOnce ${results.once.rowsPerSecond.toLocaleString('en-US')} rows/s (${(results.once.rowsPerSecond / results.plain.rowsPerSecond).toFixed(2)})`,
    )
  }
} finally {
  await db.end()
  server?.stop()
}
const ratio = median(once) / median(plain)
console.log(`medians: plain ${median(plain).toLocaleString('en-US')} rows/s, exactlyOnce ${median(once).toLocaleString('en-US')} rows/s: ${ratio.toFixed(2)} of plain (target 0.8: ${ratio >= 0.8 ? 'met' : 'NOT met'})`)
console.log(`rows written twice on the exactly-once path: ${twice}`)
