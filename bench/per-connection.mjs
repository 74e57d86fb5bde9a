#!/usr/bin/env node
// What one master pays per slave connection, measured small and reproducible
// (docs/scale.md quotes it): `node bench/per-connection.mjs [--quick] [--heartbeat s] [--fleets 0,250,...]`.
// 1. Wire: the encoded size of each message a connection costs when idle (ping, pong,
//    stats) and of jobs / ack frames by credit (1, 2, 40, 1000 jobs of { id }).
// 2. Dispatch: microseconds per dispatch turn with n sessions when one ack arrives per
//    turn (the worst case: every turn scans every session), in-process on a real Ledger.
// 3. Status: milliseconds to build the status document, and its JSON size, with n slaves
//    (in-process, the master's own StatusSampler over real Sessions).
// 4. Idle fleet: a real tm-master (--heartbeat 1 unless given) with n idle connections (bench/fleet.mjs,
//    its jobs gated shut): the master's RSS and CPU per second, against n = 0.
import { spawn } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Dispatcher } from '../dist/master/engine/dispatcher.js'
import { Ledger } from '../dist/master/engine/ledger.js'
import { Session } from '../dist/master/engine/session.js'
import { Controls } from '../dist/master/engine/controls.js'
import { StatusSampler } from '../dist/master/engine/status-sampler.js'
import { encode } from '../dist/protocol/codec.js'

const here = dirname(fileURLToPath(import.meta.url))
const quick = process.argv.includes('--quick')
const heartbeatAt = process.argv.indexOf('--heartbeat')
const heartbeat = heartbeatAt >= 0 ? Number(process.argv[heartbeatAt + 1]) : 1
const fleetsAt = process.argv.indexOf('--fleets')
const fleets = fleetsAt >= 0 ? process.argv[fleetsAt + 1].split(',').map(Number) : quick ? [0, 100] : [0, 250, 1000, 2000]
const sizes = quick ? [1, 100] : [1, 10, 100, 1000, 10000]

// 1. Wire sizes (WebSocket header: 2 bytes from the master, 6 from a slave, whose frames are masked).
const stats = encode({ type: 'stats', cpu: 0.0123, rss: 81234567, running: 1, netIn: 1234567, netOut: 7654321 }).length
const jobs = (n) => encode({ type: 'jobs', first: 123456, jobs: Array.from({ length: n }, (_, i) => ({ id: 123456 + i })) }).length
const ack = encode({ type: 'ack', ranges: [123456, 1], credit: 1 }).length
console.log('## Wire (encoded bytes, WebSocket header added)')
console.log(`ping ${0 + 2}, pong ${0 + 6}, stats ${stats + 6} (every 2 s), ack of one job with its credit ${ack + 6}`)
for (const n of [1, 2, 40, 1000]) console.log(`jobs frame of ${n}: ${jobs(n) + (jobs(n) < 126 ? 2 : 4)} bytes, ${((jobs(n) + 4) / n).toFixed(1)} per job`)

// 2. Dispatch turns with n sessions, one ack (and one credit) a turn.
console.log('\n## Dispatch: one ack per turn, n sessions of credit 1 (µs per turn)')
const sink = { takesJobs: () => true, sendFrame: () => {} }
for (const n of sizes) {
  const window = Math.max(4 * n, 20000)
  const ledger = new Ledger(window)
  let added = 0
  const refill = () => {
    while (ledger.counts.queued < 2 * n + 10) ledger.add({ id: added }, added++)
  }
  refill()
  const dispatcher = new Dispatcher(ledger, sink, { batchSize: 1000, maxFrame: 16 * 1024 * 1024 })
  for (let s = 1; s <= n; s++) {
    dispatcher.open({ id: s, concurrency: 1, maxFrame: 16 * 1024 * 1024, label: `s${s}` })
    dispatcher.grant(s, 1)
  }
  dispatcher.dispatch(Date.now())
  const turns = Math.max(2000, Math.min(50000, 2e7 / n))
  let session = 0
  const t0 = process.hrtime.bigint()
  for (let t = 0; t < turns; t++) {
    session = (session % n) + 1
    const [seq] = ledger.seqsInFlightOn(session)
    ledger.complete([seq, 1], session)
    dispatcher.grant(session, 1)
    refill()
    dispatcher.dispatch(Date.now())
  }
  const us = Number(process.hrtime.bigint() - t0) / 1000 / turns
  console.log(`n = ${String(n).padStart(5)}: ${us.toFixed(2)} µs per turn, ${((us * 1000) / n).toFixed(1)} ns per session scanned`)
}

