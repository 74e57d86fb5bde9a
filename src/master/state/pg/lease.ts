import { createHash, randomBytes } from 'node:crypto'
import { hostname } from 'node:os'
import type { PgClient } from './client.js'

/** One row per run: who holds its lease, the lease's fencing number, and until when. */
export const LEASE_TABLE = 'taskmaster_lease'

/** Created on first use, with the other tables of the state. */
export const LEASE_SCHEMA = `CREATE TABLE IF NOT EXISTS ${LEASE_TABLE} (run text PRIMARY KEY, holder text NOT NULL, fence bigint NOT NULL, deadline timestamptz NOT NULL)`

/** A deadline `$n` milliseconds from now, on the server's clock (the masters' clocks never meet). */
const deadline = (n: number): string => `clock_timestamp() + $${n}::float8 * interval '1 millisecond'`

/**
 * Builds a fenced write: `writes` (CTEs named as they like, each guarded by {@link HELD})
 * run only if the run's lease is still this master's: `$1` the run, `$2` the fencing
 * number, `$3` the lease's length in ms (the write renews it); their own values from `$4`.
 * The statement returns `held`: 1 when it wrote, 0 when another master took the lease.
 * The lease row is locked first: a takeover waits for a write under way (and sees its
 * renewed deadline), a write after a takeover finds another fencing number.
 */
export function fenced(writes: readonly string[]): string {
  const lease = `l AS (UPDATE ${LEASE_TABLE} SET deadline = ${deadline(3)} WHERE run = $1 AND fence = $2 RETURNING fence)`
  return `WITH ${[lease, ...writes].join(',\n ')}\nSELECT count(*)::int AS held FROM l`
}

/** The condition each write of a {@link fenced} statement carries. */
export const HELD = 'EXISTS (SELECT FROM l)'

/** Who holds a lease, for the lease row: host, pid and a random tag (a pid is reused). */
export function holderName(): string {
  return `${hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`
}

/**
 * The advisory lock of lease `fence` of run `key` (64 bits of a SHA-256, as
 * pg_try_advisory_lock(bigint) takes it): the holder of that lease keeps it on its session,
 * so it is free once that session is gone (a killed or stopped master).
 */
export function leaseLockId(key: string, fence: number): string {
  return createHash('sha256').update(`taskmaster-run:${key}:${fence}`).digest().readBigInt64BE(0).toString()
}

const tryLock = async (client: PgClient, key: string, fence: number): Promise<boolean> =>
  (await client.query('SELECT pg_try_advisory_lock($1::bigint) AS locked', [leaseLockId(key, fence)])).rows[0]?.locked === true
const unlock = (client: PgClient, key: string, fence: number): Promise<unknown> =>
  client.query('SELECT pg_advisory_unlock($1::bigint)', [leaseLockId(key, fence)])

/**
 * Takes the lease of run `key` if it is free: never taken, its holder's session gone (its
 * advisory lock is free: at once after a kill -9 or a stop), or past its deadline (its
 * holder was paused or cut off and did not renew it). Resolves with the new fencing number
 * (one more than the last holder's), or undefined while another master holds the lease.
 * The new number's advisory lock is taken first, so two masters never take one number.
 */
export async function tryTakeLease(client: PgClient, key: string, holder: string, leaseMs: number): Promise<number | undefined> {
  const row = (await client.query(`SELECT fence, deadline < clock_timestamp() AS expired FROM ${LEASE_TABLE} WHERE run = $1`, [key]))
    .rows[0]
  if (row === undefined) {
    if (!(await tryLock(client, key, 1))) return undefined
    const taken =
      (
        await client.query(
          `INSERT INTO ${LEASE_TABLE} (run, holder, fence, deadline) VALUES ($1, $2, 1, ${deadline(3)}) ON CONFLICT (run) DO NOTHING RETURNING fence`,
          [key, holder, leaseMs],
        )
      ).rows.length > 0
    if (!taken) await unlock(client, key, 1)
    return taken ? 1 : undefined
  }
  const fence = Number(row.fence)
  const gone = await tryLock(client, key, fence)
  try {
    if (!gone && row.expired !== true) return undefined
    if (!(await tryLock(client, key, fence + 1))) return undefined
    // Looked at again under the row's lock: the holder may have renewed it meanwhile.
    const taken =
      (
        await client.query(
          `UPDATE ${LEASE_TABLE} SET holder = $2, fence = $3::bigint + 1, deadline = ${deadline(4)} WHERE run = $1 AND fence = $3 AND ($5 OR deadline < clock_timestamp()) RETURNING fence`,
          [key, holder, fence, leaseMs, gone],
        )
      ).rows.length > 0
    if (!taken) await unlock(client, key, fence + 1)
    return taken ? fence + 1 : undefined
  } finally {
    if (gone) await unlock(client, key, fence)
  }
}

/**
 * The runs (all, or only `run`) whose lease a master holds now: the advisory lock of the
 * lease's fencing number is held by a session (it is freed when that session ends). Read
 * from pg_locks, so the asker takes no lock itself (`tm-ctl status --key`, `tm-ctl list`).
 */
export async function leasesHeld(client: PgClient, run?: string): Promise<Set<string>> {
  // A database an older version wrote has no lease table: nobody holds a lease there.
  if ((await client.query('SELECT to_regclass($1) IS NULL AS absent', [LEASE_TABLE])).rows[0]?.absent === true) return new Set()
  const leases = (
    await client.query(`SELECT run, fence FROM ${LEASE_TABLE}${run === undefined ? '' : ' WHERE run = $1'}`, run === undefined ? [] : [run])
  ).rows
  if (leases.length === 0) return new Set()
  // pg_locks shows a bigint advisory lock as its high 32 bits (classid) and low 32 bits (objid).
  const locks = await client.query(
    `SELECT ((classid::bigint << 32) | objid::bigint)::text AS id FROM pg_locks WHERE locktype = 'advisory' AND granted AND objsubid = 1
       AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`,
  )
  const held = new Set(locks.rows.map((row) => String(row.id)))
  return new Set(leases.filter((row) => held.has(leaseLockId(String(row.run), Number(row.fence)))).map((row) => String(row.run)))
}
