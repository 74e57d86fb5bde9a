/**
 * Creates the example's database if it is missing: a `users` table of `rows=N` rows
 * (default 200,000) whose `domain` column is to be backfilled from `email`.
 *   npx tsx examples/sqlite/setup.ts rows=200000
 */
import { existsSync } from 'node:fs'
import Database from 'better-sqlite3'
import { DB_PATH } from './db.ts'

const arg = process.argv.slice(2).find((a) => a.startsWith('rows='))
const rows = Number(arg?.slice('rows='.length) ?? 200_000)

if (existsSync(DB_PATH)) {
  console.log(`${DB_PATH} exists; delete it to start over`)
} else {
  const db = new Database(DB_PATH)
  // WAL: the master reads pages while the slaves write.
  db.pragma('journal_mode = WAL')
  // `backfilled` counts the writes to each row, so a test can check each row was written once.
  db.exec('CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT NOT NULL, domain TEXT, backfilled INTEGER NOT NULL DEFAULT 0)')
  const insert = db.prepare('INSERT INTO users (id, email) VALUES (?, ?)')
  const domains = ['example.com', 'Mail.example.org', 'EXAMPLE.net', 'corp.example']
  db.transaction(() => {
    // Ids with gaps, as a real table has after deletes: keyset paging does not care.
    for (let i = 1; i <= rows; i++) insert.run(i * 2, `user${i}@${domains[i % domains.length]}`)
  })()
  db.close()
  console.log(`Created ${DB_PATH} with ${rows} users`)
}
