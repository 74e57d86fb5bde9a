import { OptionError } from '../errors.js'
import type { GeneratorContext, JobKey, JobSource } from '../options.js'
import { shardSlice } from '../shard.js'

/** A range of ids, both ends included: `WHERE id BETWEEN from AND to`. */
export interface IdRange<Id extends number | bigint = number | bigint> {
  from: Id
  to: Id
}

/** Options of {@link idRanges}. */
export interface IdRangesOptions {
  /** First id (included). A bigint makes every range bigint. */
  min: number | bigint
  /** Last id (included). A bigint makes every range bigint. */
  max: number | bigint
  /** Ids per range (the last range may hold fewer). */
  width: number | bigint
}

/** A {@link JobSource} of id ranges, with `key` and `total` set. */
export interface IdRangesSource extends JobSource {
  getJobs: (last: JobKey | undefined, ctx?: GeneratorContext) => Generator<IdRange>
  key: (range: IdRange) => JobKey
  total: number
}

function toBig(name: string, value: number | bigint): bigint {
  if (typeof value === 'bigint') return value
  if (!Number.isSafeInteger(value)) throw new OptionError(`idRanges: ${name} must be an integer or a bigint, got ${String(value)}`, name)
  return BigInt(value)
}

/**
 * Jobs `{ from, to }` (both included) of `width` ids each, from `min` to `max`, for a
 * handler that works on a whole range at once (`UPDATE ... WHERE id BETWEEN $1 AND $2`).
 * A range's key is its `from`; on resume the ranges start with the one after `last`.
 * Ranges follow ids, not rows: where ids have gaps, some ranges hold fewer rows.
 * Bounds are bigints when `min` or `max` is one (ids beyond 2^53), else numbers.
 *
 * Sharded (`ctx.shard`, `--shard i/n`), a master yields a contiguous slice of the ranges:
 * the ranges are numbered from 0 and shard i of n takes numbers `[R(i-1)/n, Ri/n)` of R,
 * so the shards cover every range exactly once, each walks its own part of the ids, and
 * the slices only depend on min, max and width (never on the table's current content).
 * `total` stays the count of all ranges.
 */
export function idRanges(options: IdRangesOptions): IdRangesSource {
  const min = toBig('min', options.min)
  const max = toBig('max', options.max)
  const width = toBig('width', options.width)
  if (width < 1n) throw new OptionError(`idRanges: width must be an integer >= 1, got ${String(options.width)}`, 'width')
  const big = typeof options.min === 'bigint' || typeof options.max === 'bigint'
  const out = big ? (value: bigint) => value : (value: bigint) => Number(value)

  const count = max < min ? 0n : (max - min) / width + 1n

  function* getJobs(last: JobKey | undefined, ctx?: GeneratorContext): Generator<IdRange> {
    let from = min
    let end = max
    if (ctx?.shard !== undefined) {
      const slice = shardSlice(count, ctx.shard)
      from = min + slice.from * width
      // The last id of the slice's last range (the whole span's end for the last shard).
      const sliceEnd = min + slice.to * width - 1n
      end = sliceEnd < max ? sliceEnd : max
    }
    if (last !== undefined) {
      const done = BigInt(last)
      // The range after the one holding `last`, even if `last` is not a range start.
      const after = min + ((done - min) / width + 1n) * width
      if (done >= min && after > from) from = after
    }
    for (; from <= end; from += width) {
      const to = from + width - 1n
      yield { from: out(from), to: out(to < max ? to : max) }
    }
  }

  return {
    getJobs,
    key: (range) => range.from,
    total: Number(count),
  }
}
