#!/usr/bin/env node
// What exactly-once costs: the same backfill of a PostgreSQL table (each row's `touched`
// counter + 1, a row with a text column as a real table has) through Taskmaster with the
// plain handleBatch (one UPDATE per batch, at least once) and through taskmaster-run/pg's
// exactlyOnce (the same UPDATE in a transaction that claims the batch's keys first), side
// by side in interleaved rounds (the machine is shared and noisy: compare within a round),
// each on a freshly made table. Prints each round, the medians, their ratio (target: at
// least 0.8) and the rows written twice (a counter shows them: 0 on the exactly-once path).
// Then the same through faults (--chaos, on by default; --no-chaos skips it): one run of
// each path whose master is killed -9 twice (at a quarter and at 60 % of the rows, and
// started again), a slave killed -9 at 40 %, and (on the throwaway server) PostgreSQL
// restarted at half (a crash, recovery from the WAL): the rows written twice by each path,
// none missed (the plain path writes some twice; the exactly-once path 0).
// The handler and jobs modules are the test fixtures (test/fixtures/pg-touch*.mjs).
// PostgreSQL: a throwaway server (test/helpers/postgres.ts), or --db URL.
//   npm run bench:once -- [--rows 200000] [--rounds 3] [--slaves 2] [--batch 1000] [--no-chaos] [--db url]
import { execFileSync, spawn } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
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
  options: {
    rows: { type: 'string' },
    rounds: { type: 'string' },
    slaves: { type: 'string' },
    batch: { type: 'string' },
    db: { type: 'string' },
    'no-chaos': { type: 'boolean' },
  },
})
const ROWS = Number(given.rows ?? 200_000)
const ROUNDS = Math.max(1, Number(given.rounds ?? 3))
const SLAVES = Number(given.slaves ?? 2)
const BATCH = Number(given.batch ?? 1000)

const server = given.db === undefined ? await startPostgres() : undefined
const url = given.db ?? server.url
let db = new pg.Client(url)
await db.connect()
// A restart of the server (the chaos run) cuts this connection: an error of its next use, which makes a new one.
db.on('error', () => {})

/** Runs tm-master to its end (see startMaster): its output; rejects with it when it fails. */
async function master(args, env) {
  const { code, out } = await startMaster(args, env).exited
  if (code !== 0) throw new Error(`tm-master exited ${code}\n${out}`)
  return out
}

/** Starts tm-master with `args` (it runs until killed or done): the process, and its exit with its output. */
function startMaster(args, env) {
  const child = spawn(process.execPath, [MASTER, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  child.stdout.on('data', (d) => (out += d))
  child.stderr.on('data', (d) => (out += d))
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal, out })))
  return { child, exited }
}

/** The jobs done so far by run `key` of state dir `dir`, from its checkpoint (0 before the first). */
function doneOf(dir, key) {
  const file = join(dir, `${key}.json`)
  if (!existsSync(file)) return 0
  try {
    return JSON.parse(readFileSync(file, 'utf8')).counts?.done ?? 0
  } catch {
    return 0 // Read while it was being replaced.
  }
}

/** Waits until run `key` has `done` jobs done, or its master ended. */
async function untilDone(dir, key, done, master) {
  let ended = false
  void master.exited.then(() => (ended = true))
  while (!ended && doneOf(dir, key) < done) await new Promise((resolve) => setTimeout(resolve, 50))
  return !ended
}

/** A child process of `pid` (a local slave of --spawn); undefined if it has none. */
function childOf(pid) {
  try {
    const first = execFileSync('pgrep', ['-P', String(pid)], { encoding: 'utf8' }).split('\n')[0]
    return first === undefined || first === '' ? undefined : Number(first)
  } catch {
    return undefined // pgrep exits 1 when there is none.
  }
}

/** A new connection of the benchmark's own, after a restart of the server cut the last one. */
async function reconnect() {
  await db.end().catch(() => undefined)
  for (;;) {
    db = new pg.Client(url)
    db.on('error', () => {})
    try {
      await db.connect()
      return
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 200))
    }
  }
}

/**
 * One run of a path through faults (see the top): the master killed -9 at a quarter and at
 * 60 % and started again, a slave killed -9 at 40 %, PostgreSQL crashed and restarted at
 * half (on a server of our own). Returns the rows written twice or more; throws if any was missed.
 */
async function chaos(plain) {
  await freshTable()
  const dir = mkdtempSync(join(tmpdir(), 'tm-bench-chaos-'))
  const key = plain ? 'chaos-plain' : 'chaos-once'
  const args = [JOBS, `db=${url}`, '--key', key, '--state-dir', dir, '--host', '127.0.0.1:0']
  const spawnArgs = ['--spawn', String(SLAVES), '--handler', HANDLER, '--batch', String(BATCH), '--quiet']
  const env = { TM_PG_TABLE: 'touch_bench', TM_PG_PAGE: String(BATCH), ...(plain ? { TM_PLAIN: '1' } : {}) }
  const faults = [
    { at: 0.25, what: 'master' },
    { at: 0.4, what: 'slave' },
    ...(server === undefined ? [] : [{ at: 0.5, what: 'postgres' }]),
    { at: 0.6, what: 'master' },
  ]
  try {
    let master = startMaster([...args, ...spawnArgs], env)
    for (const fault of faults) {
      if (!(await untilDone(dir, key, Math.round(ROWS * fault.at), master))) break
      if (fault.what === 'master') {
        master.child.kill('SIGKILL')
        await master.exited
        master = startMaster([...args, ...spawnArgs], env)
      } else if (fault.what === 'slave') {
        // A master just started again may not have started its slaves yet (or found the run complete).
        let ended = false
        void master.exited.then(() => (ended = true))
        let slave = childOf(master.child.pid)
        while (slave === undefined && !ended) {
          await new Promise((resolve) => setTimeout(resolve, 50))
          slave = childOf(master.child.pid)
        }
        if (slave === undefined) break
        try {
          process.kill(slave, 'SIGKILL')
        } catch {
          // It ended between pgrep and the kill (the run came to its end): no fault to make.
        }
      } else {
        server.restart('immediate')
        await reconnect()
      }
    }
    const { code, out } = await master.exited
    if (code !== 0) throw new Error(`tm-master exited ${code}\n${out}`)
    const { twice, missed } = (await db.query('SELECT count(*) FILTER (WHERE touched > 1)::int AS twice, count(*) FILTER (WHERE touched = 0)::int AS missed FROM touch_bench')).rows[0]
    if (missed !== 0) throw new Error(`${key}: ${missed} rows never touched`)
    return twice
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
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
  const ratio = median(once) / median(plain)
  console.log(`medians: plain ${median(plain).toLocaleString('en-US')} rows/s, exactlyOnce ${median(once).toLocaleString('en-US')} rows/s: ${ratio.toFixed(2)} of plain (target 0.8: ${ratio >= 0.8 ? 'met' : 'NOT met'})`)
  console.log(`rows written twice on the exactly-once path: ${twice}`)
  if (!given['no-chaos']) {
    const faults = `the master killed -9 twice, a slave once${server === undefined ? '' : ', PostgreSQL crashed and restarted once'}`
    const plainTwice = await chaos(true)
    const onceTwice = await chaos(false)
    console.log(`through faults (${ROWS.toLocaleString('en-US')} rows, ${faults}): rows written twice: plain handleBatch ${plainTwice.toLocaleString('en-US')}, exactlyOnce ${onceTwice.toLocaleString('en-US')}; none missed`)
  }
} finally {
  await db.end().catch(() => undefined)
  server?.stop()
}
