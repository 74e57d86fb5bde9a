/**
 * The jobs: the id of every row of `users`, a page of 1,000 at a time by id (keyset paging
 * through taskmaster-run/pg, never OFFSET). On resume `last` is the id of the last row
 * known done, and paging starts after it. The database comes from the run's arguments
 * (`env:` keeps its password off the command line, and out of every view of the run):
 *   tm-master examples/postgres/jobs.ts db=env:DATABASE_URL --spawn 2 --handler examples/postgres/handler.ts --batch 1000
 */
import pg from 'pg'
import type { GeneratorContext, JobKey } from 'taskmaster-run'
import { pgTable } from 'taskmaster-run/pg'
import type { PgTableSource } from 'taskmaster-run/pg'

let source: PgTableSource | undefined

/** The table's source, made on first use: the connection string is a run argument, known only then. */
function users(args: Record<string, string>): PgTableSource {
  if (source !== undefined) return source
  if (args.db === undefined) throw new Error('Give the database as a run argument: db=postgres://user@host:port/database')
  // One connection: the master reads one page at a time. allowExitOnIdle: an idle
  // connection does not keep the master alive once the run is over.
  const pool = new pg.Pool({ connectionString: args.db, max: 1, allowExitOnIdle: true })
  // Only the id: the handler's UPDATE reads the row itself, so jobs stay small on the wire.
  source = pgTable({ db: pool, table: 'users', columns: ['id'], pageSize: 1000 })
  return source
}

export function getJobs(last: JobKey | undefined, ctx: GeneratorContext) {
  return users(ctx.args).getJobs(last, ctx)
}

/** Each row's id, as a bigint (pg returns int8 as a string; the checkpoint keeps every digit). */
export const key = (row: { id: string }): JobKey => source!.key(row)

/** For the progress bar and ETA: the planner's estimate on a large table, no count(*) scan. */
export const total = (ctx: { args: Record<string, string> }): Promise<number> => users(ctx.args).total()
