#!/usr/bin/env node
// Backfill benchmark (issue 25): the same UPDATE of every row of a PostgreSQL `users` table
// with realistic text columns (bench/backfill-table.mjs: names, emails, bios of varied
// length; the schema of examples/postgres plus what a real table has beside it), done
//   (a) by the hand-written script a user would write instead (bench/backfill-script.mjs:
//       one process, keyset pages of 1,000, one batched UPDATE each),
//   (c) through Taskmaster, the README's example (examples/postgres: pgTable and
//       handleBatch, --batch 1000), 1 and 2 slaves,
//   (e) by one single UPDATE over the whole table (the database's own bound),
//   (b) through Taskmaster one job per row (handleJob, --concurrency 16), first round only,
// side by side in rounds (every scenario once a round, the order turned each round, a fresh
// copy of the table each time), since the machine is shared and noisy: the figures are the
// medians of the rounds, the ratios those of the medians. The exactly-once path and the
// no-code backfill (issue 25, parts 1 and 3) join the rounds when this build has them.
// Each Taskmaster process reports its CPU at exit (bench/fixtures/cpu-at-exit.mjs); a run
// of 4,000 rows measures the fixed part (start and end), taken off before dividing by the
// rows. Then (d) the start of the README's command (bench/start-up.mjs). PostgreSQL: a
// throwaway server (test/helpers/postgres.ts), or --db URL. --profile DIR: one more run of
// 2 slaves, profiled, summarized by bench/profile-summary.mjs.
//   npm run bench:backfill -- [--rows 1000000] [--per-row-rows 100000] [--repeat 3] [--start-runs 3]
//     [--only a,b] [--profile dir] [--db url] [--json file]
import { spawn } from 'node:child_process'
import { appendFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs'
import { cpus, loadavg, tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import pg from 'pg'
import { NODE_FLAGS } from '../dist/cli/node-flags.js'
import { startPostgres } from '../test/helpers/postgres.ts'
import { freshUsers, makeTemplate } from './backfill-table.mjs'
import { format, profileFiles, summarize } from './profile-summary.mjs'
import { startUp, startUpTarget } from './start-up.mjs'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const MASTER = join(root, 'bin/tm-master.js')
const SCRIPT = join(root, 'bench/backfill-script.mjs')
const CPU_AT_EXIT = join(root, 'bench/fixtures/cpu-at-exit.mjs')
const JOBS = join(root, 'examples/postgres/jobs.ts')
const HANDLER = join(root, 'examples/postgres/handler.ts')

const argv = process.argv.slice(2)
const option = (name, fallback) => {
  const at = argv.indexOf(name)
  return at >= 0 && argv[at + 1] !== undefined ? argv[at + 1] : fallback
}
if (argv.includes('--help')) {
  console.log(
    'npm run bench:backfill -- [--rows 1000000] [--per-row-rows 100000] [--repeat 3] [--start-runs 3] [--only script,batch-1-slave,...] [--profile dir] [--db postgres://...] [--json file]',
  )
  process.exit(0)
}
const ROWS = Number(option('--rows', 1_000_000))
/** Rows of the run that measures a run's fixed CPU (start and end): two batches for each of two slaves. */
const FIXED_ROWS = Math.min(4000, ROWS)
// A million single-row UPDATEs take minutes: one job per row runs on a smaller table, and
// is compared in rows/s.
const PER_ROW_ROWS = Number(option('--per-row-rows', Math.min(ROWS, 100_000)))
const REPEAT = Math.max(1, Number(option('--repeat', 3)))
const START_RUNS = Math.max(0, Number(option('--start-runs', 3)))
const ONLY = option('--only', undefined)?.split(',')
const PROFILE = option('--profile', undefined)
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

// ---- CPU: the database's (its processes, from /proc), the machine's, Taskmaster's (at exit)

const TICK_US = 10_000 // USER_HZ is 100 on Linux whatever the kernel's own
/** A process's CPU in ticks (its own, and that of the children it waited for), and its parent; undefined once it is gone. */
function procStat(pid) {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8')
    const f = text.slice(text.lastIndexOf(')') + 2).split(' ')
    return { ppid: Number(f[1]), own: Number(f[11]) + Number(f[12]), children: Number(f[13]) + Number(f[14]) }
  } catch {
    return undefined
  }
}
// The server's processes are the children of the postmaster, our session's parent: when
// the server runs on this machine and /proc shows it.
const backend = (await db.query('SELECT pg_backend_pid() AS pid')).rows[0].pid
const postmaster = procStat(backend)?.ppid
/** CPU of the database server so far (µs): the postmaster's, the exited processes' it waited for, the live ones'. */
function databaseCpu() {
  if (postmaster === undefined) return undefined
  const top = procStat(postmaster)
  if (top === undefined) return undefined
  let ticks = top.own + top.children
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    const stat = procStat(entry)
    if (stat?.ppid === postmaster) ticks += stat.own + stat.children
  }
  return ticks * TICK_US
}
/** CPU the whole machine has been busy (µs, all cores), from /proc/stat. */
function machineCpu() {
  try {
    const [, ...f] = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).map(Number)
    const [user, nice, system, , , irq, softirq, steal] = f
    return (user + nice + system + irq + softirq + steal) * TICK_US
  } catch {
    return undefined
  }
}
const minus = (a, b) => (a === undefined || b === undefined ? undefined : a - b)

