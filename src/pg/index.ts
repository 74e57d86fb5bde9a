/**
 * `taskmaster-run/pg`: a job source over a PostgreSQL table, and `exactlyOnce`, a batch
 * handler's writes to PostgreSQL made exactly once (exactly-once.ts). It calls `db.query(text,
 * values)` of the user's own pg Client or Pool, or of a pool it makes from a connection
 * string found in the run's arguments (importing pg only then), so pg stays an optional
 * peer dependency.
 */
import { JobSourceError, OptionError } from '../errors.js'
import type { GeneratorContext, JobKey, PagedGenerator, SourceContext } from '../options.js'
import { keyset } from '../sources/keyset.js'
import type { KeysetSource, KeyType } from '../sources/keyset.js'
import type { Shard } from '../shard.js'
import { conditionProblem } from './condition.js'
import { checkDb, PgConnection, pgMessage } from './connection.js'
import type { PgDb, PgQueryable } from './connection.js'
import { integerOf, keySpaceProgress } from './key-space.js'
import { reading } from './reading.js'
import { UNIQUE_KEY, qualified, quote, tableQueries } from './sql.js'
import type { PageQueries } from './sql.js'
import { INT8_OID, joinedKeys, rowsOf } from './joined-page.js'
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
   * The fraction of the rows at or before `last`: the planner's estimate of them over its
   * estimate of all rows when its statistics cover the key space, else where `last` stands
   * between the lowest and the highest value of the (first) key column. undefined for a key
   * that is not an integer.
   */
  progress: (last: JobKey, ctx?: SourceContext) => Promise<number | undefined>
  /**
   * Checks, before the first job, what a run would otherwise find out on its first page or
   * never: the database (given, and reachable), the table, the key and other columns and
   * the where clause (a page of no rows is read), a shard's integer key column, and that a
   * unique index holds the key (rows sharing a key would be skipped). Throws one line.
   */
  check: (ctx?: SourceContext) => Promise<void>
}

