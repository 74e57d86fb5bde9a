/**
 * The jobs: every row of `users`, a page at a time by id (keyset paging, never OFFSET).
 * On resume `last` is the id of the last row known done, and paging starts after it.
 *   tm-master examples/sqlite/jobs.ts --spawn 2 --handler examples/sqlite/handler.ts:handleJob
 */
import Database from 'better-sqlite3'
import { keyset } from 'taskmaster-run'
import { DB_PATH } from './db.ts'

const db = new Database(DB_PATH, { readonly: true, fileMustExist: true })
const page = db.prepare<[number, number], { id: number; email: string }>('SELECT id, email FROM users WHERE id > ? ORDER BY id LIMIT ?')

export const { getJobs, key } = keyset({
  fetchPage: (after, limit) => page.all((after as number | undefined) ?? 0, limit),
  keyType: 'number',
})

/** For the progress bar and ETA. */
export const total = (): number => (db.prepare('SELECT count(*) AS n FROM users').get() as { n: number }).n
