import { OptionError } from '../errors.js'
import type { GeneratorContext, JobKey, JobSource } from '../options.js'

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
 */
export function idRanges(options: IdRangesOptions): IdRangesSource {
  const min = toBig('min', options.min)
  const max = toBig('max', options.max)
  const width = toBig('width', options.width)
  if (width < 1n) throw new OptionError(`idRanges: width must be an integer >= 1, got ${String(options.width)}`, 'width')
  const big = typeof options.min === 'bigint' || typeof options.max === 'bigint'
  const out = big ? (value: bigint) => value : (value: bigint) => Number(value)

  function* getJobs(last: JobKey | undefined): Generator<IdRange> {
    let from = min
    if (last !== undefined) {
      const done = BigInt(last)
      // The range after the one holding `last`, even if `last` is not a range start.
      if (done >= min) from = min + ((done - min) / width + 1n) * width
    }
    for (; from <= max; from += width) {
      const to = from + width - 1n
      yield { from: out(from), to: out(to < max ? to : max) }
    }
  }

  return {
    getJobs,
    key: (range) => range.from,
    total: max < min ? 0 : Number((max - min) / width + 1n),
  }
}
