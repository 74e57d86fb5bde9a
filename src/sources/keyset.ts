import { JobSourceError, OptionError } from '../errors.js'
import type { GeneratorContext, JobKey, JobSource, PagedGenerator } from '../options.js'
import type { Shard } from '../shard.js'
import { inShard } from '../shard.js'

/** How keyset converts each key and `last`: pg returns int8 columns as strings, for example. */
export type KeyType = 'number' | 'bigint' | 'string'

/** Options of {@link keyset}. */
export interface KeysetOptions<Row> {
  /**
   * Returns up to `limit` rows whose key is strictly greater than `after` (every row when
   * `after` is undefined), in ascending key order: `WHERE id > $1 ORDER BY id LIMIT $2`.
   * Sync or async. An empty page ends the source.
   *
   * Sharded (`--shard i/n`), `shard` is given: the source keeps only the rows whose key
   * mod n is i - 1, so a fetchPage that ignores it is correct but reads every row; one that
   * filters in the query (`AND id % $3 = $4`, with `shard.count` and `shard.index - 1`)
   * reads only its own rows. Only an empty page ends the source, so a filtered page may be short.
   */
  fetchPage: (after: JobKey | undefined, limit: number, shard?: Shard) => readonly Row[] | Promise<readonly Row[]>
  /** Reads a row's key. @default row => row.id */
  key?: (row: Row) => unknown
  /**
   * Converts every key (and `last` on resume) to this type, so that resuming and ordering
   * are numeric: `'bigint'` for pg's int8 ids that arrive as strings. @default keys as read
   */
  keyType?: KeyType
  /** Rows per page. @default 1000 */
  pageSize?: number
  /** Passed through as the source's `total`, for the progress bar. @default undefined */
  total?: JobSource['total']
  /**
   * The integer a row is sharded by (`--shard i/n` keeps the rows where it mod n is i - 1):
   * for a composite key, its first column. @default the row's key
   */
  shardKey?: (row: Row) => unknown
  /** Called when the generator ends, fails or is stopped (a pool to end). @default undefined */
  close?: () => unknown
}

/** A {@link JobSource} whose `key` is always set, and whose generator is read by pages too. */
export interface KeysetSource<Row> extends JobSource {
  getJobs: (last: JobKey | undefined, ctx?: GeneratorContext) => PagedGenerator<Row>
  key: (row: Row) => JobKey
}

/** A key a shard can be computed of: an integer. */
function shardableKey(k: unknown): number | bigint {
  if (typeof k === 'bigint' || Number.isSafeInteger(k)) return k as number | bigint
  throw new JobSourceError(
    `keyset: a sharded run (--shard) needs integer keys (shard i of n takes the keys whose value mod n is i - 1), got key ${typeof k === 'bigint' ? String(k) : JSON.stringify(k)}`,
  )
}

const CONVERT: Record<KeyType, (value: unknown) => JobKey> = {
  number: (value) => Number(value),
  bigint: (value) => BigInt(value as string | number | bigint),
  string: (value) => String(value),
}

const idOf = (row: unknown): unknown => (row as { id?: unknown } | null)?.id

function usable(value: unknown): value is JobKey {
  const t = typeof value
  return t === 'string' || t === 'bigint' || (t === 'number' && Number.isFinite(value))
}

/**
 * A job source over any source ordered by a unique key, fetched a page at a time by key
 * (keyset pagination): never OFFSET, which rereads every skipped row and skips or repeats
 * rows when the table changes. On resume the first page starts strictly after `last`.
 *
 * ```ts
 * export const { getJobs, key } = keyset({
 *   fetchPage: (after, limit) => db.prepare('SELECT * FROM t WHERE id > ? ORDER BY id LIMIT ?').all(after ?? 0, limit),
 * })
 * ```
 * Number and bigint keys must come in strictly ascending order (a page that goes back is
 * refused rather than looping); string keys are only checked not to repeat, since the
 * database's collation, not JavaScript's, orders them.
 *
 * Sharded (`ctx.shard`), shard i of n takes the rows whose integer key mod n is i - 1:
 * stable whatever rows are added or removed (unlike slices of [min, max] taken when the run
 * starts), and balanced on dense ids. String keys cannot be sharded this way (an error says so).
 */
export function keyset<Row = unknown>(options: KeysetOptions<Row>): KeysetSource<Row> {
  const { fetchPage, total, shardKey, close } = options
  if (typeof fetchPage !== 'function') throw new OptionError('keyset: fetchPage must be a function (after, limit) => rows', 'fetchPage')
  const pageSize = options.pageSize ?? 1000
  if (!Number.isSafeInteger(pageSize) || pageSize < 1)
    throw new OptionError(`keyset: pageSize must be an integer >= 1, got ${String(pageSize)}`, 'pageSize')
  const read = options.key ?? idOf
  const convert = options.keyType === undefined ? undefined : CONVERT[options.keyType]
  if (options.keyType !== undefined && convert === undefined)
    throw new OptionError(`keyset: keyType must be 'number', 'bigint' or 'string', got ${String(options.keyType)}`, 'keyType')

  const key = (row: Row): JobKey => {
    const raw = read(row)
    if (!usable(raw))
      throw new JobSourceError(
        `keyset: a row has no usable key (got ${String(raw)}); give keyset a key(row) function or select the id column`,
      )
    return convert === undefined ? raw : convert(raw)
  }

  /** The walk's pages (of the shard's rows), each key checked to follow the one before; closes at the end. */
  async function* pages(last: JobKey | undefined, ctx?: GeneratorContext): AsyncGenerator<readonly Row[]> {
    let after = last === undefined || convert === undefined ? last : convert(last)
    const shard = ctx?.shard
    try {
      for (;;) {
        const page = await (shard === undefined ? fetchPage(after, pageSize) : fetchPage(after, pageSize, { ...shard }))
        if (page.length === 0) return
        const kept: Row[] | undefined = shard === undefined ? undefined : []
        for (const row of page) {
          const k = key(row)
          if (after !== undefined && (typeof k === 'string' ? k === after : !(k > (after as number | bigint)))) {
            throw new JobSourceError(
              `keyset: fetchPage returned key ${String(k)} after key ${String(after)}; a page must hold keys strictly greater than \`after\`, in ascending order (ORDER BY the key)`,
            )
          }
          after = k
          if (kept !== undefined && inShard(shardableKey(shardKey === undefined ? k : shardKey(row)), shard!)) kept.push(row)
        }
        yield kept ?? page
      }
    } finally {
      // Closing is tidying up: a failure of it must not hide how the generator ended.
      try {
        await close?.()
      } catch {
        // Nothing to add to the run's end.
      }
    }
  }

  /** The rows one at a time, or a page at a time by `nextPage()` (the master's way). */
  function getJobs(last: JobKey | undefined, ctx?: GeneratorContext): PagedGenerator<Row> {
    const paged = pages(last, ctx)
    async function* rows(): AsyncGenerator<Row> {
      for await (const page of paged) for (const row of page) yield row
    }
    const generator = rows() as PagedGenerator<Row>
    generator.nextPage = async () => {
      const next = await paged.next()
      return next.done === true ? undefined : next.value
    }
    // A generator read by pages never started `rows`, whose return() would then not reach
    // the pages (nor close the source): end them first.
    const end = generator.return.bind(generator)
    generator.return = async (value) => {
      await paged.return(undefined)
      return end(value)
    }
    return generator
  }

  const source: KeysetSource<Row> = { getJobs, key }
  if (total !== undefined) source.total = total
  return source
}
