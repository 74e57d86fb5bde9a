#!/usr/bin/env node
// A fleet of slave connections in one process, for the many-slaves scenarios
// (bench/many-slaves.mjs): `node fleet.mjs <host> <count>` opens <count> library Slaves of
// concurrency 1 (prefetch $BENCH_FLEET_PREFETCH, default 1), whose handler waits
// $BENCH_DELAY_MS (0: a sync no-op). Connections open in waves of 50, each once the one
// before was welcomed (the master caps connections without a hello). It prints
// `<count> connections welcomed`, and at the end `jobs <n>` and writes
// $BENCH_COUNT_DIR/fleet-<pid>.json: the jobs of each connection, and the times of its
// first and last job.
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { Slave } from '../dist/index.js'

const [host, countArg] = process.argv.slice(2)
const count = Number(countArg)
const delay = Number(process.env.BENCH_DELAY_MS ?? 0)
const prefetch = Number(process.env.BENCH_FLEET_PREFETCH ?? 1)
const WAVE = 50

const jobs = new Array(count).fill(0)
let first = Infinity
let last = 0
const wait = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

function open(i) {
  const handler = delay > 0
    ? async () => {
        if (first === Infinity) first = Date.now()
        await wait(delay)
        jobs[i]++
        last = Date.now()
      }
    : () => {
        if (first === Infinity) first = Date.now()
        jobs[i]++
        last = Date.now()
      }
  const slave = new Slave({ host, concurrency: 1, prefetch, handler })
  slave.on('log', ({ level, message }) => {
    if (level !== 'info') process.stderr.write(`connection ${i}: ${message}\n`)
  })
  return { run: slave.run(), welcomed: new Promise((resolve) => slave.once('connected', resolve)) }
}

const runs = []
for (let at = 0; at < count; at += WAVE) {
  const opened = []
  for (let i = at; i < Math.min(count, at + WAVE); i++) opened.push(open(i))
  runs.push(...opened.map((o) => o.run))
  await Promise.all(opened.map((o) => o.welcomed))
}
console.log(`${count} connections welcomed`)
await Promise.all(runs)
writeFileSync(join(process.env.BENCH_COUNT_DIR, `fleet-${process.pid}.json`), JSON.stringify({ jobs, first, last }))
console.log(`jobs ${jobs.reduce((a, b) => a + b, 0)}`)