/** The CPU each process of a Taskmaster run reported at exit (µs), by role. */
function runCpu(file) {
  const cpu = { master: 0, slaves: 0 }
  if (!existsSync(file)) return cpu
  for (const line of readFileSync(file, 'utf8').trim().split('\n')) {
    const { role, user, system } = JSON.parse(line)
    if (role === 'master') cpu.master += user + system
    else if (role === 'slave') cpu.slaves += user + system
  }
  return cpu
}

// ---- the scenarios

/** Checks the scenario updated every row to its value (a benchmark of a wrong backfill measures nothing). */
async function expectAllUpdated(rows) {
  const { n, wrong } = (await db.query("SELECT count(*)::int AS n, count(*) FILTER (WHERE domain IS DISTINCT FROM lower(split_part(email, '@', 2)))::int AS wrong FROM users")).rows[0]
  if (n !== rows || wrong !== 0) throw new Error(`backfill incomplete: ${n} rows, ${wrong} not updated to their value`)
}

/**
 * One Taskmaster run over the table, as the README runs it (the master under its shebang's
 * flags); its rate is the master's own (from listening to the last row done: its own start
 * is not counted, the local slaves' is, but for what it overlaps). `env` adds to the
 * processes' environment (a profile's directory).
 */
async function taskmaster(rows, { jobs = JOBS, args = [`db=${url}`], handler, extra, env = {} }) {
  const dir = mkdtempSync(join(tmpdir(), 'tm-bench-backfill-'))
  const cpuFile = join(dir, 'cpu.jsonl')
  try {
    const nodeOptions = `${process.env.NODE_OPTIONS ?? ''} --import=${CPU_AT_EXIT}`.trim()
    const out = await node([...NODE_FLAGS, MASTER, jobs, ...args, '--key', 'backfill', '--state-dir', dir, '--host', '127.0.0.1:0', '--handler', handler, ...extra, '--quiet'], {
      NODE_OPTIONS: nodeOptions,
      BENCH_CPU_FILE: cpuFile,
      ...env,
    })
    const match = out.match(/^Run 'backfill' complete: (\d+) jobs \(\1 done, 0 failed\) in [\d:]+, ([\d.]+) jobs\/s \(started in [\d.]+ s\)$/m)
    if (match === null || Number(match[1]) !== rows) throw new Error(`unexpected summary:\n${out}`)
    return { rowsPerSecond: Number(match[2]), seconds: rows / Number(match[2]), cpu: runCpu(cpuFile) }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

const batch = (slaves) => ({ handler: HANDLER, extra: ['--spawn', String(slaves), '--batch', '1000'] })

/** The exactly-once path (issue 25, part 1), when this build has it: its bench handler, else undefined. */
function exactlyOnce() {
  const handler = join(root, 'bench/fixtures/once-handler.ts')
  return existsSync(handler) ? { handler, extra: ['--spawn', '2', '--batch', '1000'] } : undefined
}
/** The no-code backfill (issue 25, part 3), when this build has it (the package exports its modules), else undefined. */
function noCode() {
  const exports = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).exports ?? {}
  if (exports['./pg/table'] === undefined || exports['./pg/sql'] === undefined) return undefined
  return {
    jobs: 'taskmaster-run/pg/table',
    args: [`db=${url}`, 'table=users', `sql=UPDATE users SET domain = lower(split_part(email, '@', 2)) WHERE id = ANY($1)`],
    handler: 'taskmaster-run/pg/sql',
    extra: ['--spawn', '2', '--batch', '1000'],
  }
}

const SCENARIOS = [
  {
    name: 'script',
    label: '(a) hand-written script: keyset pages of 1,000, one UPDATE each',
    run: async (rows) => {
      const { seconds, cpu } = JSON.parse(await node([SCRIPT, url]))
      return { rowsPerSecond: rows / seconds, seconds, cpu: { script: cpu.read + cpu.write, read: cpu.read, write: cpu.write } }
    },
  },
  { name: 'batch-1-slave', label: '(c) Taskmaster, handleBatch --batch 1000, 1 slave', taskmaster: batch(1) },
  { name: 'batch-2-slaves', label: '(c) Taskmaster, handleBatch --batch 1000, 2 slaves', taskmaster: batch(2) },
  { name: 'once-2-slaves', label: '(f) Taskmaster, exactly-once handleBatch, 2 slaves', taskmaster: exactlyOnce(), missing: "issue 25 part 1, the exactly-once path, is not in this build" },
  { name: 'nocode-2-slaves', label: '(g) Taskmaster, no code (taskmaster-run/pg/table, pg/sql), 2 slaves', taskmaster: noCode(), missing: 'issue 25 part 3, the no-code modules, are not in this build' },
  {
    name: 'statement',
    label: '(e) one UPDATE statement over the whole table',
    run: async (rows) => {
      const t0 = performance.now()
      await db.query("UPDATE users SET domain = lower(split_part(email, '@', 2))")
      const seconds = (performance.now() - t0) / 1000
      return { rowsPerSecond: rows / seconds, seconds, cpu: {} }
    },
  },
  {
    name: 'per-row',
    label: '(b) Taskmaster, one job per row (handleJob, 1 slave, --concurrency 16)',
    rows: PER_ROW_ROWS,
    firstRoundOnly: true,
    taskmaster: { handler: `${HANDLER}:handleJob`, extra: ['--spawn', '1', '--concurrency', '16'] },
  },
]
for (const s of SCENARIOS) if (s.taskmaster !== undefined) s.run = (rows) => taskmaster(rows, s.taskmaster)
const chosen = SCENARIOS.filter((s) => ONLY === undefined || ONLY.includes(s.name))
const active = chosen.filter((s) => s.run !== undefined)

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor((values.length - 1) / 2)]
const settings = Object.fromEntries((await db.query("SELECT name, setting, unit FROM pg_settings WHERE name IN ('fsync', 'synchronous_commit', 'shared_buffers', 'wal_level', 'max_wal_size', 'autovacuum')")).rows.map((r) => [r.name, r.unit ? `${r.setting} ${r.unit}` : r.setting]))
const version = (await db.query('SHOW server_version')).rows[0].server_version
console.log(`Machine: ${cpus().length} × ${cpus()[0]?.model ?? 'unknown CPU'}, load average ${loadavg().map((l) => l.toFixed(2)).join(' ')} (shared: compare ratios within one run)`)
console.log(`PostgreSQL ${version}${server ? ' (throwaway server on 127.0.0.1)' : ''}: ${Object.entries(settings).map(([k, v]) => `${k}=${v}`).join(', ')}`)

