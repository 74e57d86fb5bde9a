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

/** A table's name, schema-qualified or not (`app.users`), each part quoted: `"app"."users"`. */
export function qualified(table: string): string {
  return table.split('.').map(quote).join('.')
}

/**
 * Whether the key columns are unique: what kind of relation `$1` (its quoted name) is, and
 * whether a unique index of it (not partial, on columns, not expressions) holds only
 * columns of `$2` (the key columns), so that no two rows share a key and keyset paging
 * skips none. No row: there is no such relation.
 */
export const UNIQUE_KEY = `SELECT c.relkind::text AS kind, EXISTS (
  SELECT 1 FROM pg_index i WHERE i.indrelid = c.oid AND i.indisunique AND i.indpred IS NULL AND i.indexprs IS NULL
  AND NOT EXISTS (SELECT 1 FROM unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, n) WHERE k.n <= i.indnkeyatts
    AND k.attnum NOT IN (SELECT a.attnum FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attname = ANY($2::text[])))
) AS "unique" FROM pg_class c WHERE c.oid = to_regclass($1)`

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
  /** The planner's estimate of the rows at or before a key: `[...params, ...key]`. */
  explainAtOrBefore: string
  /**
   * The highest bound of the first key column's histogram in the planner's statistics
   * (`top`, text; no row without them): `[table, column]`, the table as {@link TableQueries.table}.
   */
  histogramTop: string
  /** The table, each part quoted: what `to_regclass` reads. */
  table: string
}

/**
 * The statements of a keyset walk over `spec.table`. One key column pages by
 * `WHERE id > $k ORDER BY id`; several by a row comparison,
 * `WHERE (tenant_id, id) > ($k, $k+1) ORDER BY tenant_id, id`, which a composite index on
 * those columns serves as one range. A shard keeps the rows whose first key column mod n
 * is i - 1 (a non-negative mod, as keyset checks it).
 */
export function tableQueries(spec: TableSpec): TableQueries {
  const table = qualified(spec.table)
  const keys = spec.keys.map(quote)
  const n = spec.params
  const order = keys.join(', ')
  const filter = spec.where === '' ? '' : `(${spec.where})`
  const after = (p: number): string =>
    keys.length === 1 ? `${keys[0]} > $${p}` : `(${order}) > (${keys.map((_, i) => `$${p + i}`).join(', ')})`
  // (a, b) <= ($p, $p+1) spelled out, since the planner estimates a row comparison by its
  // first column alone: a < $p OR (a = $p AND b <= $p+1).
  const atOrBefore = (p: number, i = 0): string =>
    i === keys.length - 1 ? `${keys[i]} <= $${p + i}` : `(${keys[i]} < $${p + i} OR (${keys[i]} = $${p + i} AND ${atOrBefore(p, i + 1)}))`
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
    explainAtOrBefore: `EXPLAIN (FORMAT JSON) SELECT 1 ${from(atOrBefore(n + 1))}`,
    histogramTop:
      'SELECT (s.histogram_bounds::text::text[])[array_upper(s.histogram_bounds::text::text[], 1)] AS top FROM pg_stats s ' +
      'JOIN pg_class c ON c.relname = s.tablename JOIN pg_namespace ns ON ns.oid = c.relnamespace AND ns.nspname = s.schemaname ' +
      'WHERE c.oid = to_regclass($1) AND s.attname = $2 AND s.histogram_bounds IS NOT NULL',
    table,
  }
}
