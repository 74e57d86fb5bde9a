/** How a column merges two neighbouring points: the mean over their samples (a gauge), or the later point's value (a counter). */
export type Merge = 'mean' | 'last'

/** The size of a {@link TieredSeries}: its two tiers, and how many samples a recent point holds. */
export interface SeriesShape {
  /** Points kept as they are (the recent tier). */
  recent: number
  /** Older points kept merged in buckets before neighbours merge in pairs (made even, at least 2). */
  older: number
  /** Samples a recent point holds: 1 keeps every sample, 5 the mean of five. @default 1 */
  base?: number
}

/** One point of a series: when its last sample was taken (ms), the samples it stands for, its values by column. */
export interface SeriesPoint {
  at: number
  samples: number
  values: number[]
}

/** A row's two first fields: its time and its samples; the values follow. */
const AT = 0
const SAMPLES = 1
const HEAD = 2

/**
 * A time series in a fixed amount of memory, whatever its length: one Float64Array
 * allocated at the start, {@link bytes} long. The last `recent` points are kept as they are
 * (each the mean of `base` samples); older ones are merged into buckets of equal width (in
 * samples). When `older` buckets are full, neighbours merge in pairs and the width doubles,
 * so the series keeps its whole span, from its first sample (in its first bucket) to its
 * last, ever coarser in its older part: a week of one-second samples in 600 + 1,200 points
 * keeps its oldest part at 512 seconds a point.
 *
 * Rows: the older buckets from row 0, the bucket being filled from the oldest recent points
 * after them, then the recent points as a ring.
 */
export class TieredSeries {
  readonly #merges: readonly Merge[]
  readonly #stride: number
  readonly #recentCap: number
  readonly #olderCap: number
  readonly #base: number
  readonly #rows: Float64Array
  #older = 0
  #filling = false
  /** Ring of the recent points: the oldest's index in the ring, and how many there are. */
  #head = 0
  #recent = 0
  /** Samples an older bucket holds. */
  #width: number

  /** @param merges how each value column merges */
  constructor(merges: readonly Merge[], shape: SeriesShape) {
    this.#merges = merges
    this.#stride = HEAD + merges.length
    this.#recentCap = Math.max(1, Math.floor(shape.recent))
    const older = Math.max(2, Math.floor(shape.older))
    this.#olderCap = older + (older % 2)
    this.#base = Math.max(1, Math.floor(shape.base ?? 1))
    this.#width = this.#base
    this.#rows = new Float64Array((this.#olderCap + 1 + this.#recentCap) * this.#stride)
  }

  /** Bytes the series holds, whatever its length. */
  get bytes(): number {
    return this.#rows.byteLength
  }

  /** Samples each older bucket holds now (`base` until the older buckets first fill). */
  get width(): number {
    return this.#width
  }

  /** True before the first sample. */
  get empty(): boolean {
    return this.#recent === 0
  }

  /** Forgets every point: the series is as new, its memory kept. */
  clear(): void {
    this.#older = 0
    this.#filling = false
    this.#head = 0
    this.#recent = 0
    this.#width = this.#base
  }

  /**
   * Adds a sample of `at` (ms): merged into the newest point while it holds fewer than `base`
   * samples, else a new point. A sample not after the newest point's replaces its values
   * (time never goes back).
   */
  record(at: number, values: readonly number[]): void {
    const rows = this.#rows
    if (this.#recent > 0) {
      const last = this.#recentRow(this.#recent - 1)
      if (at <= rows[last + AT]) {
        for (let i = 0; i < this.#merges.length; i++) rows[last + HEAD + i] = values[i]
        return
      }
      if (rows[last + SAMPLES] < this.#base) {
        this.#mergeInto(last, at, 1, values)
        return
      }
    }
    if (this.#recent === this.#recentCap) {
      this.#age(this.#recentRow(0))
      this.#head = (this.#head + 1) % this.#recentCap
      this.#recent--
    }
    const row = this.#recentRow(this.#recent++)
    rows[row + AT] = at
    rows[row + SAMPLES] = 1
    for (let i = 0; i < this.#merges.length; i++) rows[row + HEAD + i] = values[i]
  }

  /** The points, oldest first. */
  points(): SeriesPoint[] {
    return this.map((at, samples, values) => ({ at, samples, values: [...values] }))
  }

  /** The points made into what `make` makes of each, oldest first (`values`, the point's columns, is only valid during the call). */
  map<T>(make: (at: number, samples: number, values: Float64Array) => T): T[] {
    const rows = this.#rows
    const out: T[] = []
    const add = (row: number): void => {
      out.push(make(rows[row + AT], rows[row + SAMPLES], rows.subarray(row + HEAD, row + this.#stride)))
    }
    for (let i = 0; i < this.#older; i++) add(i * this.#stride)
    if (this.#filling) add(this.#fillingRow())
    for (let i = 0; i < this.#recent; i++) add(this.#recentRow(i))
    return out
  }

  #fillingRow(): number {
    return this.#olderCap * this.#stride
  }

  /** The offset of the `i`-th recent point (0: the oldest). */
  #recentRow(i: number): number {
    return (this.#olderCap + 1 + ((this.#head + i) % this.#recentCap)) * this.#stride
  }

  /** A point leaves the recent tier: into the bucket being filled, which joins the older ones when full. */
  #age(row: number): void {
    const rows = this.#rows
    const filling = this.#fillingRow()
    if (this.#filling) this.#merge(filling, row)
    else rows.copyWithin(filling, row, row + this.#stride)
    this.#filling = true
    if (rows[filling + SAMPLES] < this.#width) return
    this.#filling = false
    rows.copyWithin(this.#older * this.#stride, filling, filling + this.#stride)
    this.#older++
    if (this.#older < this.#olderCap) return
    // Full: neighbours merge in pairs (the cap is even), and buckets hold twice as many samples from now on.
    const stride = this.#stride
    for (let i = 0; i < this.#older / 2; i++) {
      rows.copyWithin(i * stride, 2 * i * stride, (2 * i + 1) * stride)
      this.#merge(i * stride, (2 * i + 1) * stride)
    }
    this.#older /= 2
    this.#width *= 2
  }

  /** Merges the later row `from` into the row `into`. */
  #merge(into: number, from: number): void {
    const rows = this.#rows
    this.#mergeInto(into, rows[from + AT], rows[from + SAMPLES], rows.subarray(from + HEAD, from + this.#stride))
  }

  /** Merges a later point (`at`, `samples`, `values`) into the row `into`: the later time, the sum of samples, each column by its rule. */
  #mergeInto(into: number, at: number, samples: number, values: ArrayLike<number>): void {
    const rows = this.#rows
    const before = rows[into + SAMPLES]
    const total = before + samples
    for (let i = 0; i < this.#merges.length; i++) {
      const cell = into + HEAD + i
      rows[cell] = this.#merges[i] === 'last' ? values[i] : (rows[cell] * before + values[i] * samples) / total
    }
    rows[into + AT] = at
    rows[into + SAMPLES] = total
  }
}
