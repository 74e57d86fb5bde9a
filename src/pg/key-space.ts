/**
 * Progress a table source can vouch for: where `last` stands between the lowest and the
 * highest value of its (first) integer key column. Both are index ends, so reading them
 * costs two index probes; the highest is read again at most every 30 s, since rows may be
 * added during the run.
 */

/** How often the highest key is read again. */
export const TOP_REFRESH_MS = 30_000

/** An integer from what pg returns for an integer column (int8 as digits), else undefined. */
export function integerOf(value: unknown): bigint | undefined {
  if (typeof value === 'bigint') return value
  if (typeof value === 'number') return Number.isSafeInteger(value) ? BigInt(value) : undefined
  if (typeof value === 'string') return /^-?\d{1,20}$/.test(value) ? BigInt(value) : undefined
  return undefined
}

/**
 * The fraction of the keys from `min` to `max` (both included) that are at or before
 * `last`, in [0, 1]: a `last` below the range is 0, one at or beyond its end is 1.
 */
export function keySpaceFraction(last: bigint, min: bigint, max: bigint): number {
  if (max < min) return last >= min ? 1 : 0
  const fraction = Number(last - min + 1n) / Number(max - min + 1n)
  return Math.min(1, Math.max(0, fraction))
}

/** Reads the bounds of the key column: `lo` and `hi` (`hi` only when `top`). */
export type ReadBounds = (top: boolean) => Promise<{ lo?: unknown; hi: unknown }>

/**
 * `progress(last)` over a key column: its lowest value read once, its highest at most every
 * `refreshMs`. undefined when the table is empty or the column holds no integers (asked
 * once: a text key is not asked again).
 */
export function keySpaceProgress(
  read: ReadBounds,
  refreshMs = TOP_REFRESH_MS,
  now: () => number = Date.now,
): (last: bigint) => Promise<number | undefined> {
  let min: bigint | undefined
  let max: bigint | undefined
  let readAt = -Infinity
  let integers = true
  let reading: Promise<void> | undefined

  const refresh = async (): Promise<void> => {
    const first = min === undefined
    const bounds = await read(!first)
    readAt = now()
    // NULL: no rows (yet), asked again after refreshMs.
    if (bounds.hi === null || bounds.hi === undefined || (first && (bounds.lo === null || bounds.lo === undefined))) return
    const lo = first ? integerOf(bounds.lo) : min
    const hi = integerOf(bounds.hi)
    if (lo === undefined || hi === undefined) integers = false
    else [min, max] = [lo, hi]
  }

  return async (last) => {
    if (!integers) return undefined
    if (now() - readAt >= refreshMs) {
      reading ??= refresh().finally(() => (reading = undefined))
      await reading
    }
    return min === undefined || max === undefined ? undefined : keySpaceFraction(last, min, max)
  }
}
