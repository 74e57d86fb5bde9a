/**
 * Runs of consecutive sequence numbers, as a flat array of `[first, count]` pairs:
 * `[4, 3, 9, 1]` is seqs 4, 5, 6 and 9. Jobs finish mostly in order, so a batch of a
 * thousand acks is a pair or two instead of a thousand numbers to encode, decode,
 * check and journal.
 */
export type Ranges = number[]

/** Appends `seq`, extending the last run when `seq` follows it. */
export function appendSeq(ranges: Ranges, seq: number): void {
  appendRange(ranges, seq, 1)
}

/** Appends the run `[first, first + count)`, merging it into the last run when it follows it. */
export function appendRange(ranges: Ranges, first: number, count: number): void {
  const n = ranges.length
  if (n > 0 && ranges[n - 2] + ranges[n - 1] === first) ranges[n - 1] = ranges[n - 1] + count
  else ranges.push(first, count)
}

/** The ranges of a list of seqs, in their order. */
export function rangesOf(seqs: readonly number[]): Ranges {
  const ranges: Ranges = []
  for (const seq of seqs) appendSeq(ranges, seq)
  return ranges
}

/** Every seq of `ranges`, in order. */
export function seqsOfRanges(ranges: readonly number[]): number[] {
  const seqs: number[] = []
  for (let r = 0; r + 1 < ranges.length; r += 2) for (let seq = ranges[r], end = seq + ranges[r + 1]; seq < end; seq++) seqs.push(seq)
  return seqs
}

/** How many seqs `ranges` holds. */
export function countOf(ranges: readonly number[]): number {
  let n = 0
  for (let r = 1; r < ranges.length; r += 2) n += ranges[r]
  return n
}
