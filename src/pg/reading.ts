/**
 * pgTable's reads (its pages, its count) through a database that may restart under a long
 * run: a passing failure is read again, anything else is one line naming the table.
 */
import { JobSourceError, TaskmasterError } from '../errors.js'
import { pgMessage } from './connection.js'
import { isPassing } from './pg-errors.js'

/** How long pgTable reads again after a passing failure (a server restarting, a lost connection) before the run fails. */
export const READ_RETRY_MS = 60_000
const FIRST_DELAY_MS = 100
const MAX_DELAY_MS = 2000

/**
 * Runs a read of `table`, again after a passing failure (see pg-errors.ts) for up to
 * {@link READ_RETRY_MS}; any other failure, or one that lasts, is one line naming the
 * table and PostgreSQL's message (the driver's stack names no file of the user's).
 */
export async function reading<T>(table: string, read: () => Promise<T>, retryMs = READ_RETRY_MS): Promise<T> {
  const since = Date.now()
  for (let delay = FIRST_DELAY_MS; ; delay = Math.min(MAX_DELAY_MS, delay * 2)) {
    try {
      return await read()
    } catch (error) {
      if (error instanceof TaskmasterError) throw error
      if (isPassing(error) && Date.now() - since < retryMs) {
        await new Promise((resolve) => setTimeout(resolve, delay))
        continue
      }
      throw new JobSourceError(`pgTable: cannot read table ${table}: ${pgMessage(error)}`)
    }
  }
}
