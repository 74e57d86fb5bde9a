// How long a master takes to start (issue 24): `tm-master` with a TypeScript jobs module
// and a TypeScript handler, --spawn 2, as the examples run. Each run is timed from the
// launch of the process to "Taskmaster server running" (the master's own figure, `started
// in`), and to the first job done (its handler wrapped by bench/fixtures/first-job.ts,
// which says when its first call returned), then stopped (SIGINT): the rest of the run is
// the other scenarios' business. Warm: a first run, not counted, fills tsx's cache of
// compiled modules and the system's file cache, as any run after the first finds them.
// The median of the counted runs is reported.
import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const MASTER = join(root, 'bin/tm-master.js')
const FIRST_JOB = join(root, 'bench/fixtures/first-job.ts')

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor((values.length - 1) / 2)]
const round = (x) => Math.round(x * 1000) / 1000

/**
 * One run of `tm-master jobs ...args --spawn 2 --handler first-job.ts` (wrapping `handler`),
 * its state in a temp dir, stopped once its first job is done (a short run may complete
 * first); resolves with its times in seconds. Rejects with its output when it fails.
 */
function once({ jobs, handler, args, env, cwd }) {
  const dir = mkdtempSync(join(tmpdir(), 'tm-bench-start-'))
  const argv = [MASTER, jobs, ...args, '--key', 'start', '--reset', '--state-dir', dir, '--host', '127.0.0.1:0', '--spawn', '2', '--handler', FIRST_JOB, '--quiet']
  const launched = Date.now()
  const child = spawn(process.execPath, argv, { cwd, env: { ...process.env, ...env, BENCH_HANDLER: handler }, stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  let runningAt
  let stopped = false
  const read = (chunk) => {
    out += chunk
    if (runningAt === undefined && out.includes('Taskmaster server running')) runningAt = Date.now()
    if (!stopped && out.includes('first job done at')) {
      stopped = true
      child.kill('SIGINT')
    }
  }
  child.stdout.on('data', read)
  child.stderr.on('data', read)
  return new Promise((resolve, reject) => {
    child.on('exit', (code) => {
      rmSync(dir, { recursive: true, force: true })
      const started = /\(started in ([\d.]+) s\)$/m.exec(out)
      const first = /first job done at (\d+)$/m.exec(out)
      const ended = /^Run 'start' (complete|stopped): /m.test(out)
      if (![0, 130].includes(code) || !started || !first || !ended) return reject(new Error(`tm-master ${argv.slice(1).join(' ')} exited ${code}:\n${out}`))
      resolve({ startedIn: Number(started[1]), running: (runningAt - launched) / 1000, firstJob: (Number(first[1]) - launched) / 1000 })
    })
  })
}

/**
 * The start-up scenario `name` over a dataset of `jobs` rows: one run to warm up, then
 * `runs` counted; a row with the medians: launch to running (`startedIn`, the master's own;
 * `runningSeconds`, seen from here), launch to the first job done (`firstJobSeconds`), and
 * every counted run's (`startRuns`).
 */
export async function startUp(name, { rows, jobs, handler, args = [], env = {}, cwd = root, runs = 3 }) {
  await once({ jobs, handler, args, env, cwd })
  const counted = []
  for (let i = 0; i < runs; i++) counted.push(await once({ jobs, handler, args, env, cwd }))
  const at = (key) => round(median(counted.map((r) => r[key])))
  return {
    scenario: name,
    jobs: rows,
    startedIn: at('startedIn'),
    runningSeconds: at('running'),
    firstJobSeconds: at('firstJob'),
    startRuns: counted.map((r) => ({ startedIn: r.startedIn, running: round(r.running), firstJob: round(r.firstJob) })),
    note: `warm start, median of ${runs} runs: launch to running ${at('startedIn')} s, to the first job done ${at('firstJob')} s`,
  }
}

/**
 * The line that judges a start-up row against issue 24's targets: launch to running under
 * 1 s (what it asks of the benchmark), and launch to the first job done under 1 s.
 */
export function startUpTarget(label, row) {
  const verdict = (seconds) => `${seconds.toFixed(2)} s < 1 s -- ${seconds < 1 ? 'met' : 'NOT met'}`
  return `warm start of ${label} (TypeScript jobs module and handler, --spawn 2): launch to running ${verdict(row.startedIn)}; to the first job ${verdict(row.firstJobSeconds)}`
}
