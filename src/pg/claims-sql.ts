/**
 * The statements of exactlyOnce's claims, built once from the table's name: pure text, no
 * database. Three tables: the claims, one row per job whose writes committed (its run's
 * identity, its key, and the master incarnation and seq it was claimed under, which
 * compaction deletes by); the runs that have claims, by key, so a run started over
 * (`--reset`) clears what its earlier identity left; and the floors compaction leaves in
 * place of what it deleted, one per run and incarnation: every job of that incarnation
 * below the floor is done (a slave that held a copy of one, dropped by the master and come
 * back, finds no claim but the floor). Keys are compared byte by byte (`COLLATE "C"`): the
 * database's collation would cost every index comparison.
 */
import { createHash } from 'node:crypto'
import { quote } from './sql.js'

/** Every statement of a claims table. */
export interface ClaimQueries {
  /** The three tables' names as `to_regclass` reads them. */
  tables: readonly [claims: string, runs: string, floors: string]
  /**
   * What each table is, as {@link TABLE_SHAPES} says it must be: its columns' types, and
   * whether a unique index is on exactly the columns named (without which claims could not
   * refuse a second one, nor `ON CONFLICT` find its row): `[table]`, one statement a table.
   */
  shapes: readonly [claims: string, runs: string, floors: string]
  /** How many rows the run has in the claims and runs tables (`claims`, `runs`), for the probe at setup: `[run]`. */
  probe: string
  /** Makes each table (run under a lock, when missing). */
  create: readonly [claims: string, runs: string, floors: string]
  /**
   * Claims every key, the fast way (no conflict check: a key already claimed fails the
   * statement with a unique violation, and {@link claimSome} is tried): `[run, keys, inc, seqs]`.
   */
  claimAll: string
  /**
   * Claims the keys not claimed yet, waiting for a transaction that is claiming one of them
   * to end, and answers the keys it claimed as one array (`claimed`): `[run, keys, inc, seqs]`.
   */
  claimSome: string
  /**
   * The floor of the run's incarnation `inc` (text; null when it has none): every job of
   * it below that seq is done, whether or not its claim is still there. A run that
   * completed has the floor of every incarnation at the top (the {@link COMPLETE} row): `[run, inc]`.
   */
  floor: string
  /**
   * Deletes the run's claims of incarnation `inc` below seq `below` and raises the
   * incarnation's floor to `below` in the same statement, if no other process is doing it now
   * (an advisory lock of this transaction, `lock`, else nothing): `[run, inc, below, lock]`.
   */
  compact: string
  /** Records the run under its key and clears the claims and floors of the key's other identities (a run started over): `[run, key]`. */
  register: string
  /**
   * Removes the run's claims, its record and floors, once it is complete, leaving one row
   * that says every job of it is done (a slave stopped past the end may still hold some): `[run]`.
   */
  forget: string
}

/**
 * A table beside the claims table: its name's last part suffixed (`_runs` of `app.claims`
 * gives `app.claims_runs`).
 */
function besideTable(table: string, suffix: string): string[] {
  const parts = table.split('.')
  parts[parts.length - 1] = `${parts[parts.length - 1]}_${suffix}`
  return parts
}

/** The `inc` of a run's floor row that covers every incarnation: written when the run completes. */
export const COMPLETE = '-1'
/** The floor of a run that completed: above every seq. */
const TOP = '9223372036854775807'

/** What each of the three tables must have: columns and their types, and a unique index on exactly `unique`. */
export const TABLE_SHAPES = [
  { what: 'claims table', columns: { run: 'bigint', key: 'text', inc: 'bigint', seq: 'bigint' }, unique: ['run', 'key'] },
  { what: 'runs table of claims', columns: { run: 'bigint', key: 'text' }, unique: ['run'] },
  { what: 'floors table of claims', columns: { run: 'bigint', inc: 'bigint', floor: 'bigint' }, unique: ['run', 'inc'] },
] as const

/** The shape of one table. */
export type TableShape = (typeof TABLE_SHAPES)[number]

/** The statement reading `shape`'s columns' types and unique index of table `$1` from the catalog. */
function shapeQuery(shape: TableShape): string {
  const column = (name: string): string =>
    `(SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = to_regclass($1) AND attname = '${name}' AND NOT attisdropped) AS ${name}`
  return (
    `SELECT ${Object.keys(shape.columns).map(column).join(', ')}, ` +
    `EXISTS (SELECT FROM pg_index i WHERE i.indrelid = to_regclass($1) AND i.indisunique AND i.indpred IS NULL AND ` +
    `(SELECT array_agg(a.attname::text ORDER BY k.n) FROM unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, n) ` +
    `JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum) = ARRAY[${shape.unique.map((name) => `'${name}'`).join(', ')}]) AS unique`
  )
}

