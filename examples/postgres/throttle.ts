/**
 * A throttle check for tm-master: holds dispatch while replication lag is over `max_lag`
 * seconds (a run argument, default 1), so a backfill backs off by itself when the
 * replicas fall behind, and goes on when they catch up.
 *
 *   tm-master examples/postgres/jobs.ts db=env:DATABASE_URL max_lag=1 \
 *     --throttle examples/postgres/throttle.ts --throttle-interval 1 --spawn 2 --handler examples/postgres/handler.ts
 *
 * Connected to the primary it reads the largest `replay_lag` of `pg_stat_replication`
 * (how far the slowest replica is behind in applying what the primary wrote); connected
 * to a replica (`lag_db=`, if the replica is the one to protect) it reads
 * `now() - pg_last_xact_replay_timestamp()`. No replica, or none replaying yet: no lag.
 *
 * `lag_table=<table>` reads the lag from `SELECT seconds FROM <table>` instead: for tests
 * (one server has no replicas) and drills, a lag a person sets by hand.
 */
import pg from 'pg'
import type { ThrottleCheck } from 'taskmaster-run'

/**
 * The lag in seconds, on a primary or a replica, in one statement: null when there is
 * nothing to measure (no replica connected, or a replica that has replayed nothing yet).
 */
export const LAG_QUERY = `SELECT CASE WHEN pg_is_in_recovery()
  THEN EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp())
  ELSE (SELECT EXTRACT(EPOCH FROM max(replay_lag)) FROM pg_stat_replication)
END AS seconds`

let pool: pg.Pool | undefined

/** One connection, made on first use; it does not keep the master alive once the run is over. */
function database(args: Readonly<Record<string, string>>): pg.Pool {
  const url = args.lag_db ?? args.db
  if (url === undefined) throw new Error('Give the database as a run argument: db=postgres://... (or lag_db= for the server whose lag to watch)')
  if (pool !== undefined) return pool
  // A check must answer within its interval: a query stuck on a lock is cut short.
  pool = new pg.Pool({ connectionString: url, max: 1, allowExitOnIdle: true, statement_timeout: 5000 })
  // An idle connection the server drops (a restart, a failover) must not take the master
  // down: the next check connects again, and a failing check holds dispatch with its error.
  pool.on('error', () => {})
  return pool
}

/** Closes the connection (for scripts and tests that call the check themselves). */
export async function closeLagPool(): Promise<void> {
  const open = pool
  pool = undefined
  await open?.end()
}

/** The replication lag now, in seconds (null: nothing to measure). */
export async function replicationLag(args: Readonly<Record<string, string>>): Promise<number | null> {
  const table = args.lag_table
  if (table !== undefined && !/^[A-Za-z_][A-Za-z0-9_]*$/.test(table)) throw new Error(`lag_table must be a table name, got '${table}'`)
  const sql = table === undefined ? LAG_QUERY : `SELECT seconds FROM ${table} LIMIT 1`
  const row = (await database(args).query(sql)).rows[0] as { seconds: string | number | null } | undefined
  return row?.seconds === null || row?.seconds === undefined ? null : Number(row.seconds)
}

/** Holds dispatch with the lag as the reason while it is over `max_lag` seconds (default 1). */
export const throttle: ThrottleCheck = async ({ args }) => {
  const max = Number(args.max_lag ?? 1)
  const lag = await replicationLag(args)
  return lag !== null && lag > max ? `replication lag ${lag.toFixed(1)} s > ${max} s` : false
}