const results = {}
const fixed = { 1: [], 2: [] }
let start
let profile
try {
  await makeTemplate(db, Math.max(ROWS, PER_ROW_ROWS))
  const { avg, size } = (await db.query("SELECT round(avg(pg_column_size(t.*)))::int AS avg, pg_size_pretty(pg_relation_size('bench_users_template')) AS size FROM bench_users_template t")).rows[0]
  console.log(`Table: users (id bigint primary key, name, email, domain, bio, city, created_at), ${ROWS.toLocaleString('en-US')} rows of ${avg} bytes on average (${size} for all ${Math.max(ROWS, PER_ROW_ROWS).toLocaleString('en-US')}), a fresh copy for each scenario`)
  console.log(`Rounds: ${REPEAT}, every scenario once a round (one job per row in the first only)${chosen.filter((s) => s.run === undefined).map((s) => `; ${s.name} not run: ${s.missing}`).join('')}\n`)
  for (let round = 0; round < REPEAT; round++) {
    // What a Taskmaster run costs whatever its rows: a run of one batch, 1 and 2 slaves.
    for (const slaves of [1, 2]) {
      if (!active.some((s) => s.taskmaster?.extra[1] === String(slaves))) continue
      await freshUsers(db, FIXED_ROWS)
      fixed[slaves].push((await taskmaster(FIXED_ROWS, batch(slaves))).cpu)
    }
    // The order turns each round: no scenario always follows the same one.
    const order = active.map((_, i) => active[(i + round) % active.length])
    for (const scenario of order) {
      if (scenario.firstRoundOnly && round > 0) continue
      const rows = scenario.rows ?? ROWS
      await freshUsers(db, rows)
      const [db0, m0, t0] = [databaseCpu(), machineCpu(), performance.now()]
      const result = await scenario.run(rows)
      const [db1, m1, t1] = [databaseCpu(), machineCpu(), performance.now()]
      await expectAllUpdated(rows)
      const row = (results[scenario.name] ??= { scenario: scenario.name, rows, runs: [], rounds: [] })
      row.runs.push(Math.round(result.rowsPerSecond))
      row.rounds.push({ ...result, database: minus(db1, db0), machine: minus(m1, m0), wall: (t1 - t0) * 1000 })
      console.log(`  round ${round + 1}: ${scenario.name} ${Math.round(result.rowsPerSecond).toLocaleString('en-US')} rows/s`)
    }
  }
  if (PROFILE !== undefined) {
    mkdirSync(PROFILE, { recursive: true })
    await freshUsers(db, ROWS)
    await taskmaster(ROWS, { ...batch(2), env: { BENCH_PROFILE_DIR: PROFILE } })
    profile = profileFiles(PROFILE).map((file) => format(file.slice(PROFILE.length + 1), summarize(JSON.parse(readFileSync(file, 'utf8'))), 12))
  }
  if (START_RUNS > 0) {
    // The README's command on a table of the benchmark's rows (what the rows hold does
    // not change a start), its password from the environment as there.
    await freshUsers(db, ROWS)
    const args = ['db=env:DATABASE_URL', '--batch', '1000']
    start = await startUp('start', { rows: ROWS, jobs: JOBS, handler: HANDLER, args, env: { DATABASE_URL: url }, runs: START_RUNS })
  }
} finally {
  await db.end()
  server?.stop()
}

