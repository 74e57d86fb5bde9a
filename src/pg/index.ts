/**
 * `taskmaster-run/pg`: a job source over a PostgreSQL table. It only calls the user's own
 * `db.query(text, values)` (a pg Client or Pool), so pg stays an optional peer dependency
 * and nothing here imports it.
 */
import { OptionError } from '../errors.js'
import type { JobKey } from '../options.js'
import { keyset } from '../sources/keyset.js'
import type { KeysetSource, KeyType } from '../sources/keyset.js'
import type { Shard } from '../shard.js'

/** What pgTable needs of a pg Client or Pool. */
export interface PgQueryable {
  query: (text: string, values?: unknown[]) => Promise<{ rows: Record<string, unknown>[]; fields?: { name: string; dataTypeID: number }[] }>
}

/** Options of {@link pgTable}. */
export interface PgTableOptions {
  /** A pg Client or Pool (anything with `query(text, values)`). */
  db: PgQueryable
  /** The table, optionally schema-qualified (`'public.users'`); each part is quoted. */
  table: string
  /** The unique, indexed key column the rows are paged by. @default 'id' */
  key?: string
  /** Columns of each job; the key column is added when missing. @default ['*'] */
  columns?: string[]
  /** A filter ANDed to every page's condition, SQL as written, with `$1`... for `params`. @default undefined */
  where?: string
  /** Values of the `where` clause's `$1`, `$2`... @default [] */
  params?: unknown[]
  /** Rows per query. @default 1000 */
  pageSize?: number
  /** Type of the keys. @default 'bigint' for an int8 key column (pg returns it as a string), else the keys as pg returns them */
  keyType?: KeyType
  /** Above this many rows by the planner's estimate, total() returns the estimate instead of counting. @default 100000 */
  estimateAbove?: number
}

/** A job source over a table, with `total()`. */
export interface PgTableSource extends KeysetSource<Record<string, unknown>> {
  total: (ctx?: unknown) => Promise<number>
}

/** pg's type id of int8 (bigint, bigserial). */
const INT8_OID = 20

/** An identifier, quoted: `"a""b"` for `a"b`. */
function quote(name: string): string {
  return `"${name.replaceAll('"', '""')}"`
}

function identifier(option: string, name: unknown): string {
  if (typeof name !== 'string' || name.length === 0) throw new OptionError(`pgTable: ${option} must be a non-empty string, got ${String(name)}`, option)
  return name
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
 * every digit and `last` goes back to PostgreSQL as the exact id. Sharded (`--shard i/n`),
 * the query keeps the rows whose integer key mod n is i - 1 (`WHERE (id % n) = i - 1`):
 * n masters share the table without overlap, whatever rows come and go during the run.
 *
 * ```ts
 * import { pgTable } from 'taskmaster-run/pg'
 * export const { getJobs, key, total } = pgTable({ db: pool, table: 'users', where: 'active' })
 * ```
 */
export function pgTable(options: PgTableOptions): PgTableSource {
  const { db, where } = options
  if (typeof db?.query !== 'function') throw new OptionError('pgTable: db must be a pg Client or Pool (anything with query(text, values))', 'db')
  const table = identifier('table', options.table).split('.').map(quote).join('.')
  const keyName = identifier('key', options.key ?? 'id')
  const key = quote(keyName)
  const columns = options.columns ?? ['*']
  if (!Array.isArray(columns) || columns.length === 0) throw new OptionError('pgTable: columns must be a non-empty array of column names', 'columns')
  const list = columns.includes('*') || columns.includes(keyName) ? columns : [...columns, keyName]
  const select = list.map((name) => (name === '*' ? '*' : quote(identifier('columns', name)))).join(', ')
  const params = options.params ?? []
  const estimateAbove = options.estimateAbove ?? 100_000
  const filter = where === undefined || where === '' ? '' : `(${where})`
  const n = params.length

  const first = `SELECT ${select} FROM ${table}${filter ? ` WHERE ${filter}` : ''} ORDER BY ${key} LIMIT $${n + 1}`
  const next = `SELECT ${select} FROM ${table} WHERE ${filter ? `${filter} AND ` : ''}${key} > $${n + 2} ORDER BY ${key} LIMIT $${n + 1}`
  // Sharded (--shard i/n): the shard's rows only, key mod n = i - 1 (a non-negative mod, as
  // keyset checks it), so each master reads only its own rows.
  const inShard = (p: number): string => `((${key} % $${p}) + $${p}) % $${p} = $${p + 1}`
  const firstShard = `SELECT ${select} FROM ${table} WHERE ${filter ? `${filter} AND ` : ''}${inShard(n + 2)} ORDER BY ${key} LIMIT $${n + 1}`
  const nextShard = `SELECT ${select} FROM ${table} WHERE ${filter ? `${filter} AND ` : ''}${key} > $${n + 2} AND ${inShard(n + 3)} ORDER BY ${key} LIMIT $${n + 1}`

  // Decided from the first page's column types unless the caller chose.
  let bigintKeys = options.keyType === 'bigint'
  let detect = options.keyType === undefined

  const fetchPage = async (after: JobKey | undefined, limit: number, shard?: Shard): Promise<Record<string, unknown>[]> => {
    const from = after === undefined ? [] : [typeof after === 'bigint' ? after.toString() : after]
    const result =
      shard === undefined
        ? await db.query(after === undefined ? first : next, [...params, limit, ...from])
        : await db.query(after === undefined ? firstShard : nextShard, [...params, limit, ...from, shard.count, shard.index - 1])
    if (detect && result.fields !== undefined) {
      bigintKeys = result.fields.find((field) => field.name === keyName)?.dataTypeID === INT8_OID
      detect = false
    }
    return result.rows
  }

  const source = keyset<Record<string, unknown>>({
    fetchPage,
    key: (row) => {
      const value = row[keyName]
      return bigintKeys && typeof value === 'string' ? BigInt(value) : value
    },
    keyType: options.keyType,
    pageSize: options.pageSize,
  })

  const from = `FROM ${table}${filter ? ` WHERE ${filter}` : ''}`
  const total = async (ctx?: unknown): Promise<number> => {
    const shard = (ctx as { shard?: Shard } | undefined)?.shard
    // The planner's estimate (pg_class.reltuples scaled to the table's size, and the
    // filter's selectivity) costs nothing; count(*) reads the whole table, so it is kept
    // for tables small enough that an exact number is cheap. A shard holds about 1/n of it.
    const estimate = planRows((await db.query(`EXPLAIN (FORMAT JSON) SELECT 1 ${from}`, params)).rows[0]?.['QUERY PLAN'])
    if (estimate > estimateAbove) return Math.round(shard === undefined ? estimate : estimate / shard.count)
    if (shard === undefined) return Number((await db.query(`SELECT count(*) AS n ${from}`, params)).rows[0]?.n)
    const own = `${filter ? `${from} AND` : `FROM ${table} WHERE`} ${inShard(n + 1)}`
    return Number((await db.query(`SELECT count(*) AS n ${own}`, [...params, shard.count, shard.index - 1])).rows[0]?.n)
  }

  return { ...source, total }
}
