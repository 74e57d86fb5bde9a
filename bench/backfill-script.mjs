#!/usr/bin/env node
// The hand-written backfill a user would write alone, for bench/backfill.mjs to measure
// Taskmaster against: one process, one connection, keyset pages of 1,000 ids
// (`WHERE id > $1 ORDER BY id LIMIT 1000`, never OFFSET) and one batched UPDATE per page,
// the same statement as examples/postgres/handler.ts. No resume, no retries, no progress.
//   node bench/backfill-script.mjs postgres://... [page=1000]
// Prints one JSON line: { rows, seconds, cpu: { read, write } } (seconds from the connection
// made to the last commit; cpu in microseconds of this process, user and system, spent in
// the reads and in the writes: the process waits for each statement, so what it used
// around one is that statement's client-side work. The writes' is what a handler's
// UPDATE costs a slave, the baseline of Taskmaster's own CPU).
import pg from 'pg'

const [url, ...rest] = process.argv.slice(2)
const page = Number(rest.find((a) => a.startsWith('page='))?.slice(5) ?? 1000)
const db = new pg.Client(url)
await db.connect()
const t0 = performance.now()
let rows = 0
let last = '0'
let read = 0
let write = 0
const cpu = () => {
  const { user, system } = process.cpuUsage()
  return user + system
}
for (;;) {
  const c0 = cpu()
  const ids = (await db.query('SELECT id FROM users WHERE id > $1 ORDER BY id LIMIT $2', [last, page])).rows.map((row) => row.id)
  const c1 = cpu()
  read += c1 - c0
  if (ids.length === 0) break
  await db.query("UPDATE users SET domain = lower(split_part(email, '@', 2)) WHERE id = ANY($1::bigint[])", [ids])
  write += cpu() - c1
  rows += ids.length
  last = ids[ids.length - 1]
}
const seconds = (performance.now() - t0) / 1000
await db.end()
console.log(JSON.stringify({ rows, seconds, cpu: { read, write } }))