/** The planner's statistics are used when their histogram reaches this far into the key space. */
const STATISTICS_COVER = 0.9

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
  if (options.where !== undefined) {
    const problem = typeof options.where === 'string' ? conditionProblem(options.where) : 'it is not a string'
    if (problem !== undefined)
      throw new OptionError(`pgTable: where must be one SQL condition: ${problem}: ${String(options.where)}`, 'where')
  }
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
  // A walk that selects only its integer key column reads each later page as one row of
  // its keys joined by commas (sql.keys), made back into the rows the first page had:
  // pg parses one message a page instead of one a row (a third of the master's CPU).
  // Decided from the first page: the column's type, and what pg made of it (a string for
  // int8, a number for int2 and int4, as pg's default parsers do; anything else, such as a
  // parser of the user's, keeps to plain pages).
  let joined: ((text: string) => unknown) | undefined
  // (`__proto__` as a column name is left to pg, which sets it as an own property.)
  let decide = !composite && list.length === 1 && list[0] === first && first !== '__proto__'

  const query = (db: PgQueryable, pages: PageQueries, after: JobKey | undefined, limit: number, shard?: Shard) => {
    const from = after === undefined ? [] : composite ? decodeTuple(after, keys) : [typeof after === 'bigint' ? after.toString() : after]
    const values = [...params, limit, ...from]
    return shard === undefined
      ? db.query(after === undefined ? pages.first : pages.next, values)
      : shardQuery(db, after === undefined ? pages.firstShard : pages.nextShard, [...values, shard.count, shard.index - 1])
  }

  /**
   * A page of rows after `after` (of the shard), as pg gives them: the key's type read from
   * the first one's columns unless the caller chose, and whether later pages can be joined.
   */
  const page = async (db: PgQueryable, after: JobKey | undefined, limit: number, shard?: Shard): ReturnType<PgQueryable['query']> => {
    const result = await query(db, sql, after, limit, shard)
    const type = result.fields?.find((field) => field.name === first)?.dataTypeID
    if (detect && result.fields !== undefined) {
      bigintKeys = type === INT8_OID
      detect = false
    }
    if (decide && result.rows.length > 0) {
      joined = joinedKeys(type, result.rows[0]?.[first])
      decide = false
    }
    return result
  }

  const fetchPage = (after: JobKey | undefined, limit: number, shard?: Shard): Promise<Record<string, unknown>[]> =>
    reading(table, async () => {
      const db = await connection.get(args)
      if (joined !== undefined) {
        const text = (await query(db, sql.keys, after, limit, shard)).rows[0]?.keys
        return typeof text === 'string' ? rowsOf(text, first, joined) : []
      }
      return (await page(db, after, limit, shard)).rows
    })

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
  const getJobs = (last: JobKey | undefined, ctx?: GeneratorContext): PagedGenerator<Record<string, unknown>> => {
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
    return reading(table, () => count(db, ctx?.shard))
  }

  const count = async (db: PgQueryable, shard: Shard | undefined): Promise<number | { estimate: number }> => {
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

  /**
   * The planner's fraction of the rows at or before `last` (its histogram knows where the
   * keys are dense and where sparse), when its statistics cover the key space: a histogram
   * whose top is short of the highest key was made before the rows above it came.
   */
  const plannedFraction = async (db: PgQueryable, last: JobKey): Promise<number | undefined> => {
    const top = integerOf((await db.query(sql.histogramTop, [sql.table, first])).rows[0]?.top)
    if (top === undefined || ((await bounds?.(top)) ?? 0) < STATISTICS_COVER) return undefined
    const key = composite ? decodeTuple(last, keys) : [typeof last === 'bigint' ? last.toString() : last]
    const before = planRows((await db.query(sql.explainAtOrBefore, [...params, ...key])).rows[0]?.['QUERY PLAN'])
    const all = planRows((await db.query(sql.explain, params)).rows[0]?.['QUERY PLAN'])
    return all > 0 && Number.isFinite(before) ? Math.min(1, Math.max(0, before / all)) : undefined
  }

  const progress = async (last: JobKey, ctx?: SourceContext): Promise<number | undefined> => {
    const at = integerOf(composite ? firstValue(last) : last)
    if (at === undefined) return undefined
    bounds ??= keySpaceProgress(async (top) => {
      const db = await database(ctx?.args)
      const row = db === undefined ? undefined : (await db.query(top ? sql.top : sql.bounds, params)).rows[0]
      return { lo: row?.lo, hi: row?.hi }
    })
    // Where the key stands between the lowest and the highest key: true of keys spread
    // evenly, and the guide when the planner has no statistics of the column.
    const even = await bounds(at)
    const db = even === undefined ? undefined : await database(ctx?.args)
    return (db === undefined ? undefined : await plannedFraction(db, last)) ?? even
  }

  const check = async (ctx?: SourceContext): Promise<void> => {
    args = ctx?.args
    const db = await connection.get(args)
    try {
      await db.query('SELECT 1')
    } catch (error) {
      throw new JobSourceError(`pgTable: cannot connect to ${connection.shown}: ${pgMessage(error)}`)
    }
    try {
      await page(db, undefined, 0, ctx?.shard)
    } catch (error) {
      if (error instanceof JobSourceError) throw error
      throw new JobSourceError(`pgTable: cannot read table ${table}: ${pgMessage(error)}`)
    }
    const found = (await db.query(UNIQUE_KEY, [qualified(table), keys])).rows[0]
    // A view (or another relation without indexes of its own) is taken on trust.
    if (found !== undefined && (found.kind === 'r' || found.kind === 'p') && found.unique !== true)
      throw new JobSourceError(
        `pgTable: no unique index of table ${table} holds only its key (${keys.join(', ')}): rows sharing a key would be skipped; key it by its primary key or other unique NOT NULL columns`,
      )
  }

  return { ...source, getJobs, total, progress, check }
}
