/**
 * `taskmaster-run/pg`: a job source over a PostgreSQL table, and `exactlyOnce`, a batch
 * handler's writes to PostgreSQL made exactly once (exactly-once.ts). It calls `db.query(text,
 * values)` of the user's own pg Client or Pool, or of a pool it makes from a connection
 * string found in the run's arguments (importing pg only then), so pg stays an optional
 * peer dependency.
 */
import { JobSourceError, OptionError } from '../errors.js'
import type { GeneratorContext, JobKey, SourceContext } from '../options.js'
import { keyset } from '../sources/keyset.js'
import type { KeysetSource, KeyType } from '../sources/keyset.js'
import type { Shard } from '../shard.js'
import { checkDb, PgConnection } from './connection.js'
import type { PgDb, PgQueryable } from './connection.js'
import { integerOf, keySpaceProgress } from './key-space.js'
import { quote, tableQueries } from './sql.js'
import { decodeTuple, encodeTuple } from './tuple-key.js'

export type { PgDb, PgQueryable, RunArgs } from './connection.js'
export { exactlyOnce } from './exactly-once.js'
export type {
  ExactlyOnce,
  ExactlyOnceContext,
  ExactlyOnceFunction,
  ExactlyOnceOptions,
  PgPool,
  PgPoolDb,
  PgTransaction,
} from './exactly-once.js'

/** Options of {@link pgTable}. */
export interface PgTableOptions {
  /**
   * The database: a pg Client or Pool (anything with `query(text, values)`), or a function
   * of the run's arguments returning one or a connection string (`(args) => args.db`),
   * called on first use. From a connection string pgTable makes a pool of one connection
   * (pg must be installed) and ends it when the generator ends or the run stops.
   */
  db: PgDb
  /** The table, optionally schema-qualified (`'public.users'`); each part is quoted. */
  table: string
  /**
   * The unique, indexed key column the rows are paged by, or several (`['tenant_id', 'id']`)
   * for a composite key, paged by a row comparison that a composite index serves; a job's
   * key is then the JSON array of its values (int8 values as digits). @default 'id'
   */
  key?: string | string[]
  /** Columns of each job; the key columns are added when missing. @default ['*'] */
  columns?: string[]
  /** A filter ANDed to every page's condition, SQL as written, with `$1`... for `params`. @default undefined */
  where?: string
  /** Values of the `where` clause's `$1`, `$2`... @default [] */
  params?: unknown[]
  /** Rows per query. @default 1000 */
  pageSize?: number
  /** Type of the keys (one key column only). @default 'bigint' for an int8 key column (pg returns it as a string), else the keys as pg returns them */
  keyType?: KeyType
  /** Above this many rows by the planner's estimate, total() returns `{ estimate }` instead of counting. @default 100000 */
  estimateAbove?: number
}

/** A job source over a table, with `total()` and `progress()`. */
export interface PgTableSource extends KeysetSource<Record<string, unknown>> {
  /**
   * The rows (of the shard): an exact count on a small table, `{ estimate: n }` from the
   * planner on a large one; undefined when `db` gives no database (the generator says why).
   */
  total: (ctx?: SourceContext) => Promise<number | { estimate: number } | undefined>
  /**
   * The fraction of the key space at or before `last`: where it stands between the lowest
   * and the highest value of the (first) key column. undefined for a key that is not an integer.
   */
  progress: (last: JobKey, ctx?: SourceContext) => Promise<number | undefined>
}

/** pg's type id of int8 (bigint, bigserial). */
const INT8_OID = 20

/** PostgreSQL's `undefined_function`: `%` of a column that is not an integer. */
const UNDEFINED_FUNCTION = '42883'

function identifier(option: string, name: unknown): string {
  if (typeof name !== 'string' || name.length === 0)
    throw new OptionError(`pgTable: ${option} must be a non-empty string, got ${String(name)}`, option)
  return name
}

function keyColumns(key: unknown): string[] {
  if (key === undefined) return ['id']
  if (!Array.isArray(key)) return [identifier('key', key)]
  if (key.length === 0) throw new OptionError('pgTable: key must be a column name or a non-empty array of them', 'key')
  const keys = key.map((name) => identifier('key', name))
  if (new Set(keys).size !== keys.length) throw new OptionError(`pgTable: key names a column twice: ${keys.join(', ')}`, 'key')
  return keys
}

/** Estimated rows from `EXPLAIN (FORMAT JSON)`; pg parses json, a driver may hand it over as text. */
function planRows(plan: unknown): number {
  const parsed = (typeof plan === 'string' ? JSON.parse(plan) : plan) as { Plan: { 'Plan Rows': number } }[]
  return Number(parsed[0]?.Plan['Plan Rows'])
}

/**
 * A job source over the rows of a PostgreSQL table, by keyset pagination on its key
 * (`WHERE key > $n ORDER BY key LIMIT $m`, never OFFSET), resuming strictly after `last`.
 * int8 keys (which pg returns as strings) become bigint keys, so the checkpoint keeps
 * every digit and `last` goes back to PostgreSQL as the exact id. A composite key
 * (`key: ['tenant_id', 'id']`) pages by `WHERE (tenant_id, id) > ($1, $2)`. Sharded
 * (`--shard i/n`), the query keeps the rows whose integer (first) key column mod n is
 * i - 1: n masters share the table without overlap, whatever rows come and go.
 *
 * ```ts
 * import { pgTable } from 'taskmaster-run/pg'
 * export default pgTable({ db: (args) => args.db, table: 'users', where: 'active' })
 * ```
 */
