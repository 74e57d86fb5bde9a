#!/usr/bin/env node
// The backfill with no code against its bound, the database itself: one single
// `UPDATE users SET domain = lower(split_part(email, '@', 2))` over the whole table, and
// the README's no-code command (taskmaster-run/pg/table + taskmaster-run/pg/sql, --spawn 2,
// --batch 1000) over the same table, side by side in one run (rounds interleaved, each on a
// freshly made table: no bloat from the one before). Rows/s of each, and the ratio (target
// >= 0.7). The no-code run's rate is the master's own (listening to the last row done), as
// bench/backfill.mjs counts Taskmaster's; its wall time from launch is printed beside it.
//   tsx bench/no-code.mjs [--rows 1000000] [--rounds 3] [--spawn 2] [--batch 1000] [--concurrency 1] [--db url] [--json file]
// bench/backfill.mjs may import { noCodeVsStatement } and print its rows.
import { spawn } from 'node:child_process'
import { appendFileSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import pg from 'pg'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const MASTER = join(root, 'bin/tm-master.js')
const TSX = join(root, 'node_modules/tsx/dist/cli.mjs')
const SETUP = join(root, 'examples/postgres/setup.ts')

/** The README's statement: the same in the single UPDATE (for every row) and in the no-code run (a batch's rows). */
const SET = "domain = lower(split_part(email, '@', 2))"
export const SINGLE = `UPDATE users SET ${SET}`
export const NO_CODE_SQL = `UPDATE users SET ${SET} WHERE id = ANY($1)`

/** Runs a node script to its end: its stdout and its wall time; rejects with its output when it fails. */
function node(args, env = {}) {
  const started = performance.now()
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d) => (stdout += d))
    child.stderr.on('data', (d) => (stderr += d))
    child.on('exit', (code) =>
      code === 0
        ? resolve({ stdout, seconds: (performance.now() - started) / 1000 })
        : reject(new Error(`${args.join(' ')} exited ${code}\n${stdout}\n${stderr}`)),
    )
  })
}

/** A fresh table of `rows` rows (examples/postgres/setup.ts), flushed to disk before the clock starts. */
async function freshTable(db, url, rows) {
  await db.query('DROP TABLE IF EXISTS users')
  await node([TSX, SETUP, `db=${url}`, `rows=${rows}`])
  await db.query('CHECKPOINT')
}

/** Checks every row holds its value (a benchmark of a wrong backfill measures nothing). */
async function expectAllUpdated(db, rows) {
  const { n, wrong } = (
    await db.query(`SELECT count(*)::int AS n, count(*) FILTER (WHERE domain IS DISTINCT FROM lower(split_part(email, '@', 2)))::int AS wrong FROM users`)
  ).rows[0]
  if (n !== rows || wrong !== 0) throw new Error(`backfill incomplete: ${n} rows, ${wrong} not updated to their value`)
}

/** The no-code command, as the README writes it (the database from DATABASE_URL), in a state dir of its own. */
export function noCodeCommand({ spawn: slaves = 2, batch = 1000, concurrency = 1 } = {}) {
  const more = concurrency > 1 ? ['--concurrency', String(concurrency)] : []
  return ['taskmaster-run/pg/table', 'db=env:DATABASE_URL', 'table=users', '--key', 'users-domain', '--spawn', String(slaves), '--handler', 'taskmaster-run/pg/sql', `sql=${NO_CODE_SQL}`, '--batch', String(batch), ...more]
}

/** One single UPDATE of every row: its rows/s. */
async function single(db, rows) {
  const started = performance.now()
  const result = await db.query(SINGLE)
  const seconds = (performance.now() - started) / 1000
  if (result.rowCount !== rows) throw new Error(`the single UPDATE wrote ${result.rowCount} rows of ${rows}`)
  return { rowsPerSecond: rows / seconds, seconds }
}

