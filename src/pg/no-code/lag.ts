/**
 * `max-lag=` of the backfill with no code: a throttle check that holds dispatch while the
 * replicas lag more than that, and lets jobs go again once they caught up. The lag is read
 * as examples/postgres/throttle.ts reads it, on the primary or on a replica (`lag-db=`).
 */
import type { NamedThrottle } from '../../options.js'
import { pgExport } from '../connection.js'
import type { OwnPool, PgQueryable } from '../connection.js'

/**
 * The lag in seconds, on a primary or a replica, in one statement: null when there is
 * nothing to measure (no replica connected, or a replica that has replayed nothing yet).
 * On a primary, the largest `replay_lag` of `pg_stat_replication` (how far the slowest
 * replica is behind in applying what the primary wrote); on a replica, how long ago the
 * last transaction it replayed was committed.
 */
export const LAG_QUERY = `SELECT CASE WHEN pg_is_in_recovery()
  THEN EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp())
  ELSE (SELECT EXTRACT(EPOCH FROM max(replay_lag)) FROM pg_stat_replication)
END AS seconds`

/** How long a lag query may run: a check must answer within its interval, and one stuck on a lock is cut short. */
const LAG_TIMEOUT_MS = 5000

/** Seconds as the status line says them: `5 s`, `0.5 s`. */
const seconds = (s: number): string => `${Number(s.toFixed(3))} s`

/** The replication lag now, in seconds (null: nothing to measure). */
export async function replicationLag(db: PgQueryable): Promise<number | null> {
  const value = (await db.query(LAG_QUERY)).rows[0]?.seconds
  return value === null || value === undefined ? null : Number(value)
}

/** Why dispatch is held at `lag` seconds, or false: the verdict of a lag limit of `max` seconds. */
export function lagVerdict(lag: number | null, max: number): string | false {
  return lag !== null && lag > max ? `replication lag ${lag.toFixed(1)} s > ${seconds(max)}` : false
}

/**
 * The throttle of `max-lag=`: dispatch held while the lag read from `url` is over `max`
 * seconds. One connection, made on first use (pg imported then), that does not keep the
 * master alive once the run is over; a failed query holds dispatch with its error until the
 * next check succeeds (see src/master/engine/throttle.ts).
 */
export function lagThrottle(max: number, url: string, pool?: () => Promise<OwnPool>): NamedThrottle {
  let opened: Promise<OwnPool> | undefined
  const open =
    pool ??
    (async (): Promise<OwnPool> => {
      const Pool = await pgExport('Pool', 'taskmaster-run/pg/table')
      const made = new Pool({ connectionString: url, max: 1, allowExitOnIdle: true, statement_timeout: LAG_TIMEOUT_MS })
      // A connection the server drops (a failover) is an error of the next check, never of the master.
      made.on('error', () => {})
      return made
    })
  return {
    name: `replication lag over ${seconds(max)} (max-lag)`,
    check: async () => {
      if (opened === undefined) {
        const opening = open()
        // A failed open is tried again at the next check.
        opening.catch(() => (opened = undefined))
        opened = opening
      }
      return lagVerdict(await replicationLag(await opened), max)
    },
  }
}