// ---- the report

const fmt = (n) => Math.round(n).toLocaleString('en-US')
const us = (micros, rows) => (micros === undefined ? '-' : (micros / rows).toFixed(2))
console.log(`\n${'scenario'.padEnd(72)} ${'rows'.padStart(9)} ${'rows/s (median)'.padStart(16)}  rounds`)
for (const scenario of chosen) {
  const row = results[scenario.name]
  if (row === undefined) {
    console.log(`${scenario.label.padEnd(72)} not run: ${scenario.missing}`)
    continue
  }
  row.rowsPerSecond = median(row.runs)
  row.seconds = Number((row.rows / row.rowsPerSecond).toFixed(2))
  console.log(`${scenario.label.padEnd(72)} ${fmt(row.rows).padStart(9)} ${fmt(row.rowsPerSecond).padStart(16)}  ${row.runs.map(fmt).join(', ')}`)
}

// CPU per row, medians of the rounds: Taskmaster's processes less a run of one batch (the
// start and the end, whatever the rows), the script's, the database's, everyone else's.
const fixedOf = (slaves, role) => median(fixed[slaves].map((c) => c[role]))
const cpuRows = []
const scriptRound = results.script?.rounds
const handlerUs = scriptRound === undefined ? undefined : median(scriptRound.map((r) => r.cpu.write / results.script.rows))
for (const scenario of chosen) {
  const row = results[scenario.name]
  if (row === undefined) continue
  const perRow = (f) => median(row.rounds.map(f).filter((v) => v !== undefined))
  const slaves = scenario.taskmaster === undefined ? undefined : Number(scenario.taskmaster.extra[1])
  const fig = { scenario: scenario.name }
  if (scenario.name === 'script') {
    fig.client = perRow((r) => r.cpu.script / row.rows)
    fig.read = perRow((r) => r.cpu.read / row.rows)
    fig.write = perRow((r) => r.cpu.write / row.rows)
  } else if (slaves !== undefined && fixed[slaves].length > 0) {
    fig.master = perRow((r) => Math.max(0, r.cpu.master - fixedOf(slaves, 'master')) / row.rows)
    fig.slaves = perRow((r) => Math.max(0, r.cpu.slaves - fixedOf(slaves, 'slaves')) / row.rows)
    fig.client = fig.master + fig.slaves
    if (handlerUs !== undefined && scenario.name !== 'per-row') fig.own = fig.client - handlerUs
  }
  fig.database = perRow((r) => (r.database === undefined ? undefined : r.database / row.rows))
  // The machine's other work (the other engineers' on a shared machine), in cores on average over the run.
  fig.others = perRow((r) => {
    if (r.machine === undefined || r.database === undefined) return undefined
    const ours = scenario.name === 'script' ? r.cpu.script : scenario.name === 'statement' ? 0 : r.cpu.master + r.cpu.slaves
    return Math.max(0, r.machine - r.database - ours) / r.wall
  })
  fig.coresBusy = perRow((r) => (r.machine === undefined ? undefined : r.machine / r.wall))
  row.cpuPerRow = fig
  cpuRows.push(fig)
}
const cell = (v) => (v === undefined || Number.isNaN(v) ? '-' : v.toFixed(2)).padStart(9)
console.log(`\nCPU per row, µs (medians of the rounds; Taskmaster's processes less a run of ${fmt(FIXED_ROWS)} rows, their start and end, which was master ${fixed[2].length ? (fixedOf(2, 'master') / 1e6).toFixed(2) : '-'} s, slaves ${fixed[2].length ? (fixedOf(2, 'slaves') / 1e6).toFixed(2) : '-'} s with 2 slaves):`)
console.log(`${'scenario'.padEnd(16)}${'master'.padStart(9)}${'slaves'.padStart(9)}${'client'.padStart(9)}${'TM own'.padStart(9)}${'database'.padStart(9)}  cores busy, of which others'`)
for (const f of cpuRows) {
  console.log(`${f.scenario.padEnd(16)}${cell(f.master)}${cell(f.slaves)}${cell(f.client)}${cell(f.own)}${cell(f.database)}  ${f.coresBusy === undefined ? '-' : `${f.coresBusy.toFixed(2)}, ${f.others.toFixed(2)}`}`)
}
if (results.script !== undefined)
  console.log(
    `(client: the Node processes; the script's is ${results.script.cpuPerRow.read.toFixed(2)} reading and ${results.script.cpuPerRow.write.toFixed(2)} writing. TM own: Taskmaster's processes less the handler's work, the script's writing (${handlerUs.toFixed(2)}). cores busy: the machine's, on average over the run; others': beside the database and the scenario's processes, as other engineers' work on a shared machine)`,
  )