/** One no-code run: the master's rate, and the wall time from launch to exit. */
async function noCode(url, rows, options) {
  const dir = mkdtempSync(join(tmpdir(), 'tm-bench-no-code-'))
  try {
    const { stdout, seconds } = await node([MASTER, ...noCodeCommand(options), '--state-dir', dir, '--host', '127.0.0.1:0', '--quiet'], {
      DATABASE_URL: url,
    })
    const match = stdout.match(/^Run 'users-domain' complete: (\d+) jobs \(\1 done, 0 failed\) in [\d:]+, ([\d.]+) jobs\/s/m)
    if (match === null || Number(match[1]) !== rows) throw new Error(`unexpected summary:\n${stdout}`)
    return { rowsPerSecond: Number(match[2]), seconds: rows / Number(match[2]), wallRowsPerSecond: rows / seconds, wallSeconds: seconds }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]

/**
 * The single UPDATE and the no-code run over `rows` rows of the database at `url`, `rounds`
 * times interleaved, each on a fresh table: the medians of their rows/s and the ratio
 * (no-code / single; `wallRatio` from the no-code run's wall time). `log` is told each run.
 */
export async function noCodeVsStatement({ url, rows = 1_000_000, rounds = 3, spawn: slaves = 2, batch = 1000, concurrency = 1, log = () => {} }) {
  const db = new pg.Client(url)
  await db.connect()
  const runs = { single: [], noCode: [], noCodeWall: [] }
  try {
    for (let round = 1; round <= rounds; round++) {
      await freshTable(db, url, rows)
      const one = await single(db, rows)
      await expectAllUpdated(db, rows)
      runs.single.push(one.rowsPerSecond)
      log(`round ${round}: single UPDATE ${Math.round(one.rowsPerSecond).toLocaleString('en-US')} rows/s (${one.seconds.toFixed(2)} s)`)
      await freshTable(db, url, rows)
      const run = await noCode(url, rows, { spawn: slaves, batch, concurrency })
      await expectAllUpdated(db, rows)
      runs.noCode.push(run.rowsPerSecond)
      runs.noCodeWall.push(run.wallRowsPerSecond)
      log(
        `round ${round}: no code ${Math.round(run.rowsPerSecond).toLocaleString('en-US')} rows/s (${run.seconds.toFixed(2)} s; from launch ${run.wallSeconds.toFixed(2)} s, ${Math.round(run.wallRowsPerSecond).toLocaleString('en-US')} rows/s)`,
      )
    }
  } finally {
    await db.end()
  }
  const singleRate = median(runs.single)
  const noCodeRate = median(runs.noCode)
  const wallRate = median(runs.noCodeWall)
  return {
    rows,
    rounds,
    single: Math.round(singleRate),
    noCode: Math.round(noCodeRate),
    noCodeWall: Math.round(wallRate),
    ratio: Number((noCodeRate / singleRate).toFixed(3)),
    wallRatio: Number((wallRate / singleRate).toFixed(3)),
    runs: Object.fromEntries(Object.entries(runs).map(([name, values]) => [name, values.map(Math.round)])),
    command: `tm-master ${noCodeCommand({ spawn: slaves, batch, concurrency })
      .map((word) => (/[\s'$()]/.test(word) ? `"${word.replace(/\$/g, '\\$')}"` : word))
      .join(' ')}`,
  }
}

// Run as a script: a throwaway server (test/helpers/postgres.ts) unless --db is given.
if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  const argv = process.argv.slice(2)
  const option = (name, fallback) => {
    const at = argv.indexOf(name)
    return at >= 0 && argv[at + 1] !== undefined ? argv[at + 1] : fallback
  }
  const given = option('--db', undefined)
  const server = given === undefined ? await (await import('../test/helpers/postgres.ts')).startPostgres() : undefined
  try {
    const result = await noCodeVsStatement({
      url: given ?? server.url,
      rows: Number(option('--rows', 1_000_000)),
      rounds: Number(option('--rounds', 3)),
      spawn: Number(option('--spawn', 2)),
      batch: Number(option('--batch', 1000)),
      concurrency: Number(option('--concurrency', 1)),
      log: (line) => console.log(line),
    })
    console.log(
      `No code vs one single UPDATE, ${result.rows.toLocaleString('en-US')} rows, medians of ${result.rounds}: ${result.noCode.toLocaleString('en-US')} vs ${result.single.toLocaleString('en-US')} rows/s, ratio ${result.ratio} (target >= 0.7: ${result.ratio >= 0.7 ? 'met' : 'NOT met'}); from launch ${result.wallRatio}`,
    )
    console.log(`Command: ${result.command}`)
    const json = option('--json', undefined)
    if (json !== undefined) appendFileSync(json, JSON.stringify(result) + '\n')
  } finally {
    server?.stop()
  }
}
