import { describe, expect, it } from 'vitest'
import { HISTORY_OLDER, HISTORY_RECENT, RunHistory } from '../../../../src/master/engine/run-history.js'

const T0 = Date.parse('2026-01-02T03:04:05.000Z')

/** Records `count` one-second samples from second `from`: done grows by 10 a second, rate and in flight are the second's number. */
function feed(history: RunHistory, count: number, from = 0): void {
  for (let s = from; s < from + count; s++) history.record(T0 + s * 1000, { done: s * 10, failed: s, rate: s, inFlight: s % 4 })
}

describe('RunHistory', () => {
  it('keeps one-second samples as they are, oldest first, their time as ISO 8601', () => {
    const history = new RunHistory()
    expect(history.points()).toEqual([])
    feed(history, 3)
    expect(history.points()).toEqual([
      { time: '2026-01-02T03:04:05.000Z', samples: 1, done: 0, failed: 0, rate: 0, inFlight: 0 },
      { time: '2026-01-02T03:04:06.000Z', samples: 1, done: 10, failed: 1, rate: 1, inFlight: 1 },
      { time: '2026-01-02T03:04:07.000Z', samples: 1, done: 20, failed: 2, rate: 2, inFlight: 2 },
    ])
  })

  it('takes a sample no later than the last as new figures for that point (time never goes back)', () => {
    const history = new RunHistory()
    feed(history, 2)
    history.record(T0 + 1000, { done: 15, failed: 1, rate: 5, inFlight: 3 })
    history.record(T0 + 500, { done: 16, failed: 1, rate: 6, inFlight: 2 })
    expect(history.points().map((p) => [p.time, p.done, p.rate, p.inFlight])).toEqual([
      ['2026-01-02T03:04:05.000Z', 0, 0, 0],
      ['2026-01-02T03:04:06.000Z', 16, 6, 2],
    ])
  })

  it('merges what leaves the recent part into buckets that double in width when full: the sum of samples is every sample', () => {
    const history = new RunHistory(4, 4)
    feed(history, 8)
    // 4 recent; 4 older reached the cap and merged in pairs.
    expect(history.width).toBe(2)
    expect(history.points().map((p) => p.samples)).toEqual([2, 2, 1, 1, 1, 1])
    feed(history, 1, 8)
    // A sample left for a bucket of two, filling.
    expect(history.points().map((p) => p.samples)).toEqual([2, 2, 1, 1, 1, 1, 1])
    feed(history, 1, 9)
    expect(history.points().map((p) => p.samples)).toEqual([2, 2, 2, 1, 1, 1, 1])
    feed(history, 1000, 10)
    const points = history.points()
    expect(points.reduce((sum, p) => sum + p.samples, 0)).toBe(1010)
    expect(points.length).toBeLessThanOrEqual(4 + 3 + 1)
    // Oldest first, the last point the last sample.
    const times = points.map((p) => Date.parse(p.time))
    expect(times).toEqual([...times].sort((a, b) => a - b))
    expect(points.at(-1)).toEqual({
      time: new Date(T0 + 1009_000).toISOString(),
      samples: 1,
      done: 10090,
      failed: 1009,
      rate: 1009,
      inFlight: 1,
    })
  })

  it("gives a merged point the later sample's time and counts, and the means of rate and in flight", () => {
    const history = new RunHistory(1, 2)
    feed(history, 3)
    // Seconds 0 and 1 merged (width 2 now), second 2 recent.
    expect(history.points()).toEqual([
      { time: '2026-01-02T03:04:06.000Z', samples: 2, done: 10, failed: 1, rate: 0.5, inFlight: 0.5 },
      { time: '2026-01-02T03:04:07.000Z', samples: 1, done: 20, failed: 2, rate: 2, inFlight: 2 },
    ])
    feed(history, 4, 3)
    // Seconds 0-3 as one bucket of 4 (the means weighted by samples), 4-5 filling, 6 recent.
    expect(history.points()).toEqual([
      { time: '2026-01-02T03:04:08.000Z', samples: 4, done: 30, failed: 3, rate: 1.5, inFlight: 1.5 },
      { time: '2026-01-02T03:04:10.000Z', samples: 2, done: 50, failed: 5, rate: 4.5, inFlight: 0.5 },
      { time: '2026-01-02T03:04:11.000Z', samples: 1, done: 60, failed: 6, rate: 6, inFlight: 2 },
    ])
    feed(history, 1, 7)
    // Second 6 joins the bucket of two: a mean of three samples, not of two points.
    expect(history.points()[1]).toEqual({ time: '2026-01-02T03:04:11.000Z', samples: 3, done: 60, failed: 6, rate: 5, inFlight: 1 })
  })

  it('keeps a week-long run whole in a bounded number of points, the last ten minutes a second apart', () => {
    const history = new RunHistory()
    const week = 7 * 24 * 3600
    feed(history, week)
    const points = history.points()
    expect(points.length).toBeLessThanOrEqual(HISTORY_RECENT + HISTORY_OLDER)
    expect(points.reduce((sum, p) => sum + p.samples, 0)).toBe(week)
    // From the run's first seconds (the first bucket ends within its width) to its last.
    expect(Date.parse(points[0].time) - T0).toBeLessThan(history.width * 1000)
    expect(points.at(-1)!.time).toBe(new Date(T0 + (week - 1) * 1000).toISOString())
    expect(points.slice(-HISTORY_RECENT).every((p) => p.samples === 1)).toBe(true)
    expect(points[points.length - HISTORY_RECENT - 1].samples).toBeGreaterThan(1)
    // Nine minutes a point at worst.
    expect(history.width).toBe(512)
  })
})