/** A schema-qualified name, each part quoted. */
const qualified = (parts: readonly string[]): string => parts.map(quote).join('.')

/** A run's identity (16 hex digits) as the signed bigint the tables key it by. */
export function runNumber(identity: string): string {
  return BigInt.asIntN(64, BigInt(`0x${identity}`)).toString()
}

/** A master incarnation (12 hex digits from the welcome; anything else hashed) as a bigint. */
export function incarnationNumber(incarnation: string): string {
  const hex = /^[0-9a-f]{1,15}$/.test(incarnation) ? incarnation : createHash('sha256').update(incarnation).digest('hex').slice(0, 15)
  return BigInt(`0x${hex}`).toString()
}

/** The advisory lock (two int4s: this module's, and the run's low 32 bits) a compaction holds. */
export function compactionLock(run: string): string {
  return BigInt.asIntN(64, (0x746d6f6en << 32n) | (BigInt(run) & 0xffffffffn)).toString()
}

/** The statements of the claims table `table` (schema-qualified or not: each part is quoted). */
export function claimQueries(table: string): ClaimQueries {
  const claims = qualified(table.split('.'))
  const runs = qualified(besideTable(table, 'runs'))
  const floors = qualified(besideTable(table, 'floors'))
  const insert = `INSERT INTO ${claims} (run, key, inc, seq) SELECT $1::bigint, c.k, $3::bigint, c.s FROM unnest($2::text[], $4::bigint[]) AS c(k, s)`
  return {
    tables: [claims, runs, floors],
    shapes: [shapeQuery(TABLE_SHAPES[0]), shapeQuery(TABLE_SHAPES[1]), shapeQuery(TABLE_SHAPES[2])],
    probe: `SELECT (SELECT count(*) FROM ${claims} WHERE run = $1::bigint)::int AS claims, (SELECT count(*) FROM ${runs} WHERE run = $1::bigint)::int AS runs`,
    create: [
      `CREATE TABLE IF NOT EXISTS ${claims} (run bigint NOT NULL, key text COLLATE "C" NOT NULL, inc bigint NOT NULL, seq bigint NOT NULL, PRIMARY KEY (run, key))`,
      `CREATE TABLE IF NOT EXISTS ${runs} (run bigint PRIMARY KEY, key text NOT NULL, started timestamptz NOT NULL DEFAULT now())`,
      `CREATE TABLE IF NOT EXISTS ${floors} (run bigint NOT NULL, inc bigint NOT NULL, floor bigint NOT NULL, PRIMARY KEY (run, inc))`,
    ],
    claimAll: insert,
    claimSome: `WITH c AS (${insert} ON CONFLICT DO NOTHING RETURNING key) SELECT array_agg(key) AS claimed FROM c`,
    floor: `SELECT max(floor)::text AS floor FROM ${floors} WHERE run = $1::bigint AND inc IN ($2::bigint, ${COMPLETE})`,
    compact:
      `WITH l AS MATERIALIZED (SELECT pg_try_advisory_xact_lock($4::bigint) AS got), ` +
      `f AS (INSERT INTO ${floors} AS f (run, inc, floor) SELECT $1::bigint, $2::bigint, $3::bigint WHERE (SELECT got FROM l) ` +
      `ON CONFLICT (run, inc) DO UPDATE SET floor = greatest(f.floor, excluded.floor)) ` +
      `DELETE FROM ${claims} WHERE (SELECT got FROM l) AND run = $1::bigint AND inc = $2::bigint AND seq < $3::bigint`,
    register:
      `WITH r AS (INSERT INTO ${runs} (run, key) VALUES ($1::bigint, $2::text) ON CONFLICT (run) DO NOTHING), ` +
      `o AS (DELETE FROM ${runs} WHERE key = $2::text AND run <> $1::bigint RETURNING run), ` +
      `f AS (DELETE FROM ${floors} WHERE run IN (SELECT run FROM o)) ` +
      `DELETE FROM ${claims} WHERE run IN (SELECT run FROM o)`,
    forget:
      `WITH r AS (DELETE FROM ${runs} WHERE run = $1::bigint), ` +
      `f AS (DELETE FROM ${floors} WHERE run = $1::bigint AND inc <> ${COMPLETE}), ` +
      `t AS (INSERT INTO ${floors} (run, inc, floor) VALUES ($1::bigint, ${COMPLETE}, ${TOP}) ON CONFLICT (run, inc) DO NOTHING) ` +
      `DELETE FROM ${claims} WHERE run = $1::bigint`,
  }
}
