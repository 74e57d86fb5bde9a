/** Where the example's database lives: $SQLITE_DB, else examples/sqlite/data.db. */
import { fileURLToPath } from 'node:url'

export const DB_PATH = process.env.SQLITE_DB ?? fileURLToPath(new URL('./data.db', import.meta.url))
