/**
 * The backfill: sets each user's `domain` from their email, a batch of rows in ONE
 * statement (`WHERE id = ANY($1)`): one round trip and one commit per batch, not per row,
 * and the write is what costs.
 *
 * The UPDATE is idempotent: it sets `domain` from the row's own `email`, so running a row
 * twice gives the same value. That matters because a run guarantees every row at least
 * once: a slave killed mid-batch (or a master killed before its checkpoint) leaves rows
 * whose commit may have happened but was not acknowledged, and they run again on resume.
 * A counter (`n = n + 1`) or an append would count them twice.
 *   tm-master examples/postgres/jobs.ts db=env:DATABASE_URL --spawn 2 --handler examples/postgres/handler.ts --batch 1000
 */
import pg from 'pg'
import type { BatchContext, HandlerContext, SetupContext } from 'taskmaster-run'

const UPDATE = "UPDATE users SET domain = lower(split_part(email, '@', 2)) WHERE id = ANY($1::bigint[])"
const UPDATE_ONE = "UPDATE users SET domain = lower(split_part(email, '@', 2)) WHERE id = $1"

/** One pool per slave process, a connection per lane: `--concurrency` calls run at once. */
export function setup(ctx: SetupContext): pg.Pool {
  if (ctx.args.db === undefined) throw new Error('Give the database as a run argument: db=postgres://user@host:port/database')
  return new pg.Pool({ connectionString: ctx.args.db, max: ctx.concurrency })
}

/** A batch of rows in one statement: all written, or (it throws) none, and the batch is split. */
export async function handleBatch(rows: { id: string }[], ctx: BatchContext): Promise<void> {
  await (ctx.state as pg.Pool).query(UPDATE, [rows.map((row) => row.id)])
}

/**
 * The same, one row per call (`--handler examples/postgres/handler.ts:handleJob`): the
 * slow way, a round trip and a commit per row, kept for comparison (bench/backfill.mjs).
 */
export async function handleJob(row: { id: string }, ctx: HandlerContext): Promise<void> {
  await (ctx.state as pg.Pool).query(UPDATE_ONE, [row.id])
}

/** Closes the pool at the end of the run or on a stop. */
export async function teardown(pool: pg.Pool): Promise<void> {
  await pool.end()
}
