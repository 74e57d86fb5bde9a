/**
 * `taskmaster-run/pg/sql`: the handler of the backfill with no code. One statement (`sql=`)
 * a batch of rows (`--batch`), its keys as arrays: `$1` the values of the first key column
 * (`keys=`, default `id`), `$2` the second's for a composite key... A pool a slave process,
 * of `--concurrency` connections. Its setup checks the statement first (statement.ts): a
 * typo is one line and the slave exits 2 before its first job. A batch that fails is split
 * by the slave down to the row that fails it, which goes to the failed-jobs log alone.
 *
 *   tm-slave taskmaster-run/pg/sql --host 10.0.0.5:5050 --batch 1000 --concurrency 4
 */
import { JobSourceError, OptionError } from '../../errors.js'
import type { BatchContext, SetupContext } from '../../options.js'
import { pgExport } from '../connection.js'
import type { NamedQuery, OwnPool, PgClient } from '../connection.js'
import { sqlArgs } from './args.js'
import { checkStatementAt } from './statement.js'

/** The name the statement is prepared under on each connection of the pool: parsed and planned once a connection. */
export const STATEMENT_NAME = 'taskmaster_sql'

const MODULE = 'taskmaster-run/pg/sql'

/** What setup gives every batch. */
export interface SqlState {
  pool: OwnPool & PgClient
  /** The key columns: `$1` the values of the first, ... */
  keys: readonly string[]
  statement: string
}

/**
 * Reads the run's arguments, checks the statement on a connection of its own, then opens
 * the slave's pool: `--concurrency` connections, one a lane.
 */
export async function setup(ctx: SetupContext): Promise<SqlState> {
  const { keys, statement, table } = sqlArgs(ctx.args)
  const db = ctx.args.db
  await checkStatementAt(db, table, keys, statement)
  const Pool = await pgExport('Pool', MODULE)
  const pool = new Pool({ connectionString: db, max: ctx.concurrency }) as SqlState['pool'] & { on: (e: 'error', f: () => void) => unknown }
  // An idle connection the server drops is an error of the next batch (retried), never of the slave.
  pool.on('error', () => {})
  return { pool, keys, statement }
}

/** The values of key column `column` of `rows`, in their order; a row without it is a job this handler cannot run. */
function column(rows: readonly Record<string, unknown>[], name: string): unknown[] {
  const values = new Array<unknown>(rows.length)
  for (let i = 0; i < rows.length; i++) {
    const value = rows[i]?.[name]
    if (value === undefined)
      throw new JobSourceError(`${MODULE}: a job has no column ${name} (keys=); its jobs must be rows holding their key columns`)
    values[i] = value
  }
  return values
}

/** Runs the statement once for `rows`: all written, or (it throws) none, and the slave splits the batch. */
export async function handleBatch(rows: Record<string, unknown>[], ctx: BatchContext): Promise<void> {
  const state = ctx.state as SqlState | undefined
  if (state === undefined) throw new OptionError(`${MODULE}: no state: its setup did not run`)
  const query: NamedQuery = { name: STATEMENT_NAME, text: state.statement, values: state.keys.map((key) => column(rows, key)) }
  await state.pool.query(query)
}

/** Ends the pool at the end of the run or on a stop. */
export async function teardown(state: SqlState | undefined): Promise<void> {
  await state?.pool.end()
}
