// The many-slaves scenarios of `npm run bench` (1000-slaves, 100-noop): one real
// tm-master, and `processes` fleet processes (bench/fleet.mjs) holding `perProcess`
// library Slave connections each. The jobs wait for the whole fleet to be welcomed
// (bench/fleet-jobs.mjs), so the run is timed from the first job, not the connection ramp.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const here = dirname(fileURLToPath(import.meta.url))
const FLEET = join(here, 'fleet.mjs')
const JOBS = join(here, 'fleet-jobs.mjs')

/**
 * One many-slaves run. `tools` are bench/run.js's process helpers: `start(bin, args, env, ready)`,
 * `finish(name, run, readers)` and `startMaster(jobsModule, jobArgs, dir, extra, env)`. Returns bench/run.js's row plus:
 * `connections`, `idealJobsPerSecond` (connections × 1000 / delayMs, for a sleeping
 * handler), `leastServedShare` (the least-served connection's jobs over the mean) and
 * `mostIdleWhileQueued` (most connections that finished nothing over one status period
 * while jobs were queued, over the run).
 */
export async function manySlaves(name, { processes, perProcess, jobs, delayMs = 0, prefetch = 1 }, { start, finish, startMaster }) {
  const dir = mkdtempSync(join(tmpdir(), 'tm-bench-'))
  const gate = join(dir, 'go')
  const env = { BENCH_USAGE_DIR: dir, BENCH_COUNT_DIR: dir, BENCH_DELAY_MS: String(delayMs), BENCH_FLEET_PREFETCH: String(prefetch) }
  const master = startMaster(JOBS, [`n=${jobs}`, `gate=${gate}`], dir, ['-q'], env)
  const [, host] = await master.listening
  const fleet = Array.from({ length: processes }, () => start(FLEET, [host, String(perProcess)], env, /connections welcomed/))
  await Promise.all(fleet.map((p) => p.listening))
  const t0 = performance.now()
  writeFileSync(gate, '')
  const sampling = sampleIdle(`http://${host}/status`, master.exited)
  const perConnection = []
  let first = Infinity
  let last = 0
  const row = await finish(name, { jobs, dir, t0, head: master, rest: fleet }, {
    ownRate: () => 0,
    // Read before finish() removes the directory.
    jobsOf: (p) => {
      const f = JSON.parse(readFileSync(join(dir, `fleet-${p.child.pid}.json`), 'utf8'))
      perConnection.push(...f.jobs)
      first = Math.min(first, f.first)
      last = Math.max(last, f.last)
      return f.jobs.reduce((a, b) => a + b, 0)
    },
  })
  const connections = processes * perProcess
  const mean = jobs / connections
  return {
    ...row,
    // The fleet's own figure: from the first job started to the last one finished, on any connection.
    masterJobsPerSecond: Math.round(jobs / ((last - first) / 1000)),
    connections,
    idealJobsPerSecond: delayMs > 0 ? Math.round((connections * 1000) / delayMs) : null,
    leastServedShare: Math.round((Math.min(...perConnection) / mean) * 1000) / 1000,
    mostIdleWhileQueued: await sampling,
    note: `${processes} processes x ${perProcess} connections, concurrency 1, prefetch ${prefetch}, ${delayMs > 0 ? `${delayMs} ms handler` : 'no-op handler'}; master jobs/s: the fleet's first job to its last`,
  }
}

/**
 * Polls the status document (built once a second) until `ended`: the most connections in
 * one document that finished nothing since the previous document while jobs were queued
 * in both (a connection idle for a whole status period with work waiting).
 */
async function sampleIdle(url, ended) {
  let over = false
  void ended.then(() => (over = true))
  let most = 0
  let previous
  while (!over) {
    try {
      const doc = await (await fetch(url)).json()
      if (doc.run.state === 'running' && doc.time !== previous?.time) {
        if (previous !== undefined && previous.run.queued > 0 && doc.run.queued > 0) {
          const before = new Map(previous.slaves.map((s) => [s.id, s.done + s.failed]))
          most = Math.max(most, doc.slaves.filter((s) => before.get(s.id) === s.done + s.failed).length)
        }
        previous = doc
      }
    } catch {
      // The master is closing: the run is over.
    }
    await new Promise((resolve) => setTimeout(resolve, 250))
  }
  return most
}
