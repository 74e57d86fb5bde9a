import { describe, expect, it } from 'vitest'
import type { SeriesShape } from '../../../../src/master/engine/tiered-series.js'
import { TieredSeries } from '../../../../src/master/engine/tiered-series.js'

const T0 = Date.parse('2026-01-02T03:04:05.000Z')

/** The run's columns as the history keeps them: done and failed are counters, rate and in flight gauges. */
const MERGES = ['last', 'last', 'mean', 'mean'] as const

/** A series of the run's four columns. */
const series = (shape: SeriesShape): TieredSeries => new TieredSeries(MERGES, shape)

/** Records `count` one-second samples from second `from`: done grows by 10 a second, rate and in flight are the second's number. */
function feed(s: TieredSeries, count: number, from = 0): void {
  for (let t = from; t < from + count; t++) s.record(T0 + t * 1000, [t * 10, t, t, t % 4])
}

/** The points as the history's run points: their time as ISO 8601, their figures by name. */
function points(s: TieredSeries): { time: string; samples: number; done: number; failed: number; rate: number; inFlight: number }[] {
  return s.points().map(({ at, samples, values: [done, failed, rate, inFlight] }) => ({
    time: new Date(at).toISOString(),
    samples,
    done,
    failed,
    rate,
    inFlight,
  }))
}

