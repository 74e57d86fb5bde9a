/**
 * `taskmaster-run/pg/sql`: the handler of the backfill with no code. One statement (`sql=`)
 * a batch of rows (`--batch`), its keys as arrays: `$1` the values of the first key column
 * (`keys=`, default `id`), `$2` the second's for a composite key... A pool a slave process,
 * of `--concurrency` connections. Its setup checks the statement first (statement.ts): a
 * typo is one line and the slave exits 2 before its first job. A batch that fails is split
 * by the slave down to the row that fails it, which goes to the failed-jobs log alone.
 * With `once=true` each batch first claims its rows' keys in the same transaction
 * (exactlyOnce, src/pg/exactly-once.ts): a row whose write committed is never written again.
 *
 *   tm-slave taskmaster-run/pg/sql --host 10.0.0.5:5050 --batch 1000 --concurrency 4
 */
import { JobSourceError, OptionError } from '../../errors.js'
import type { BatchContext, BatchFailure, SetupContext, TeardownContext } from '../../options.js'
import { pgExport } from '../connection.js'
import { exactlyOnce } from '../exactly-once.js'
import type { ExactlyOnce, PgTransaction } from '../exactly-once.js'
import type { NamedQuery, OwnPool, PgClient } from '../connection.js'
import { sqlArgs } from './args.js'
import { checkStatementAt } from './statement.js'

/** The name the statement is prepared under on each connection of the pool: parsed and planned once a connection. */
export const STATEMENT_NAME = 'taskmaster_sql'

const MODULE = 'taskmaster-run/pg/sql'

/** What setup gives every batch. */
export interface SqlState {
  /** The slave's pool; undefined with `once=true` (exactlyOnce has its own). */
  pool: (OwnPool & PgClient) | undefined
  /** The key columns: `$1` the values of the first, ... */
  keys: readonly string[]
  statement: string
  /** With `once=true`: the handler exactlyOnce made and what its setup returned. */
  once: { handler: ExactlyOnce; state: unknown } | undefined
}

/** A key value as a claim names it: a string, number or bigint as it is; a date or anything else as text. */
function keyPart(value: unknown): string | number | bigint {
  if (typeof value === 'string' || typeof value === 'bigint' || (typeof value === 'number' && Number.isFinite(value))) return value
  if (value instanceof Date) return value.toISOString()
  return JSON.stringify(value) ?? String(value)
}

/** A row's claim key: its key column's value, or the values of a composite key as JSON text. */
export function claimKeyOf(keys: readonly string[]): (row: Record<string, unknown>) => string | number | bigint {
  if (keys.length === 1) {
    const name = keys[0]
    return (row) => keyPart(row[name])
  }
  return (row) => JSON.stringify(keys.map((name) => String(keyPart(row[name]))))
}

/** The statement's query for `rows`: prepared under its name, `$i` the values of the i-th key column. */
function queryOf(state: Pick<SqlState, 'keys' | 'statement'>, rows: readonly Record<string, unknown>[]): NamedQuery {
  return { name: STATEMENT_NAME, text: state.statement, values: state.keys.map((key) => column(rows, key)) }
}

/**
 * Reads the run's arguments, checks the statement on a connection of its own, then opens
 * the slave's pool: `--concurrency` connections, one a lane.
 */
export async function setup(ctx: SetupContext): Promise<SqlState> {
  const { keys, statement, table, once } = sqlArgs(ctx.args)
  const db = ctx.args.db
  await checkStatementAt(db, table, keys, statement)
  if (once) {
    // Returns nothing: what exactlyOnce's function returns says which rows failed.
    const write = async (rows: Record<string, unknown>[], tx: PgTransaction): Promise<void> => {
      await (tx as unknown as { query: (query: NamedQuery) => Promise<unknown> }).query(queryOf({ keys, statement }, rows))
    }
    const handler = exactlyOnce(write, { db: (args) => args.db, key: claimKeyOf(keys) })
    return { pool: undefined, keys, statement, once: { handler, state: await handler.setup(ctx) } }
  }
  const Pool = await pgExport('Pool', MODULE)
  const pool = new Pool({ connectionString: db, max: ctx.concurrency }) as SqlState['pool'] & { on: (e: 'error', f: () => void) => unknown }
  // An idle connection the server drops is an error of the next batch (retried), never of the slave.
  pool.on('error', () => {})
  return { pool, keys, statement, once: undefined }
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
export async function handleBatch(rows: Record<string, unknown>[], ctx: BatchContext): Promise<BatchFailure[] | undefined> {
  const state = ctx.state as SqlState | undefined
  if (state === undefined) throw new OptionError(`${MODULE}: no state: its setup did not run`)
  if (state.once !== undefined) {
    const once = state.once
    // exactlyOnce's handler, given its own setup's state in place of this module's.
    const context: BatchContext = {
      attempts: ctx.attempts,
      seqs: ctx.seqs,
      get signal() {
        return ctx.signal
      },
      state: once.state,
      args: ctx.args,
      run: ctx.run,
    }
    return once.handler.handleBatch(rows, context)
  }
  if (state.pool === undefined) throw new OptionError(`${MODULE}: no pool: its setup did not run`)
  await state.pool.query(queryOf(state, rows))
  return undefined
}

/** Ends the pool at the end of the run or on a stop; with `once=true`, exactlyOnce's teardown removes a complete run's claims. */
export async function teardown(state: SqlState | undefined, ctx: TeardownContext): Promise<void> {
  if (state?.once !== undefined) return state.once.handler.teardown(state.once.state, ctx)
  await state?.pool?.end()
}
