/**
 * The jobs: the id of every row of `users`, a page of 1,000 at a time by id (keyset paging
 * through taskmaster-run/pg, never OFFSET). On resume `last` is the id of the last row
 * known done, and paging starts after it. One export is the whole source: the generator,
 * each row's key (the id as a bigint: pg returns int8 as a string, the checkpoint keeps
 * every digit), total() (the planner's estimate on a large table, no count(*) scan) and
 * progress(). The database comes from the run's arguments, read when the run starts
 * (`env:` keeps its password off the command line, and out of every view of the run):
 *   tm-master examples/postgres/jobs.ts db=env:DATABASE_URL --spawn 2 --handler examples/postgres/handler.ts --batch 1000
 */
import { pgTable } from 'taskmaster-run/pg'

// Only the id: the handler's UPDATE reads the row itself, so jobs stay small on the wire.
// From the connection string pgTable makes a pool of one connection, ended with the run.
export default pgTable({ db: (args) => args.db, table: 'users', columns: ['id'], pageSize: 1000 })
