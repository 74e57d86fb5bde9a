import { describe, expect, it } from 'vitest'
import { BEFORE_THE_END, progressFigures } from '../../../../src/master/engine/progress.js'
import type { ProgressInput } from '../../../../src/master/engine/progress.js'

const exact = (count: number): ProgressInput['total'] => ({ count, estimate: false })
const estimated = (count: number): ProgressInput['total'] => ({ count, estimate: true })

/** A running run with 50 jobs finished and 150 pulled and not finished, at 10 jobs/s. */
const RUNNING: ProgressInput = {
  finished: 50,
  pending: 150,
  exhausted: false,
  complete: false,
  counting: true,
  total: exact(200),
  fraction: undefined,
  previous: null,
  rate: 10,
}
const figures = (change: Partial<ProgressInput>): ReturnType<typeof progressFigures> => progressFigures({ ...RUNNING, ...change })

describe('progressFigures', () => {
  it('an exact total: percent of it, and the time left at the rate in whole seconds rounded up', () => {
    expect(figures({})).toEqual({ total: 200, totalEstimated: false, percent: 25, etaMs: 15_000 })
    expect(figures({ rate: 7 })).toEqual({ total: 200, totalEstimated: false, percent: 25, etaMs: 22_000 })
    // A fraction of a second left is a second, never 0 before the end.
    expect(figures({ finished: 199, pending: 1, rate: 5000 }).etaMs).toBe(1000)
    expect(figures({ rate: 0 }).etaMs).toBe(null)
  })

  it('without a total nor progress(): no percent, no ETA, 0 once complete', () => {
    expect(figures({ total: undefined })).toEqual({ total: null, totalEstimated: false, percent: null, etaMs: null })
    expect(figures({ total: undefined, exhausted: true, pending: 0 })).toEqual({
      total: null,
      totalEstimated: false,
      percent: null,
      etaMs: null,
    })
    expect(figures({ total: undefined, complete: true, pending: 0 })).toEqual({
      total: null,
      totalEstimated: false,
      percent: null,
      etaMs: 0,
    })
  })

  it('complete: 100 % of the true count, whatever the total said', () => {
    const end = { complete: true, pending: 0, finished: 1_081_864 }
    expect(figures({ ...end, total: estimated(1_357_674) })).toEqual({ total: 1_081_864, totalEstimated: false, percent: 100, etaMs: 0 })
    expect(figures({ ...end, total: exact(1_000_000), counting: false })).toEqual({
      total: 1_081_864,
      totalEstimated: false,
      percent: 100,
      etaMs: 0,
    })
  })

  it('every job pulled and finished (the generator ended): 100 % of the true count before the run says complete', () => {
    expect(figures({ finished: 180, pending: 0, exhausted: true })).toEqual({ total: 180, totalEstimated: false, percent: 100, etaMs: 0 })
  })

  it('the generator ended: the jobs known are the total, exact, whatever the source said', () => {
    expect(figures({ finished: 150, pending: 30, exhausted: true, total: estimated(1000) })).toEqual({
      total: 180,
      totalEstimated: false,
      percent: (150 * 100) / 180,
      etaMs: 3000,
    })
  })

  it('a total the run went past is corrected: never done 1,081,864 of 1,000,000; an estimate then, under 100 %, no ETA once nothing is left of it', () => {
    expect(figures({ finished: 1_081_864, pending: 20_000, total: exact(1_000_000) })).toEqual({
      total: 1_101_864,
      totalEstimated: true,
      percent: (1_081_864 * 100) / 1_101_864,
      etaMs: 2_000_000,
    })
    expect(figures({ finished: 200, pending: 0, total: exact(200) })).toEqual({
      total: 200,
      totalEstimated: false,
      percent: BEFORE_THE_END,
      etaMs: null,
    })
    expect(figures({ finished: 250, pending: 0, total: estimated(200) })).toEqual({
      total: 250,
      totalEstimated: true,
      percent: BEFORE_THE_END,
      etaMs: null,
    })
  })

  it("an estimate is corrected from the source's fraction of its key space: jobs up to the watermark over it", () => {
    // The resume: 815,952 jobs through the watermark at 75 % of the key space, the planner guessing 1,357,674.
    const resumed = figures({
      finished: 815_952,
      pending: 0,
      total: estimated(1_357_674),
      fraction: { fraction: 0.75, position: 815_952 },
      counting: false,
      rate: 0,
    })
    expect(resumed).toEqual({ total: 1_087_936, totalEstimated: true, percent: 75, etaMs: null })
    // The fraction was asked some jobs ago: the jobs finished since count, over the total it gave.
    expect(figures({ finished: 600, pending: 100, total: estimated(5000), fraction: { fraction: 0.5, position: 500 } })).toEqual({
      total: 1000,
      totalEstimated: true,
      percent: 60,
      etaMs: 40_000,
    })
    // Without a total, the fraction gives one.
    expect(figures({ finished: 500, pending: 100, total: undefined, fraction: { fraction: 0.25, position: 500 } })).toMatchObject({
      total: 2000,
      totalEstimated: true,
      percent: 25,
    })
    // Never below the jobs known.
    expect(figures({ finished: 500, pending: 700, total: undefined, fraction: { fraction: 0.5, position: 500 } }).total).toBe(1200)
  })

  it('an exact count is kept over the fraction (the key space knows nothing of a where clause)', () => {
    expect(figures({ fraction: { fraction: 0.9, position: 50 } })).toEqual({
      total: 200,
      totalEstimated: false,
      percent: 25,
      etaMs: 15_000,
    })
  })

  it('a fraction of 0, or asked at position 0, says nothing: the estimate stands', () => {
    expect(figures({ total: estimated(400), fraction: { fraction: 0, position: 50 } }).total).toBe(400)
    expect(figures({ total: estimated(400), fraction: { fraction: 0.5, position: 0 } }).total).toBe(400)
  })

  it('the percent never goes back: a grown estimate keeps the last percent shown', () => {
    expect(figures({ total: estimated(1000), previous: 30 })).toMatchObject({ total: 1000, percent: 30 })
    expect(figures({ pending: 10, total: estimated(100), previous: 30 }).percent).toBe(50)
    // ...but 100 % waits for the end.
    expect(figures({ finished: 199, pending: 1, previous: BEFORE_THE_END }).percent).toBe(BEFORE_THE_END)
  })

  it('no ETA while it does not count down (paused, starting, stopping)', () => {
    expect(figures({ counting: false })).toEqual({ total: 200, totalEstimated: false, percent: 25, etaMs: null })
  })
})