describe('TieredSeries', () => {
  it('keeps samples as they are, oldest first', () => {
    const s = series({ recent: 600, older: 1200 })
    expect(s.points()).toEqual([])
    expect(s.empty).toBe(true)
    feed(s, 3)
    expect(points(s)).toEqual([
      { time: '2026-01-02T03:04:05.000Z', samples: 1, done: 0, failed: 0, rate: 0, inFlight: 0 },
      { time: '2026-01-02T03:04:06.000Z', samples: 1, done: 10, failed: 1, rate: 1, inFlight: 1 },
      { time: '2026-01-02T03:04:07.000Z', samples: 1, done: 20, failed: 2, rate: 2, inFlight: 2 },
    ])
  })

  it('takes a sample no later than the last as new figures for that point (time never goes back)', () => {
    const s = series({ recent: 600, older: 1200 })
    feed(s, 2)
    s.record(T0 + 1000, [15, 1, 5, 3])
    s.record(T0 + 500, [16, 1, 6, 2])
    expect(points(s).map((p) => [p.time, p.done, p.rate, p.inFlight])).toEqual([
      ['2026-01-02T03:04:05.000Z', 0, 0, 0],
      ['2026-01-02T03:04:06.000Z', 16, 6, 2],
    ])
  })

  it('merges what leaves the recent part into buckets that double in width when full: the sum of samples is every sample', () => {
    const s = series({ recent: 4, older: 4 })
    feed(s, 8)
    // 4 recent; 4 older reached the cap and merged in pairs.
    expect(s.width).toBe(2)
    expect(s.points().map((p) => p.samples)).toEqual([2, 2, 1, 1, 1, 1])
    feed(s, 1, 8)
    // A sample left for a bucket of two, filling.
    expect(s.points().map((p) => p.samples)).toEqual([2, 2, 1, 1, 1, 1, 1])
    feed(s, 1, 9)
    expect(s.points().map((p) => p.samples)).toEqual([2, 2, 2, 1, 1, 1, 1])
    feed(s, 1000, 10)
    const all = points(s)
    expect(all.reduce((sum, p) => sum + p.samples, 0)).toBe(1010)
    expect(all.length).toBeLessThanOrEqual(4 + 3 + 1)
    // Oldest first, the last point the last sample.
    const times = all.map((p) => Date.parse(p.time))
    expect(times).toEqual([...times].sort((a, b) => a - b))
    expect(all.at(-1)).toEqual({
      time: new Date(T0 + 1009_000).toISOString(),
      samples: 1,
      done: 10090,
      failed: 1009,
      rate: 1009,
      inFlight: 1,
    })
  })

  it("gives a merged point the later sample's time and counters, and the means of the gauges", () => {
    const s = series({ recent: 1, older: 2 })
    feed(s, 3)
    // Seconds 0 and 1 merged (width 2 now), second 2 recent.
    expect(points(s)).toEqual([
      { time: '2026-01-02T03:04:06.000Z', samples: 2, done: 10, failed: 1, rate: 0.5, inFlight: 0.5 },
      { time: '2026-01-02T03:04:07.000Z', samples: 1, done: 20, failed: 2, rate: 2, inFlight: 2 },
    ])
    feed(s, 4, 3)
    // Seconds 0-3 as one bucket of 4 (the means weighted by samples), 4-5 filling, 6 recent.
    expect(points(s)).toEqual([
      { time: '2026-01-02T03:04:08.000Z', samples: 4, done: 30, failed: 3, rate: 1.5, inFlight: 1.5 },
      { time: '2026-01-02T03:04:10.000Z', samples: 2, done: 50, failed: 5, rate: 4.5, inFlight: 0.5 },
      { time: '2026-01-02T03:04:11.000Z', samples: 1, done: 60, failed: 6, rate: 6, inFlight: 2 },
    ])
    feed(s, 1, 7)
    // Second 6 joins the bucket of two: a mean of three samples, not of two points.
    expect(points(s)[1]).toEqual({ time: '2026-01-02T03:04:11.000Z', samples: 3, done: 60, failed: 6, rate: 5, inFlight: 1 })
  })

  it('keeps a week of one-second samples whole in a bounded number of points and bytes, the last ten minutes a second apart', () => {
    const s = series({ recent: 600, older: 1200 })
    const bytes = s.bytes
    expect(bytes).toBe((600 + 1200 + 1) * (2 + 4) * 8)
    const week = 7 * 24 * 3600
    feed(s, week)
    const all = points(s)
    expect(all.length).toBeLessThanOrEqual(600 + 1200)
    expect(all.reduce((sum, p) => sum + p.samples, 0)).toBe(week)
    // From the run's first seconds (the first bucket ends within its width) to its last.
    expect(Date.parse(all[0].time) - T0).toBeLessThan(s.width * 1000)
    expect(all.at(-1)!.time).toBe(new Date(T0 + (week - 1) * 1000).toISOString())
    expect(all.slice(-600).every((p) => p.samples === 1)).toBe(true)
    expect(all[all.length - 600 - 1].samples).toBeGreaterThan(1)
    // Nine minutes a point at worst.
    expect(s.width).toBe(512)
    expect(s.bytes).toBe(bytes)
  })

  it('with a base of five, keeps a recent point the mean of five samples, and older buckets start five samples wide', () => {
    const s = series({ recent: 2, older: 2, base: 5 })
    expect(s.width).toBe(5)
    feed(s, 7)
    // Seconds 0-4 as one point, 5-6 filling the next.
    expect(points(s)).toEqual([
      { time: '2026-01-02T03:04:09.000Z', samples: 5, done: 40, failed: 4, rate: 2, inFlight: 1.2 },
      { time: '2026-01-02T03:04:11.000Z', samples: 2, done: 60, failed: 6, rate: 5.5, inFlight: 1.5 },
    ])
    feed(s, 1000, 7)
    const all = s.points()
    expect(all.reduce((sum, p) => sum + p.samples, 0)).toBe(1007)
    expect(all.length).toBeLessThanOrEqual(2 + 2 + 1)
    expect(all.slice(0, -2).every((p) => p.samples % 5 === 0)).toBe(true)
  })

  it('cleared, is as new and keeps its memory', () => {
    const s = series({ recent: 2, older: 2 })
    feed(s, 50)
    const bytes = s.bytes
    s.clear()
    expect(s.points()).toEqual([])
    expect(s.width).toBe(1)
    feed(s, 1, 100)
    expect(points(s)).toEqual([{ time: new Date(T0 + 100_000).toISOString(), samples: 1, done: 1000, failed: 100, rate: 100, inFlight: 0 }])
    expect(s.bytes).toBe(bytes)
  })
})
