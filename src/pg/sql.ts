/**
 * The statements of pgTable, built once from its options: pure text, no database. Values
 * always travel as parameters, in one order: the `where` clause's own (`$1`...`$n`), the
 * page's limit, the key after which the page starts (one per key column), then the shard's
 * count and index.
 */

/** An identifier, quoted: `"a""b"` for `a"b`. */
export function quote(name: string): string {
  return `"${name.replaceAll('"', '""')}"`
}

/** What the statements are made of. */
export interface TableSpec {
  /** The table, schema-qualified or not, as given (`app.users`): each part is quoted. */
  table: string
  /** The key columns, in order: one, or several for a composite key. */
  keys: readonly string[]
  /** What each row selects, quoted already (`*`, or `"id", "email"`). */
  select: string
  /** The user's filter, SQL as written (`$1`... for its parameters); empty for none. */
  where: string
  /** How many parameters `where` has. */
  params: number
}

/** The four page statements, each with its parameters. */
export interface PageQueries {
  /** The first page: `[...params, limit]`. */
  first: string
  /** A page after a key: `[...params, limit, ...key]`. */
  next: string
  /** The first page of a shard: `[...params, limit, count, index - 1]`. */
  firstShard: string
  /** A shard's page after a key: `[...params, limit, ...key, count, index - 1]`. */
  nextShard: string
}

/** Every statement of a table source. */
export interface TableQueries extends PageQueries {
  /**
   * The same pages of the (first) key column alone, as one row: `keys`, the page's keys as
   * text joined by commas in key order (`2,4,6`), NULL for an empty page. For a walk that
   * selects only an integer key: one row to parse instead of a row per key.
   */
  keys: PageQueries
  /** The planner's estimate of the rows: `[...params]`. */
  explain: string
  /** The rows, counted: `[...params]`. */
  count: string
  /** A shard's rows, counted: `[...params, count, index - 1]`. */
  countShard: string
  /** The lowest and highest value of the first key column (`lo`, `hi`): `[...params]`. */
  bounds: string
  /** The highest value of the first key column (`hi`): `[...params]`. */
  top: string
}

/**
 * The statements of a keyset walk over `spec.table`. One key column pages by
 * `WHERE id > $k ORDER BY id`; several by a row comparison,
 * `WHERE (tenant_id, id) > ($k, $k+1) ORDER BY tenant_id, id`, which a composite index on
 * those columns serves as one range. A shard keeps the rows whose first key column mod n
 * is i - 1 (a non-negative mod, as keyset checks it).
 */
export function tableQueries(spec: TableSpec): TableQueries {
  const table = spec.table.split('.').map(quote).join('.')
  const keys = spec.keys.map(quote)
  const n = spec.params
  const order = keys.join(', ')
  const filter = spec.where === '' ? '' : `(${spec.where})`
  const after = (p: number): string =>
    keys.length === 1 ? `${keys[0]} > $${p}` : `(${order}) > (${keys.map((_, i) => `$${p + i}`).join(', ')})`
  const inShard = (p: number): string => `((${keys[0]} % $${p}) + $${p}) % $${p} = $${p + 1}`
  /** The rows matching the filter and `conditions`. */
  const from = (...conditions: string[]): string => {
    const all = filter === '' ? conditions : [filter, ...conditions]
    return `FROM ${table}${all.length === 0 ? '' : ` WHERE ${all.join(' AND ')}`}`
  }
  const pages = (select: string, wrap = (page: string): string => page): PageQueries => {
    const page = (...conditions: string[]): string => wrap(`SELECT ${select} ${from(...conditions)} ORDER BY ${order} LIMIT $${n + 1}`)
    return {
      first: page(),
      next: page(after(n + 2)),
      firstShard: page(inShard(n + 2)),
      nextShard: page(after(n + 2), inShard(n + 2 + keys.length)),
    }
  }
  const key = keys[0]
  return {
    ...pages(spec.select),
    keys: pages(key, (page) => `SELECT string_agg(${key}::text, ',' ORDER BY ${key}) AS keys FROM (${page}) AS page`),
    explain: `EXPLAIN (FORMAT JSON) SELECT 1 ${from()}`,
    count: `SELECT count(*) AS n ${from()}`,
    countShard: `SELECT count(*) AS n ${from(inShard(n + 1))}`,
    bounds: `SELECT min(${keys[0]}) AS lo, max(${keys[0]}) AS hi ${from()}`,
    top: `SELECT max(${keys[0]}) AS hi ${from()}`,
  }
}