if (json !== undefined) {
  for (const scenario of chosen) {
    const row = results[scenario.name]
    if (row === undefined) continue
    const { rounds, ...rest } = row
    appendFileSync(json, JSON.stringify({ ...rest, cpu: rounds.map((r) => ({ ...r.cpu, database: r.database, machine: r.machine, wall: r.wall })) }) + '\n')
  }
}
if (start !== undefined) {
  console.log(`\n(d) Taskmaster's start, the README's command (TypeScript modules, --spawn 2), warm, median of ${START_RUNS}: launch to running ${start.startedIn.toFixed(2)} s, to the first row done ${start.firstJobSeconds.toFixed(2)} s`)
  const { jobs: rows, ...figures } = start
  if (json !== undefined) appendFileSync(json, JSON.stringify({ ...figures, rows }) + '\n')
}
if (profile !== undefined) console.log(`\nProfile of a run of 2 slaves (${PROFILE}):\n${profile.join('\n\n')}`)

// ---- the targets

const rate = (name) => results[name]?.rowsPerSecond
const rounds = (a, b) => results[a].runs.map((r, i) => (r / results[b].runs[i]).toFixed(2)).join(', ')
console.log(`\nAgainst the targets${ROWS < 100_000 ? ' (a table this small is too short to judge them: run the full one)' : ''}:`)
const verdicts = []
/** One target: a ratio of two scenarios' medians, met or not, and why not. */
function target(label, name, base, goal, why) {
  if (rate(name) === undefined || rate(base) === undefined) {
    const missing = [name, base].map((n) => chosen.find((s) => s.name === n) ?? SCENARIOS.find((s) => s.name === n)).find((s) => results[s.name] === undefined)
    console.log(`- ${label} >= ${goal}: not measured (${missing.missing ?? `${missing.name} not run`})`)
    return
  }
  const ratio = rate(name) / rate(base)
  const met = ratio >= goal
  const perRound = results[name].runs.length === results[base].runs.length ? ` (rounds: ${rounds(name, base)})` : ''
  console.log(`- ${label} >= ${goal}: ${ratio.toFixed(2)}${perRound} -- ${met ? 'met' : 'NOT met'}${met || why === undefined ? '' : `: ${why()}`}`)
  verdicts.push({ target: label, goal, ratio, met })
}

