import { describe, expect, it } from 'vitest'
import { WINDOW_CAP, WINDOW_MARGIN_MS, Window, windowSize } from '../../../src/slave/window.js'

describe('windowSize', () => {
  it('is the lanes plus rate × (round trip + margin) queued, rounded up', () => {
    // 5 jobs/ms (5,000/s), 2 ms round trip, 40 ms margin: 210 queued beyond 100 lanes.
    expect(WINDOW_MARGIN_MS).toBe(40)
    expect(windowSize(100, 5, 2)).toBe(100 + 210)
    expect(windowSize(1, 0.001, 0)).toBe(2)
    expect(windowSize(4, 0.5, 10, 30)).toBe(4 + 20)
  })

  it('is never less than the concurrency, nor more than the cap unless the concurrency is', () => {
    expect(windowSize(8, 0, 0)).toBe(8)
    expect(windowSize(1, 2000, 1)).toBe(WINDOW_CAP)
    expect(windowSize(1, 2000, 1, WINDOW_MARGIN_MS, 500)).toBe(500)
    expect(windowSize(20_000, 2000, 1)).toBe(20_000)
  })
})

describe('Window', () => {
  it('starts at twice the concurrency (a job at hand per lane), capped', () => {
    expect(new Window(1).size).toBe(2)
    expect(new Window(64).size).toBe(128)
    expect(new Window(WINDOW_CAP).size).toBe(WINDOW_CAP)
    expect(new Window(20_000).size).toBe(20_000)
  })

  it('is fixed with a prefetch: concurrency + prefetch whatever is measured', () => {
    const w = new Window(3, 40)
    expect([w.size, w.adaptive]).toEqual([43, false])
    w.roundTrip(1)
    w.update(1_000_000, 100)
    expect(w.size).toBe(43)
    expect(new Window(2, 0).size).toBe(2)
  })

  it('grows a fast handler to the cap in a few periods, from rates its own window limits', () => {
    // A no-op handler: the slave finishes its window once per 1 ms round trip.
    const w = new Window(1)
    const sizes: number[] = []
    for (let period = 0; period < 4; period++) {
      w.roundTrip(1)
      w.update(w.size * 100, 100)
      sizes.push(w.size)
    }
    // 2 jobs a round trip measured: the rate goes halfway, 1 job/ms × 41 ms queued; then
    // 42 a round trip: (1 + 42) / 2 × 41; then the cap.
    expect(sizes).toEqual([1 + 41, 1 + Math.ceil(21.5 * 41), WINDOW_CAP, WINDOW_CAP])
  })

  it('keeps a slow handler small: 10 lanes of 20 ms jobs at a 2 ms round trip hold 10 + 21', () => {
    const w = new Window(10)
    for (let period = 0; period < 30; period++) {
      w.roundTrip(2)
      w.update(50, 100)
    }
    // 500 jobs/s × 42 ms = 21 jobs queued: with the running ones, 62 ms of its work.
    expect(w.size).toBe(10 + 21)
    expect(w.measured.jobsPerMs).toBeCloseTo(0.5, 6)
    expect(w.measured.roundTripMs).toBe(2)
  })

  it('takes the shortest round trip of a period (a longer one waited for jobs the master did not have)', () => {
    const w = new Window(1)
    w.roundTrip(30)
    w.roundTrip(4)
    w.roundTrip(12)
    w.update(10, 100)
    expect(w.measured.roundTripMs).toBe(4)
    // Smoothed over periods; a period without a sample keeps the estimate.
    w.roundTrip(8)
    w.update(10, 100)
    expect(w.measured.roundTripMs).toBe(6)
    w.update(10, 100)
    expect(w.measured.roundTripMs).toBe(6)
    expect(w.size).toBe(windowSize(1, w.measured.jobsPerMs, 6))
    expect(w.size).toBe(1 + Math.ceil(0.0875 * (6 + WINDOW_MARGIN_MS)))
  })

  it('follows a handler whose speed changes: halfway to each measurement', () => {
    const w = new Window(1)
    w.roundTrip(0)
    w.update(800, 100)
    expect(w.measured.jobsPerMs).toBe(4)
    w.update(0, 100)
    expect(w.measured.jobsPerMs).toBe(2)
    w.update(0, 100)
    w.update(0, 100)
    expect(w.measured.jobsPerMs).toBe(0.5)
    expect(w.size).toBe(1 + 20)
    for (let i = 0; i < 40; i++) w.update(0, 100)
    // Idle: down to the lanes plus the job a rate of almost nothing still rounds up to.
    expect(w.size).toBe(2)
    // Faster again: 6 jobs/ms measured, twice.
    w.update(600, 100)
    w.update(600, 100)
    expect(w.measured.jobsPerMs).toBeCloseTo(4.5, 6)
    expect(w.size).toBe(windowSize(1, w.measured.jobsPerMs, 0))
  })

  it('ignores a period of no length', () => {
    const w = new Window(2)
    w.update(100, 0)
    expect([w.size, w.measured.jobsPerMs]).toEqual([4, 0])
  })
})
