import { describe, expect, it } from 'vitest'
import type { ControlsFigures } from '../../../../src/master/engine/controls.js'
import { Ledger } from '../../../../src/master/engine/ledger.js'
import type { SourceFraction } from '../../../../src/master/engine/progress.js'
import { StatusSampler } from '../../../../src/master/engine/status-sampler.js'
import type { RunTotal } from '../../../../src/master/engine/total.js'
import { SkipSet } from '../../../../src/master/state/skip-set.js'

const RUNNING: ControlsFigures = { paused: false, rate: null, maxInFlight: null, throttled: null, throttle: null }

/**
 * A sampler over a real ledger resumed at `position` (that many jobs done before), with the
 * source's total and a fraction the test changes; the ledger holds `pulled` jobs after it.
 */
function sampler(position: number, total: RunTotal | undefined, pulled: number) {
  const ledger = new Ledger(1 << 16, position, position === 0 ? undefined : position - 1)
  for (let i = 0; i < pulled; i++) ledger.add({ id: position + i }, position + i)
  const state = { fraction: undefined as SourceFraction | undefined, controls: RUNNING, exhausted: false }
  const s = new StatusSampler({
    key: 'k',
    args: {},
    ledger,
    totals: () => ({ done: position + ledger.counts.done, failed: ledger.counts.failed }),
    sessions: new Map(),
    resume: {
      id: '0123456789abcdef',
      position,
      last: position === 0 ? null : position - 1,
      skip: new SkipSet(),
      counts: { done: position, failed: 0 },
      elapsed: 1000,
      startedAt: '2026-01-01T00:00:00.000Z',
    },
    total,
    fraction: () => state.fraction,
    exhausted: () => state.exhausted,
    startedAt: 0,
    controls: () => state.controls,
    failures: () => [],
    master: (now) => ({ hostname: 'db-1', pid: 7, cpuPercent: now / 100, rss: 1000, netIn: 10, netOut: 20 }),
  })
  /** Sends `n` jobs to slave 1 and has them done. */
  const finish = (n: number): void => {
    const batch = ledger.take(n, 1, 0)
    ledger.complete([batch.first ?? 0, n], 1)
  }
  return { s, state, finish }
}

describe('StatusSampler', () => {
  it("carries the master's own figures of the document's moment", () => {
    const { s } = sampler(0, undefined, 0)
    expect(s.sample('running', 1500).master).toEqual({ hostname: 'db-1', pid: 7, cpuPercent: 15, rss: 1000, netIn: 10, netOut: 20 })
    expect(s.last.master.cpuPercent).toBe(15)
  })

  it("the issue's resume: the planner's estimate gives way to the key space, marked as an estimate", () => {
    const { s, state } = sampler(815_952, { count: 1_357_674, estimate: true }, 1000)
    expect(s.sample('running', 1000).run).toMatchObject({ total: 1_357_674, totalEstimated: true })
    state.fraction = { fraction: 0.75, position: 815_952 }
    expect(s.sample('running', 2000).run).toMatchObject({ total: 1_087_936, totalEstimated: true, percent: 75, etaMs: null })
  })

  it('the percent never goes back, though the estimate grows', () => {
    const { s, state, finish } = sampler(500, { count: 1000, estimate: true }, 100)
    state.fraction = { fraction: 0.5, position: 500 }
    expect(s.sample('running', 1000).run.percent).toBe(50)
    finish(10)
    // Rows were added: the key space's top moved, and 510 jobs are now 25 % of it.
    state.fraction = { fraction: 0.25, position: 510 }
    expect(s.sample('running', 2000).run).toMatchObject({ total: 2040, percent: 50 })
    // The source cannot tell any more: the estimate again, and the percent from it.
    state.fraction = undefined
    expect(s.sample('running', 3000).run).toMatchObject({ total: 1000, percent: 51 })
  })

  it('while paused the ETA does not count down; it is back on resuming', () => {
    const { s, state, finish } = sampler(0, { count: 1000, estimate: false }, 1000)
    s.sample('running', 0)
    finish(100)
    expect(s.sample('running', 1000).run).toMatchObject({ percent: 10, rate: 100, etaMs: 9000 })
    state.controls = { ...RUNNING, paused: true }
    expect(s.sample('running', 1500).run).toMatchObject({ percent: 10, etaMs: null })
    state.controls = RUNNING
    // 100 jobs in the 2 s the rate spans now: 50/s.
    expect(s.sample('running', 2000).run).toMatchObject({ rate: 50, etaMs: 18_000 })
    // Nor while stopping.
    expect(s.sample('stopping', 2500).run.etaMs).toBe(null)
  })

  it('the ETA counts at the rate limit when it is below the moving rate (a rate just cut)', () => {
    const { s, state, finish } = sampler(0, { count: 1000, estimate: false }, 1000)
    s.sample('running', 0)
    finish(100)
    expect(s.sample('running', 1000).run).toMatchObject({ rate: 100, etaMs: 9000 })
    // Cut to 30 jobs/s: the 900 left need 30 s at least, whatever the last 10 s ran at.
    state.controls = { ...RUNNING, rate: 30 }
    expect(s.sample('running', 1100).run).toMatchObject({ etaMs: 30_000 })
    // A limit above the moving rate changes nothing.
    state.controls = { ...RUNNING, rate: 1000 }
    expect(s.sample('running', 1200).run.etaMs).toBe(Math.ceil(900 / (100 / 1.2)) * 1000)
  })

  it('a finished run shows 100 % of its true count; before the end, never an ETA of 0', () => {
    const { s, state, finish } = sampler(0, { count: 50, estimate: true }, 80)
    s.sample('running', 0)
    finish(60)
    // 60 done of an estimate of 50, with 20 jobs known left: corrected to 80, never 60 of 50.
    expect(s.sample('running', 1000).run).toMatchObject({ done: 60, total: 80, totalEstimated: true, percent: 75, etaMs: 1000 })
    state.exhausted = true
    expect(s.sample('running', 1500).run).toMatchObject({ total: 80, totalEstimated: false, percent: 75 })
    finish(20)
    expect(s.sample('complete', 2000).run).toMatchObject({ done: 80, total: 80, totalEstimated: false, percent: 100, etaMs: 0 })
  })
})