export function pgTable(options: PgTableOptions): PgTableSource {
  checkDb(options.db)
  const connection = new PgConnection(options.db)
  const table = identifier('table', options.table)
  const keys = keyColumns(options.key)
  const composite = keys.length > 1
  if (composite && options.keyType !== undefined)
    throw new OptionError('pgTable: keyType is for one key column; a composite key is a string key', 'keyType')
  const columns = options.columns ?? ['*']
  if (!Array.isArray(columns) || columns.length === 0)
    throw new OptionError('pgTable: columns must be a non-empty array of column names', 'columns')
  const list = columns.includes('*') ? columns : [...columns, ...keys.filter((name) => !columns.includes(name))]
  const select = list.map((name) => (name === '*' ? '*' : quote(identifier('columns', name)))).join(', ')
  const params = options.params ?? []
  const estimateAbove = options.estimateAbove ?? 100_000
  const sql = tableQueries({ table, keys, select, where: options.where ?? '', params: params.length })
  const [first] = keys

  /** A query of the shard: PostgreSQL's error for `%` of a column that is not an integer, said plainly. */
  const shardQuery = async (db: PgQueryable, text: string, values: unknown[]): ReturnType<PgQueryable['query']> => {
    try {
      return await db.query(text, values)
    } catch (error) {
      if ((error as { code?: unknown } | null)?.code !== UNDEFINED_FUNCTION) throw error
      throw new JobSourceError(
        `pgTable: a sharded run (--shard) needs an integer ${composite ? 'first key column' : 'key column'} (shard i of n takes the rows whose ${first} mod n is i - 1): ${(error as Error).message}`,
      )
    }
  }

  // Decided from the first page's column types unless the caller chose.
  let bigintKeys = options.keyType === 'bigint'
  let detect = options.keyType === undefined && !composite
  let args: SourceContext['args'] | undefined

  const fetchPage = async (after: JobKey | undefined, limit: number, shard?: Shard): Promise<Record<string, unknown>[]> => {
    const db = await connection.get(args)
    const from = after === undefined ? [] : composite ? decodeTuple(after, keys) : [typeof after === 'bigint' ? after.toString() : after]
    const values = [...params, limit, ...from]
    const result =
      shard === undefined
        ? await db.query(after === undefined ? sql.first : sql.next, values)
        : await shardQuery(db, after === undefined ? sql.firstShard : sql.nextShard, [...values, shard.count, shard.index - 1])
    if (detect && result.fields !== undefined) {
      bigintKeys = result.fields.find((field) => field.name === first)?.dataTypeID === INT8_OID
      detect = false
    }
    return result.rows
  }

  const tupleOf = (row: Record<string, unknown>): string => encodeTuple(row, keys)
  const idOf = (row: Record<string, unknown>): unknown => {
    const value = row[first]
    return bigintKeys && typeof value === 'string' ? BigInt(value) : value
  }
  const source = keyset<Record<string, unknown>>({
    fetchPage,
    key: composite ? tupleOf : idOf,
    keyType: options.keyType,
    pageSize: options.pageSize,
    shardKey: composite ? (row) => integerOf(row[first]) ?? row[first] : undefined,
    close: () => connection.close(),
  })

  // The run's arguments reach fetchPage through the generator's context.
  const getJobs = (last: JobKey | undefined, ctx?: GeneratorContext): AsyncGenerator<Record<string, unknown>> => {
    args = ctx?.args
    return source.getJobs(last, ctx)
  }

  /**
   * The database for total() and progress(), or undefined when it cannot be had for a
   * reason of the run's making (no argument, no pg): the generator says it in one line
   * when the run starts, and a warning before it would say it twice.
   */
  const database = (runArgs: SourceContext['args'] | undefined): Promise<PgQueryable | undefined> =>
    connection.get(runArgs).catch((error: unknown) => {
      if (error instanceof OptionError) return undefined
      throw error
    })

  const total = async (ctx?: SourceContext): Promise<number | { estimate: number } | undefined> => {
    const db = await database(ctx?.args)
    if (db === undefined) return undefined
    const shard = ctx?.shard
    // The planner's estimate (pg_class.reltuples scaled to the table's size, and the
    // filter's selectivity) costs nothing; count(*) reads the whole table, so it is kept
    // for tables small enough that an exact number is cheap. A shard holds about 1/n of it.
    const estimate = planRows((await db.query(sql.explain, params)).rows[0]?.['QUERY PLAN'])
    if (estimate > estimateAbove) return { estimate: Math.round(shard === undefined ? estimate : estimate / shard.count) }
    if (shard === undefined) return Number((await db.query(sql.count, params)).rows[0]?.n)
    return Number((await shardQuery(db, sql.countShard, [...params, shard.count, shard.index - 1])).rows[0]?.n)
  }

  /** The first column's value of a composite key; undefined for what is not one (the generator says why). */
  const firstValue = (last: JobKey): unknown => {
    try {
      return decodeTuple(last, keys)[0]
    } catch {
      return undefined
    }
  }
  let bounds: ((last: bigint) => Promise<number | undefined>) | undefined
  const progress = async (last: JobKey, ctx?: SourceContext): Promise<number | undefined> => {
    const at = integerOf(composite ? firstValue(last) : last)
    if (at === undefined) return undefined
    bounds ??= keySpaceProgress(async (top) => {
      const db = await database(ctx?.args)
      const row = db === undefined ? undefined : (await db.query(top ? sql.top : sql.bounds, params)).rows[0]
      return { lo: row?.lo, hi: row?.hi }
    })
    return bounds(at)
  }

  return { ...source, getJobs, total, progress }
}