/**
 * Why a ratio to the script is short on this machine: the cores were busy. Parallel writes
 * beat one sequential process only with cores to spare for them; when the database,
 * Taskmaster and the machine's other work already fill the cores, they share them.
 */
const cpuBound = (name) => () => {
  const f = results[name].cpuPerRow
  const s = results.script.cpuPerRow
  const cores = cpus().length
  if (f.database === undefined || f.coresBusy === undefined) return `its CPU and the database's are not visible from here: no reason to give`
  const need = f.database + (f.client ?? 0)
  const spare = Math.max(0, cores - f.others)
  return (
    `${f.coresBusy.toFixed(2)} of the ${cores} cores were busy during the run, ${f.others.toFixed(2)} with other work (the script's run: ${s.coresBusy.toFixed(2)}, ${s.others.toFixed(2)}); ` +
    `a row took ${f.database.toFixed(2)} µs of the database's CPU (the script's: ${s.database.toFixed(2)}) and ${(f.client ?? 0).toFixed(2)} µs of Taskmaster's (the script's: ${s.client.toFixed(2)}): ` +
    `${need.toFixed(2)} µs a row on the ${spare.toFixed(2)} cores left is at most ${fmt((spare * 1e6) / need)} rows/s`
  )
}
target('handleBatch, 2 slaves / hand-written script', 'batch-2-slaves', 'script', 1.2, cpuBound('batch-2-slaves'))
target('handleBatch, 1 slave / hand-written script', 'batch-1-slave', 'script', 1.0, cpuBound('batch-1-slave'))
target('exactly-once, 2 slaves / hand-written script', 'once-2-slaves', 'script', 1.0, cpuBound('once-2-slaves'))
target('exactly-once, 2 slaves / handleBatch, 2 slaves', 'once-2-slaves', 'batch-2-slaves', 0.8)
target('no code, 2 slaves / one UPDATE statement', 'nocode-2-slaves', 'statement', 0.7)
target('handleBatch, 1 slave / one job per row', 'batch-1-slave', 'per-row', 10)
if (start !== undefined) console.log(`- ${startUpTarget('the PostgreSQL example', start)}`)
if (json !== undefined) appendFileSync(json, JSON.stringify({ scenario: 'targets', verdicts }) + '\n')
