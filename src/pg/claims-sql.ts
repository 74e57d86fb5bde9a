/**
 * The statements of exactlyOnce's claims, built once from the table's name: pure text, no
 * database. Two tables: the claims, one row per job whose writes committed (its run's
 * identity as a bigint, its key as text), and the runs that have claims, by key, so a run
 * started over (`--reset`) clears what its earlier identity left. Keys are compared byte by
 * byte (`COLLATE "C"`): the database's collation would cost every index comparison.
 */
import { quote } from './sql.js'

/** Every statement of a claims table. */
export interface ClaimQueries {
  /** The two tables' names as `to_regclass` reads them. */
  tables: readonly [claims: string, runs: string]
  /**
   * What the claims table is: its columns' types (`run`, `key`) and whether a unique index
   * is on exactly `(run, key)`, without which claims could not refuse a second one: `[claims]`.
   */
  shape: string
  /** Makes each table (run under a lock, when missing). */
  create: readonly [claims: string, runs: string]
  /**
   * Claims every key, the fast way (no conflict check: a key already claimed fails the
   * statement with a unique violation, and {@link claimSome} is tried): `[run, keys]`.
   */
  claimAll: string
  /** The same, and deletes the keys of the run's compacted claims in the same statement: `[run, keys, compacted]`. */
  claimAllCompacting: string
  /**
   * Claims the keys not claimed yet, waiting for a transaction that is claiming one of them
   * to end, and answers the keys it claimed as one array (`claimed`), deleting compacted
   * keys too: `[run, keys, compacted]`.
   */
  claimSome: string
  /** Records the run under its key and clears the claims of the key's other identities (a run started over): `[run, key]`. */
  register: string
  /** Removes the run's claims and its record, once it is complete: `[run]`. */
  forget: string
}

/**
 * The runs table's name: the claims table's, its last part suffixed `_runs` (`app.claims`
 * gives `app.claims_runs`).
 */
function runsTable(table: string): string[] {
  const parts = table.split('.')
  parts[parts.length - 1] = `${parts[parts.length - 1]}_runs`
  return parts
}

/** A schema-qualified name, each part quoted. */
const qualified = (parts: readonly string[]): string => parts.map(quote).join('.')

/** A run's identity (16 hex digits) as the signed bigint the tables key it by. */
export function runNumber(identity: string): string {
  return BigInt.asIntN(64, BigInt(`0x${identity}`)).toString()
}

/** The statements of the claims table `table` (schema-qualified or not: each part is quoted). */
export function claimQueries(table: string): ClaimQueries {
  const claims = qualified(table.split('.'))
  const runs = qualified(runsTable(table))
  const compact = `d AS (DELETE FROM ${claims} WHERE run = $1::bigint AND key = ANY($3::text[]))`
  const insert = `INSERT INTO ${claims} (run, key) SELECT $1::bigint, k FROM unnest($2::text[]) AS k`
  return {
    tables: [claims, runs],
    shape:
      `SELECT (SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = to_regclass($1) AND attname = 'run' AND NOT attisdropped) AS run, ` +
      `(SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = to_regclass($1) AND attname = 'key' AND NOT attisdropped) AS key, ` +
      `EXISTS (SELECT FROM pg_index i WHERE i.indrelid = to_regclass($1) AND i.indisunique AND i.indpred IS NULL AND ` +
      `(SELECT array_agg(a.attname::text ORDER BY k.n) FROM unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, n) ` +
      `JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum) = ARRAY['run', 'key']) AS unique`,
    create: [
      `CREATE TABLE IF NOT EXISTS ${claims} (run bigint NOT NULL, key text COLLATE "C" NOT NULL, PRIMARY KEY (run, key))`,
      `CREATE TABLE IF NOT EXISTS ${runs} (run bigint PRIMARY KEY, key text NOT NULL, started timestamptz NOT NULL DEFAULT now())`,
    ],
    claimAll: insert,
    claimAllCompacting: `WITH ${compact} ${insert}`,
    claimSome: `WITH ${compact}, c AS (${insert} ON CONFLICT DO NOTHING RETURNING key) SELECT array_agg(key) AS claimed FROM c`,
    register:
      `WITH r AS (INSERT INTO ${runs} (run, key) VALUES ($1::bigint, $2::text) ON CONFLICT (run) DO NOTHING), ` +
      `o AS (DELETE FROM ${runs} WHERE key = $2::text AND run <> $1::bigint RETURNING run) ` +
      `DELETE FROM ${claims} WHERE run IN (SELECT run FROM o)`,
    forget: `WITH r AS (DELETE FROM ${runs} WHERE run = $1::bigint) DELETE FROM ${claims} WHERE run = $1::bigint`,
  }
}
