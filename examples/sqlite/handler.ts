/**
 * The backfill: sets each user's `domain` from their email, a batch of rows per call in
 * one transaction (one commit per batch, not per row: the write is what costs). The
 * UPDATE is idempotent for `domain` (a row run twice after a crash gets the same value).
 * SQLite has a single writer: slave processes take turns on the write lock
 * (busy_timeout waits for it), so more slaves do not write faster here; with
 * PostgreSQL they would.
 *   tm-master examples/sqlite/jobs.ts --spawn 2 --handler examples/sqlite/handler.ts --batch 500
 */
import Database from 'better-sqlite3'
import type { BatchContext } from 'taskmaster-run'
import { DB_PATH } from './db.ts'

interface User {
  id: number
  email: string
}

/** Opens the database once per run; what it returns is every call's `ctx.state`. */
export function setup() {
  const db = new Database(DB_PATH, { fileMustExist: true })
  db.pragma('journal_mode = WAL')
  // NORMAL: in WAL mode a commit need not wait for fsync; a power cut may lose the last
  // commits, which the run's checkpoint has not counted as done either, so they run again.
  db.pragma('synchronous = NORMAL')
  db.pragma('busy_timeout = 10000')
  const update = db.prepare('UPDATE users SET domain = ?, backfilled = backfilled + 1 WHERE id = ?')
  const updateAll = db.transaction((users: User[]) => {
    for (const user of users) update.run(user.email.slice(user.email.indexOf('@') + 1).toLowerCase(), user.id)
  })
  return { db, updateAll }
}

export type State = ReturnType<typeof setup>

/** A batch of users in one transaction: all written, or (it throws) none. */
export function handleBatch(users: User[], ctx: BatchContext): void {
  ;(ctx.state as State).updateAll(users)
}

/** Closes the database at the end of the run or on a stop. */
export function teardown(state: State): void {
  state.db.close()
}
