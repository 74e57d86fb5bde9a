#!/usr/bin/env node
// Taskmaster benchmark: real tm-master and tm-slave processes on 127.0.0.1, side by side
// with in-process baselines (this machine is shared and noisy: compare ratios measured in
// one run). Usage: npm run bench -- [--quick | --smoke] [--json [file]] [--only name,name] [--repeat n]
// --smoke runs every scenario's code path on tiny inputs, for the test suite: its figures mean nothing.
import { execFileSync, spawn } from 'node:child_process'
import { appendFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { Agent, get } from 'node:http'
import { cpus, tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { NODE_FLAGS } from '../dist/cli/node-flags.js'
import { plain, withCodec } from './baseline.mjs'
import { targetLines } from './targets.mjs'
import { manySlaves } from './many-slaves.mjs'
import { startUp } from './start-up.mjs'

const here = dirname(fileURLToPath(import.meta.url))
const MASTER = join(here, '../bin/tm-master.js')
const SLAVE = join(here, '../bin/tm-slave.js')
const JOBS = join(here, 'fixtures/jobs.mjs')
const HANDLERS = join(here, 'fixtures/handlers.mjs')
const USAGE = join(here, 'usage.mjs')
const PRODUCER = join(here, 'bare/producer.mjs')
const CONSUMER = join(here, 'bare/consumer.mjs')

const argv = process.argv.slice(2)
// A smoke run is a quick run on tiny inputs: a few hundred to a few thousand jobs a
// scenario, a few dozen connections for the many-slaves ones.
const smoke = argv.includes('--smoke')
const quick = smoke || argv.includes('--quick')
const jsonAt = argv.indexOf('--json')
const json = jsonAt >= 0 ? (argv[jsonAt + 1] && !argv[jsonAt + 1].startsWith('--') ? argv[jsonAt + 1] : '-') : undefined
const repeatAt = argv.indexOf('--repeat')
const repeat = repeatAt >= 0 ? Math.max(1, Number(argv[repeatAt + 1])) : quick ? 1 : 3
const onlyAt = argv.indexOf('--only')
const only = onlyAt >= 0 ? new Set(argv[onlyAt + 1].split(',')) : undefined
if (argv.includes('--help')) {
  console.log('npm run bench [-- --quick | --smoke] [--json [file]] [--only scenario,scenario] [--repeat n (default 3, quick and smoke 1)]')
  process.exit(0)
}

const scale = smoke ? 0.0004 : quick ? 0.02 : 1
const n = (count) => Math.max(smoke ? 500 : 1000, Math.round(count * scale))
/** A size given for each kind of run: the full one, --quick, --smoke. */
const sized = (full, quickSize, smokeSize) => (smoke ? smokeSize : quick ? quickSize : full)

/** Resolves when `proc`'s output (so far or to come) matches `pattern`. */
function output(proc, pattern) {
  return new Promise((resolve) => {
    const check = () => {
      if (pattern.test(proc.out())) {
        proc.child.stdout.off('data', check)
        proc.child.stderr.off('data', check)
        resolve()
      }
    }
    proc.child.stdout.on('data', check)
    proc.child.stderr.on('data', check)
    check()
  })
}

/** Spawns a node process with the usage hook; `listening` resolves when its output (stdout or stderr) shows `ready`. */
function start(bin, args, env, ready = /Taskmaster server running/) {
  // The flags the bin/ shebangs give node: tm-master's NODE_FLAGS, none for tm-slave (and the
  // bare pipeline). BENCH_SLAVE_FLAGS="--max-semi-space-size=4 ..." measures slaves under flags.
  const flags = bin === SLAVE ? (process.env.BENCH_SLAVE_FLAGS ?? '').split(' ').filter(Boolean) : bin === MASTER ? NODE_FLAGS : []
  const child = spawn(process.execPath, [...flags, '--import', USAGE, bin, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  child.stdout.on('data', (d) => (out += d))
  child.stderr.on('data', (d) => (out += d))
  const exited = new Promise((resolve) => child.on('exit', (code) => resolve({ code, out })))
  const listening = new Promise((resolve, reject) => {
    const check = () => {
      const found = ready.exec(out)
      if (found) resolve(found)
    }
    child.stdout.on('data', check)
    child.stderr.on('data', check)
    exited.then(() => reject(new Error(`exited before listening:\n${out}`)))
  })
  listening.catch(() => {}) // only the master's is awaited
  return { child, exited, listening, out: () => out }
}

/**
 * A tm-master of the run 'bench' over `jobsModule` (with `jobArgs`), its state in `dir`, on
 * a free port of 127.0.0.1; `listening` resolves with its host:port as the second element.
 */
function startMaster(jobsModule, jobArgs, dir, extra, env) {
  return start(MASTER, [jobsModule, ...jobArgs, '--key', 'bench', '--reset', '--state-dir', dir, '--host', '127.0.0.1:0', ...extra], env, /Taskmaster server running on '([^']+)'/)
}

/** A slave's first connection outcome: it logs it once its SIGTERM handling is set. */
const SLAVE_READY = /^tm-slave\[\d+\]: (Connected to the master at|No master at) /m

/** Stops a long-lived slave with SIGTERM once it can take it (see SLAVE_READY); resolves with its exit. */
async function stopSlave(slave) {
  await Promise.race([slave.listening, slave.exited]).catch(() => {})
  slave.child.kill('SIGTERM')
  return slave.exited
}

/** The slave options a scenario gives: none are the defaults (the adaptive window). */
function slaveOptions(s) {
  const args = []
  if (s.concurrency !== undefined) args.push('--concurrency', String(s.concurrency))
  if (s.prefetch !== undefined) args.push('--prefetch', String(s.prefetch))
  return args
}

/**
 * Asks `GET /status` of the master at `host` `perSecond` times a second (the first at once)
 * until `done` settles; resolves with the number of documents it got.
 */
async function pollStatus(host, perSecond, done) {
  // node:http with one kept-alive connection, as a dashboard would: fetch() would load
  // undici during the timed run, CPU this 2-core machine takes from the master and slave.
  const agent = new Agent({ keepAlive: true, maxSockets: 1 })
  const poll = () =>
    new Promise((resolve) => {
      get(`http://${host}/status`, { agent }, (res) => {
        let body = ''
        res.setEncoding('utf8').on('data', (chunk) => (body += chunk))
        res.on('end', () => resolve(res.statusCode === 200 && JSON.parse(body).run !== undefined))
      }).on('error', () => resolve(false))
    })
  let answered = 0
  let over = false
  done.then(() => (over = true))
  while (!over) {
    const next = new Promise((resolve) => setTimeout(resolve, 1000 / perSecond))
    // The master may close between two polls: only answers count.
    if (await poll()) answered++
    await next
  }
  agent.destroy()
  return answered
}

/** One distributed run; `slaves` lists { handler, concurrency, prefetch, env } per slave process; `pollStatus` polls GET /status that many times a second. */
async function distributed(name, { jobs, bytes = 0, slaves, size = 10000, stateStore, pollStatus: perSecond }) {
  const dir = mkdtempSync(join(tmpdir(), 'tm-bench-'))
  const env = { BENCH_USAGE_DIR: dir, BENCH_COUNT_DIR: dir }
  const t0 = performance.now()
  const master = startMaster(JOBS, [`n=${jobs}`, `bytes=${bytes}`], dir, ['--size', String(size), '-q', ...(stateStore ? ['--state-store', stateStore] : [])], env)
  const [, host] = await master.listening
  const polls = perSecond ? pollStatus(host, perSecond, master.exited) : undefined
  // Long-lived slaves (--reconnect 0): a slave cannot tell "no master yet" from "the run is
  // over", and on a busy machine the second one may start after every job is done (a
  // default one would retry for 60 s and exit 4). They wait instead; finish() stops them
  // with SIGTERM once the master has exited and expects 0. Not quiet: `ready` is their
  // first connection outcome, logged once their SIGTERM handling is set.
  const startSlave = (s) =>
    start(SLAVE, [`${HANDLERS}:${s.handler}`, '--host', host, ...slaveOptions(s), '--reconnect', '0'], { ...env, ...s.env }, SLAVE_READY)
  // BENCH_LATE_SLAVES=1 starts every slave but the first once the master has exited: what a
  // very busy machine may do, made certain (test/e2e/bench.test.ts).
  const late = process.env.BENCH_LATE_SLAVES === '1'
  const procs = (late ? slaves.slice(0, 1) : slaves).map(startSlave)
  if (late) {
    await master.exited
    procs.push(...slaves.slice(1).map(startSlave))
  }
  const row = finish(name, { jobs, dir, t0, head: master, rest: procs, stop: stopSlave }, {
    // The master's own figure: from listening to the last completion (no process start-up).
    ownRate: (out) => Math.round(Number(/ ([\d.]+) jobs\/s \(started in [\d.]+ s\)$/m.exec(out)?.[1] ?? 0)),
    jobsOf: (p) => Number(readFileSync(join(dir, `count-${p.child.pid}`), 'utf8')),
  })
  return polls ? { ...(await row), statusPolls: await polls } : row
}

/**
 * A slave with a 20 ms handler (concurrency 100) killed -9 half-way through a run it
 * shares with another: the jobs in flight on it that the master hands back to the buffer
 * (they run again: the jobs repeated), and that as milliseconds of the killed slave's work
 * at its measured rate (from its jobs before the kill).
 */
async function killed(name, { jobs, slave, killAfterMs, gated }) {
  const dir = mkdtempSync(join(tmpdir(), 'tm-bench-'))
  const env = { BENCH_USAGE_DIR: dir, BENCH_COUNT_DIR: dir, BENCH_DELAY_MS: '20' }
  const gate = join(dir, 'go')
  const t0 = performance.now()
  const master = startMaster(JOBS, [`n=${jobs}`, ...(gated ? [`gate=${gate}`] : [])], dir, [], env)
  const [, host] = await master.listening
  const args = [`${HANDLERS}:sleep`, '--host', host, ...slaveOptions(slave), '-q']
  const victim = start(SLAVE, args, env)
  const other = start(SLAVE, args, env)
  // Both at work (process start-up on a loaded machine takes seconds), then the kill.
  await Promise.all([victim, other].map((p) => output(master, new RegExp(`:${p.child.pid} \\(.*\\) connected`))))
  // Gated (a run too short to outlast a slave's start-up), the jobs go once both are at work.
  if (gated) writeFileSync(gate, '')
  // The kill's clock starts at the victim's first job: on a loaded machine its first batch can
  // take longer than the whole wait, and a slave that did nothing has no rate to judge by.
  const started = join(dir, `started-${victim.child.pid}`)
  while (!existsSync(started)) await new Promise((resolve) => setTimeout(resolve, 2))
  const connectedAt = performance.now()
  await new Promise((resolve) => setTimeout(resolve, killAfterMs))
  victim.child.kill('SIGKILL')
  const workedMs = performance.now() - connectedAt
  const h = await master.exited
  const seconds = (performance.now() - t0) / 1000
  const o = await other.exited
  await victim.exited
  if (h.code !== 0 || o.code !== 0) throw new Error(`${name}: a process failed\n${h.out}\n${o.out}`)
  const lost = / (\d+) jobs in flight go back to the buffer/.exec(h.out)
  const repeated = Number(lost?.[1] ?? 0)
  const survivor = Number(readFileSync(join(dir, `count-${other.child.pid}`), 'utf8'))
  // The killed slave's jobs: all but the survivor's, less the ones it hands back.
  const byVictim = jobs + repeated - survivor
  const victimRate = (byVictim - repeated) / (workedMs / 1000)
  rmSync(dir, { recursive: true, force: true })
  return {
    scenario: name,
    jobs,
    seconds: round(seconds, 2),
    jobsPerSecond: Math.round(jobs / seconds),
    // Every job once, and the repeated ones twice.
    jobsPerSlave: [byVictim, survivor],
    repeated,
    repeatedMs: Math.round((repeated / victimRate) * 1000),
    note: `kill -9 after ${killAfterMs} ms: ${repeated} jobs handed back = ${Math.round((repeated / victimRate) * 1000)} ms of the killed slave's work at ${Math.round(victimRate)} jobs/s`,
  }
}

/** The bare pipeline (bench/bare): a producer and `consumers` processes, no bookkeeping; jobs of `bytes` bytes of payload. */
async function bare(name, { jobs, consumers, bytes = 0 }) {
  const dir = mkdtempSync(join(tmpdir(), 'tm-bench-'))
  const env = { BENCH_USAGE_DIR: dir }
  const t0 = performance.now()
  const producer = start(PRODUCER, [String(jobs), String(consumers), String(bytes)], env, /listening on (\d+)/)
  const [, port] = await producer.listening
  const procs = Array.from({ length: consumers }, () => start(CONSUMER, [port], env))
  const row = await finish(name, { jobs, dir, t0, head: producer, rest: procs }, {
    // The producer's own figure: from the first credit to the last ack.
    ownRate: (out) => Math.round(jobs / Number(/ in ([\d.]+) s$/m.exec(out)?.[1] ?? Infinity)),
    jobsOf: (p, out) => Number(/consumed (\d+)/.exec(out)?.[1]),
  })
  return { ...row, note: 'bare pipeline (bench/bare): producer + consumers, msgpack batches by credit, no bookkeeping' }
}

/**
 * Waits for `head` (the master or producer) to exit, then for `rest` (its slaves or
 * consumers) to exit, each stopped with `stop` if given; reports the run from their
 * output and resource usage; removes `dir`.
 */
async function finish(name, { jobs, dir, t0, head, rest, stop }, { ownRate, jobsOf }) {
  const h = await head.exited
  const seconds = (performance.now() - t0) / 1000
  const ends = await Promise.all(rest.map((p) => (stop ? stop(p) : p.exited)))
  if (h.code !== 0 || ends.some((e) => e.code !== 0)) throw new Error(`${name}: a process failed\n${h.out}\n${ends.map((e) => e.out).join('\n')}`)
  const usage = (p) => JSON.parse(readFileSync(join(dir, `usage-${p.child.pid}.json`), 'utf8'))
  const hu = usage(head)
  const ru = rest.map(usage)
  const row = {
    scenario: name,
    jobs,
    seconds: round(seconds, 2),
    jobsPerSecond: Math.round(jobs / seconds),
    masterJobsPerSecond: ownRate(h.out),
    masterPeakRssMb: round(hu.maxRssKb / 1024, 1),
    slavePeakRssMb: round(Math.max(...ru.map((u) => u.maxRssKb)) / 1024, 1),
    masterCpuSeconds: round(hu.cpuUs / 1e6, 2),
    slaveCpuSeconds: ru.map((u) => round(u.cpuUs / 1e6, 2)),
    jobsPerSlave: rest.map((p, i) => jobsOf(p, ends[i].out)),
  }
  rmSync(dir, { recursive: true, force: true })
  return row
}

const round = (x, digits) => Math.round(x * 10 ** digits) / 10 ** digits

/**
 * The start of the sqlite example (TypeScript jobs module and handler, --spawn 2) on a
 * table of its own (SQLITE_DB in a temp dir): bench/start-up.mjs.
 */
async function startSqlite(name, { rows, runs }) {
  const dir = mkdtempSync(join(tmpdir(), 'tm-bench-'))
  const env = { SQLITE_DB: join(dir, 'start.db') }
  try {
    execFileSync(process.execPath, [join(here, '../node_modules/tsx/dist/cli.mjs'), join(here, '../examples/sqlite/setup.ts'), `rows=${rows}`], { env: { ...process.env, ...env }, stdio: 'ignore' })
    const jobs = join(here, '../examples/sqlite/jobs.ts')
    return await startUp(name, { rows, jobs, handler: join(here, '../examples/sqlite/handler.ts'), args: ['--batch', '500'], env, runs })
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

// Headline scenarios run on the defaults (no --concurrency, no --prefetch), as users will;
// the `-tuned` ones beside them give the settings the benchmark used before the adaptive
// window (concurrency 1, a fixed prefetch of 4,000), for the ratios.
const TUNED = { concurrency: 1, prefetch: 4000 }
const scenarios = [
  ['baseline', async () => ({ scenario: 'baseline', jobs: n(5e6), jobsPerSecond: Math.round(await plain(n(5e6))), note: 'in-process: async generator + awaited no-op handler' })],
  ['baseline-codec', async () => ({ scenario: 'baseline-codec', jobs: n(5e6), jobsPerSecond: Math.round(await withCodec(n(5e6))), note: 'in-process: + msgpack encode/decode in batches of 500' })],
  ['bare-1', () => bare('bare-1', { jobs: n(5e6), consumers: 1 })],
  ['bare-2', () => bare('bare-2', { jobs: n(5e6), consumers: 2 })],
  ['1-slave', () => distributed('1-slave', { jobs: n(5e6), slaves: [{ handler: 'noop' }] })],
  ['1-slave-tuned', () => distributed('1-slave-tuned', { jobs: n(5e6), slaves: [{ handler: 'noop', ...TUNED }] })],
  // 1-slave with GET /status polled 10 times a second: watching a run must not slow it.
  ['1-slave-status-polled', () => distributed('1-slave-status-polled', { jobs: n(5e6), slaves: [{ handler: 'noop' }], pollStatus: 10 })],
  // The same slave command as 1-slave, started twice (as on two machines).
  ['2-slaves', () => distributed('2-slaves', { jobs: n(5e6), slaves: [0, 1].map(() => ({ handler: 'noop' })) })],
  ['2-slaves-tuned', () => distributed('2-slaves-tuned', { jobs: n(5e6), slaves: [0, 1].map(() => ({ handler: 'noop', ...TUNED })) })],
  // The README's example and more lanes, with no --prefetch.
  ['c16', () => distributed('c16', { jobs: n(5e6), slaves: [{ handler: 'noop', concurrency: 16 }] })],
  ['c64', () => distributed('c64', { jobs: n(5e6), slaves: [{ handler: 'noop', concurrency: 64 }] })],
  ['c256', () => distributed('c256', { jobs: n(5e6), slaves: [{ handler: 'noop', concurrency: 256 }] })],
  ['latency-20ms', () => distributed('latency-20ms', { jobs: sized(400000, 10000, 500), slaves: [0, 1].map(() => ({ handler: 'sleep', concurrency: 100, env: { BENCH_DELAY_MS: '20' } })) })],
  ['latency-20ms-tuned', () => distributed('latency-20ms-tuned', { jobs: sized(400000, 10000, 500), slaves: [0, 1].map(() => ({ handler: 'sleep', concurrency: 100, prefetch: 100, env: { BENCH_DELAY_MS: '20' } })) })],
  ['fast-and-slow', () => distributed('fast-and-slow', { jobs: sized(20000, 5000, 500), slaves: [{ handler: 'sleep', concurrency: 10, env: { BENCH_DELAY_MS: '2' } }, { handler: 'sleep', concurrency: 10, env: { BENCH_DELAY_MS: '20' } }] })],
  ['kill-20ms', () => killed('kill-20ms', { jobs: sized(40000, 20000, 3000), slave: { concurrency: 100 }, killAfterMs: sized(2000, 1000, 100), gated: smoke })],
  ['memory-100k', () => distributed('memory-100k', { jobs: sized(100000, 100000, 1000), slaves: [{ handler: 'noop' }] })],
  ['memory-10M', () => distributed('memory-10M', { jobs: sized(1e7, 1e6, 2000), slaves: [{ handler: 'noop' }] })],
  // Three times longer: whether a process still grows after its first 10 M jobs (V8's young
  // generation sizes itself to its survivors early in a run, then stays).
  ['memory-30M', () => distributed('memory-30M', { jobs: sized(3e7, 3e6, 3000), slaves: [{ handler: 'noop' }] })],
  ['1KB-jobs', () => distributed('1KB-jobs', { jobs: n(5e6), bytes: 1000, slaves: [{ handler: 'noop' }] })],
  ['1KB-jobs-tuned', () => distributed('1KB-jobs-tuned', { jobs: n(5e6), bytes: 1000, slaves: [{ handler: 'noop', ...TUNED, prefetch: 2000 }] })],
  ['bare-1KB', () => bare('bare-1KB', { jobs: n(5e6), consumers: 1, bytes: 1000 })],
  // Where the slaves are the bottleneck (a handler that computes for 2 µs a job), a second
  // slave process takes its share of the work: the buffer does not serialize them.
  ['cpu-1-slave', () => distributed('cpu-1-slave', { jobs: n(1e6), slaves: [{ handler: 'spin', env: { BENCH_SPIN_US: '2' } }] })],
  // 1-slave with the run's state in PostgreSQL (--state-store): only with BENCH_PG_URL set
  // (a server of one's own; the rows are left behind under the key 'bench').
  ['1-slave-pg', () => distributed('1-slave-pg', { jobs: n(5e6), slaves: [{ handler: 'noop' }], stateStore: process.env.BENCH_PG_URL })],
  ['cpu-2-slaves', () => distributed('cpu-2-slaves', { jobs: n(1e6), slaves: [0, 1].map(() => ({ handler: 'spin', env: { BENCH_SPIN_US: '2' } })) })],
  // Many connections (bench/many-slaves.mjs): 4 processes x 250 slaves waiting 50 ms a job,
  // and 100 no-op slaves with a fixed prefetch of 40 each: 4,000 in all, as 1-slave-tuned.
  ['1000-slaves', () => manySlaves('1000-slaves', { processes: sized(4, 4, 2), perProcess: sized(250, 250, 25), jobs: n(200000), delayMs: 50 }, { start, finish, startMaster })],
  ['100-noop', () => manySlaves('100-noop', { processes: 1, perProcess: sized(100, 100, 25), jobs: n(2e6), prefetch: 40 }, { start, finish, startMaster })],
  // A master's warm start with TypeScript modules and --spawn 2, the sqlite example (issue
  // 24): launch to running and to the first job; it repeats its own runs.
  ['start-sqlite', () => startSqlite('start-sqlite', { rows: sized(20000, 20000, 2000), runs: sized(5, 3, 1) })],
]

// The machine is noisy: short scenarios run `repeat` times, in rounds (every scenario
// once per round, so scenarios compared with each other ran side by side in time), and
// the median run (by jobs/s) is reported, with every run's rate in `runs`. The long
// latency-bound ones run once, in the first round.
const once = new Set(['latency-20ms', 'latency-20ms-tuned', 'fast-and-slow', 'kill-20ms', '1000-slaves', 'start-sqlite'])
const selected = scenarios.filter(([name]) => (!only || only.has(name)) && (name !== '1-slave-pg' || process.env.BENCH_PG_URL))
if (!process.env.BENCH_PG_URL && (!only || only.has('1-slave-pg'))) process.stderr.write('skipping 1-slave-pg: set BENCH_PG_URL=postgres://... to measure the state in PostgreSQL\n')
const runsOf = new Map(selected.map(([name]) => [name, []]))
// A smoke run's figures mean nothing: it runs two scenarios at a time (mostly process
// start-ups, which leave a core idle while one process waits for another).
const atOnce = smoke ? 2 : 1
for (let round = 0; round < repeat; round++) {
  const pending = selected.filter(([name]) => round === 0 || !once.has(name))
  const next = async () => {
    for (let scenario = pending.shift(); scenario !== undefined; scenario = pending.shift()) {
      const [name, fn] = scenario
      process.stderr.write(`running ${name}${repeat > 1 && !once.has(name) ? ` (round ${round + 1} of ${repeat})` : ''}...\n`)
      runsOf.get(name).push(await fn())
    }
  }
  await Promise.all(Array.from({ length: atOnce }, next))
}
const rows = []
for (const [name] of selected) {
  const runs = runsOf.get(name).sort((a, b) => a.jobsPerSecond - b.jobsPerSecond)
  // A start-up row is the median of its own runs already (startRuns).
  const row = runs[0].startRuns !== undefined ? runs[0] : { ...runs[Math.floor(runs.length / 2)], runs: runs.map((r) => r.jobsPerSecond) }
  rows.push(row)
  if (json !== undefined) {
    const line = JSON.stringify({ ...row, quick, smoke, node: process.version, cpus: cpus().length, at: new Date().toISOString() }) + '\n'
    if (json === '-') process.stdout.write(line)
    else appendFileSync(json, line)
  }
}

const base = rows.find((r) => r.scenario === 'baseline')?.jobsPerSecond
const codec = rows.find((r) => r.scenario === 'baseline-codec')?.jobsPerSecond
if (json !== '-') {
  const header = ['scenario', 'jobs', 'seconds', 'jobs/s', 'master jobs/s', 'vs baseline', 'vs codec', 'master RSS MB', 'slave RSS MB', 'CPU s master', 'CPU s slaves', 'jobs per slave']
  const table = rows.map((r) => [
    r.scenario,
    r.jobs,
    r.seconds ?? '',
    r.jobsPerSecond ?? '',
    r.masterJobsPerSecond ?? '',
    base && r.jobsPerSecond !== undefined ? (r.jobsPerSecond / base).toFixed(3) : '',
    codec && r.jobsPerSecond !== undefined ? (r.jobsPerSecond / codec).toFixed(3) : '',
    r.masterPeakRssMb ?? '',
    r.slavePeakRssMb ?? '',
    r.masterCpuSeconds ?? '',
    r.slaveCpuSeconds?.join(' / ') ?? '',
    r.jobsPerSlave?.join(' / ') ?? '',
  ])
  const widths = header.map((h, i) => Math.max(h.length, ...table.map((row) => String(row[i]).length)))
  const line = (cells) => '| ' + cells.map((c, i) => String(c).padEnd(widths[i])).join(' | ') + ' |'
  console.log(line(header))
  console.log('|' + widths.map((w) => '-'.repeat(w + 2)).join('|') + '|')
  for (const row of table) console.log(line(row))
  console.log(`\n${smoke ? 'smoke run' : quick ? 'quick run' : 'full run'}, median of ${repeat} runs where repeated, ${cpus().length} cores (${cpus()[0]?.model ?? 'unknown CPU'}), Node ${process.version}`)
  const targets = targetLines(rows)
  if (targets.length > 0) {
    console.log(`\nAgainst the targets${quick ? ` (a ${smoke ? 'smoke' : 'quick'} run is too short to judge them: run the full one)` : ''}:`)
    for (const line of targets) console.log(`- ${line}`)
  }
}
