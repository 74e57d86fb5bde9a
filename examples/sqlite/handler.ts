/**
 * The backfill: sets each user's `domain` from their email, one UPDATE per row through a
 * prepared statement. SQLite has a single writer: slave processes take turns on the
 * write lock (busy_timeout waits for it), so more slaves do not write faster here; with
 * PostgreSQL they would.
 */
import Database from 'better-sqlite3'
import { DB_PATH } from './db.ts'

const db = new Database(DB_PATH, { fileMustExist: true })
db.pragma('journal_mode = WAL')
// NORMAL: in WAL mode a commit need not wait for fsync; a power cut may lose the last
// commits, which the run's checkpoint has not counted as done either, so they run again.
db.pragma('synchronous = NORMAL')
db.pragma('busy_timeout = 10000')
const update = db.prepare('UPDATE users SET domain = ?, backfilled = backfilled + 1 WHERE id = ?')

export function handleJob(user: { id: number; email: string }): void {
  const domain = user.email.slice(user.email.indexOf('@') + 1).toLowerCase()
  update.run(domain, user.id)
}