// 3. The status document with n slaves.
console.log('\n## Status document (built once a second)')
for (const n of sizes) {
  const ledger = new Ledger(1024)
  const sessions = new Map()
  for (let s = 1; s <= n; s++) {
    const session = new Session(s, undefined, `10.0.${s >> 8}.${s & 255}:40000`, undefined)
    session.authenticated({ id: `id${s}`, hostname: `worker-${s}.example.internal`, pid: 1000 + s, concurrency: 1 })
    session.welcome(16 * 1024 * 1024)
    session.reported(12345, 0, Date.now())
    sessions.set(s, session)
  }
  // No limits, as a master started without --rate, --max-in-flight, --paused or --throttle.
  const controls = new Controls({ paused: false, rate: undefined, maxInFlight: undefined, throttle: undefined }, Date.now())
  const sampler = new StatusSampler({ key: 'bench', args: {}, ledger, totals: () => ({ done: 0, failed: 0 }), sessions, resume: { position: 0, last: undefined, elapsed: 0, counts: { done: 0, failed: 0 }, startedAt: new Date().toISOString() }, total: undefined, startedAt: Date.now(), controls: () => controls.figures, failures: () => [] })
  const rounds = Math.max(5, Math.min(200, 2e5 / n))
  let now = Date.now()
  let bytes = 0
  const t0 = process.hrtime.bigint()
  for (let r = 0; r < rounds; r++) {
    now += 1000
    bytes = JSON.stringify(sampler.sample('running', now)).length
  }
  const ms = Number(process.hrtime.bigint() - t0) / 1e6 / rounds
  console.log(`n = ${String(n).padStart(5)}: ${ms.toFixed(3)} ms to build and serialize, ${bytes} bytes of JSON (${Math.round(bytes / n)} per slave)`)
}

// 4. A real master with n idle connections.
console.log(`\n## Idle connections on a real tm-master (--heartbeat ${heartbeat})`)
const ticks = (pid) => {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ')
  return Number(fields[11]) + Number(fields[12])
}
const rssKb = (pid) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1])
const window = quick ? 2 : 10
let baseline
for (const n of fleets) {
  const dir = mkdtempSync(join(tmpdir(), 'tm-per-conn-'))
  const master = spawn(process.execPath, [join(here, '../bin/tm-master.js'), join(here, 'fleet-jobs.mjs'), 'n=1', 'gate=never', '--key', 'idle', '--state-dir', dir, '--host', '127.0.0.1:0', '--heartbeat', String(heartbeat), '-q'], { stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  master.stdout.on('data', (d) => (out += d))
  master.stderr.on('data', () => {})
  while (!/running on '([^']+)'/.test(out)) await new Promise((resolve) => setTimeout(resolve, 20))
  const host = /running on '([^']+)'/.exec(out)[1]
  const fleet = []
  for (let left = n; left > 0; left -= 250) {
    const child = spawn(process.execPath, [join(here, 'fleet.mjs'), host, String(Math.min(250, left))], { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, BENCH_COUNT_DIR: dir } })
    let said = ''
    child.stdout.on('data', (d) => (said += d))
    fleet.push({ child, welcomed: new Promise((resolve) => child.stdout.on('data', () => /welcomed/.test(said) && resolve())) })
  }
  await Promise.all(fleet.map((f) => f.welcomed))
  // Settle (connections done, first stats in), then measure over `window` seconds.
  await new Promise((resolve) => setTimeout(resolve, 2000))
  const t0 = ticks(master.pid)
  await new Promise((resolve) => setTimeout(resolve, window * 1000))
  const cpuMs = ((ticks(master.pid) - t0) * 10) / window
  const rss = rssKb(master.pid) / 1024
  for (const f of fleet) f.child.kill('SIGKILL')
  master.kill('SIGKILL')
  rmSync(dir, { recursive: true, force: true })
  baseline ??= { cpuMs, rss }
  const per = n > 0 ? `; per connection: ${(((rss - baseline.rss) * 1024) / n).toFixed(1)} KB, ${(((cpuMs - baseline.cpuMs) * 1000) / n).toFixed(1)} µs CPU per second` : ''
  console.log(`n = ${String(n).padStart(5)}: master RSS ${rss.toFixed(1)} MB, CPU ${cpuMs.toFixed(1)} ms per second${per}`)
}
