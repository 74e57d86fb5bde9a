import { describe, expect, it } from 'vitest'
import type { StallClocks } from '../../../../src/master/engine/stall-watch.js'
import { StallWatch } from '../../../../src/master/engine/stall-watch.js'

/** Clocks the test moves (ms), and what the watch reads of them. */
interface TestClocks {
  monotonic: number
  wall: number
  /** Moves both by `ms`. */
  both(ms: number): void
  read: StallClocks
}

function clocks(): TestClocks {
  const c: TestClocks = {
    monotonic: 1_000,
    wall: 1_700_000_000_000,
    both(ms) {
      c.monotonic += ms
      c.wall += ms
    },
    read: { monotonic: () => c.monotonic, wall: () => c.wall },
  }
  return c
}

/** The loop runs on time for `ms`: a note every period of 250 ms. */
function runFor(watch: StallWatch, clock: TestClocks, ms: number): void {
  for (let t = 0; t < ms; t += 250) {
    clock.both(250)
    watch.note()
  }
}

/** The stall just seen excuses losses for `stalledMs` through the grace of 2 s, then no more. */
function expectExcusedThroughGrace(watch: StallWatch, clock: TestClocks, stalledMs: number): void {
  expect(watch.excuse()).toBe(stalledMs)
  runFor(watch, clock, 1750)
  expect(watch.excuse()).toBe(stalledMs)
  runFor(watch, clock, 250)
  expect(watch.excuse()).toBe(0)
}

describe('StallWatch', () => {
  it('excuses nothing while its loop runs on time, gaps up to the limit included', () => {
    const clock = clocks()
    const watch = new StallWatch(1000, 2000, clock.read)
    expect(watch.periodMs).toBe(250)
    for (let i = 0; i < 20; i++) {
      clock.both(i % 2 === 0 ? 250 : 1000)
      watch.note()
      expect(watch.excuse()).toBe(0)
    }
  })

  it('excuses a loss from a gap past the limit (a SIGSTOP: the monotonic clock ran on) until the grace after it', () => {
    const clock = clocks()
    const watch = new StallWatch(1000, 2000, clock.read)
    runFor(watch, clock, 1000)
    clock.both(20_000)
    // Asked before its timer ran again (the first timers after a SIGCONT): the stall is seen.
    expectExcusedThroughGrace(watch, clock, 20_000)
  })

  it('a gap just past the limit is a stall', () => {
    const clock = clocks()
    const watch = new StallWatch(1000, 2000, clock.read)
    clock.both(1001)
    watch.note()
    expect(watch.excuse()).toBe(1001)
  })

  it('sees a gap of the wall clock alone (a suspended machine, a clock set forward), never a clock set back', () => {
    const clock = clocks()
    const watch = new StallWatch(1000, 2000, clock.read)
    clock.wall += 60_000
    clock.monotonic += 250
    expect(watch.excuse()).toBe(60_000)
    runFor(watch, clock, 2000)
    expect(watch.excuse()).toBe(0)
    clock.wall -= 3_600_000
    expect(watch.excuse()).toBe(0)
    runFor(watch, clock, 5000)
    expect(watch.excuse()).toBe(0)
  })

  it('a later stall replaces the last: its length, and the grace counted from its end', () => {
    const clock = clocks()
    const watch = new StallWatch(1000, 2000, clock.read)
    clock.both(5000)
    expect(watch.excuse()).toBe(5000)
    runFor(watch, clock, 1000)
    clock.both(2500)
    expectExcusedThroughGrace(watch, clock, 2500)
  })
})
