import type { RunFigures } from './status.js'

/** One-second points kept as they are: the last ten minutes. */
export const HISTORY_RECENT = 600

/** Older points kept merged into buckets: when there are this many, pairs merge and the buckets' width doubles. */
export const HISTORY_OLDER = 1200

/** What a point of the history holds of a status document. */
export type HistoryFigures = Pick<RunFigures, 'done' | 'failed' | 'rate' | 'inFlight'>

/** One point of a run's history, in `GET /history`. */
export interface HistoryPoint {
  /** When the point's last sample was taken (ISO 8601). */
  time: string
  /** Samples (one a status period, about a second) the point stands for: 1 in the last ten minutes, more before. */
  samples: number
  /** Jobs done over the whole run at `time`. */
  done: number
  /** Jobs written to the failed-jobs log over the whole run at `time`. */
  failed: number
  /** The moving rate (jobs/s), the mean of the point's samples. */
  rate: number
  /** Jobs in flight, the mean of the point's samples. */
  inFlight: number
}

/** The answer of `GET /history`: the run's figures since this master started, oldest first. */
export interface HistoryDocument {
  run: HistoryPoint[]
}

/** A point as kept: its time in ms, its figures. */
interface Bucket {
  at: number
  samples: number
  done: number
  failed: number
  rate: number
  inFlight: number
}

/**
 * The run's figures since this master started, a sample a status period, in bounded
 * memory whatever the run's length: the last {@link HISTORY_RECENT} samples as they are,
 * the older ones merged into buckets of equal width (in samples). When
 * {@link HISTORY_OLDER} buckets are full, neighbours merge in pairs and the width
 * doubles: a week-long run keeps its whole curve in under 1,800 points, its oldest part at
 * about nine minutes a point.
 */
export class RunHistory {
  readonly #recentCap: number
  readonly #olderCap: number
  readonly #recent: Bucket[] = []
  readonly #older: Bucket[] = []
  /** The bucket being filled from the oldest recent samples, until it holds #width of them. */
  #filling: Bucket | undefined
  /** Samples an older bucket holds. */
  #width = 1

  /** @param recent samples kept as they are; @param older buckets kept before pairs merge (made even) */
  constructor(recent = HISTORY_RECENT, older = HISTORY_OLDER) {
    this.#recentCap = Math.max(1, recent)
    this.#olderCap = Math.max(2, older + (older % 2))
  }

  /** Samples each older bucket holds now (1 until the older buckets first fill). */
  get width(): number {
    return this.#width
  }

  /** Adds a sample of `at` (ms); one not after the last replaces that one's figures. */
  record(at: number, figures: HistoryFigures): void {
    const { done, failed, rate, inFlight } = figures
    const last = this.#recent.at(-1)
    if (last !== undefined && at <= last.at) {
      Object.assign(last, { done, failed, rate, inFlight })
      return
    }
    this.#recent.push({ at, samples: 1, done, failed, rate, inFlight })
    if (this.#recent.length > this.#recentCap) this.#age(this.#recent.shift()!)
  }

  /** The points, oldest first. */
  points(): HistoryPoint[] {
    const buckets = this.#filling === undefined ? [...this.#older, ...this.#recent] : [...this.#older, this.#filling, ...this.#recent]
    return buckets.map(({ at, samples, done, failed, rate, inFlight }) => ({
      time: new Date(at).toISOString(),
      samples,
      done,
      failed,
      rate,
      inFlight,
    }))
  }

  /** A sample leaves the recent part: into the bucket being filled, which joins the older ones when full. */
  #age(sample: Bucket): void {
    const bucket = this.#filling === undefined ? sample : merge(this.#filling, sample)
    if (bucket.samples < this.#width) {
      this.#filling = bucket
      return
    }
    this.#filling = undefined
    this.#older.push(bucket)
    if (this.#older.length < this.#olderCap) return
    // Full: neighbours merge in pairs (the cap is even), and buckets hold twice as many samples from now on.
    for (let i = 0; i < this.#older.length / 2; i++) this.#older[i] = merge(this.#older[2 * i], this.#older[2 * i + 1])
    this.#older.length /= 2
    this.#width *= 2
  }
}

/** Two neighbouring buckets as one: the later one's time and counts, the means of rate and in flight. */
function merge(a: Bucket, b: Bucket): Bucket {
  const samples = a.samples + b.samples
  return {
    at: b.at,
    samples,
    done: b.done,
    failed: b.failed,
    rate: (a.rate * a.samples + b.rate * b.samples) / samples,
    inFlight: (a.inFlight * a.samples + b.inFlight * b.samples) / samples,
  }
}
