import { describe, expect, it } from 'vitest'
import { RateMeter } from '../../../src/cli/rate-meter.js'

describe('RateMeter', () => {
  it('is 0 until time passes', () => {
    const meter = new RateMeter(5000)
    expect(meter.sample(10, 1000)).toBe(0)
    expect(meter.sample(20, 1000)).toBe(0)
  })

  it('gives jobs per second since the oldest sample in the window', () => {
    const meter = new RateMeter(5000)
    meter.sample(0, 0)
    expect(meter.sample(100, 1000)).toBe(100)
    expect(meter.sample(300, 2000)).toBe(150)
    // Samples older than the window are dropped, but the last two are always kept.
    expect(meter.sample(1300, 10_000)).toBe(125)
    expect(meter.sample(1300, 11_000)).toBe(0)
  })
})
