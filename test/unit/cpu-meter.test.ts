import { describe, expect, it } from 'vitest'
import { CpuMeter } from '../../src/cpu-meter.js'

/** Spins until this process has used `ms` more milliseconds of CPU. */
function burn(ms: number): void {
  const start = process.cpuUsage()
  for (;;) {
    const used = process.cpuUsage(start)
    if ((used.user + used.system) / 1000 >= ms) return
  }
}

describe('CpuMeter', () => {
  it('gives the CPU used since the last reading over the span between them, in cores', () => {
    const meter = new CpuMeter(0)
    burn(60)
    // 60 ms of CPU or more over a span of 100 ms: at least 0.6 of a core.
    expect(meter.read(100)).toBeGreaterThanOrEqual(0.6)
    // The next reading counts from this one: little CPU over a long span.
    expect(meter.read(100 + 60_000)).toBeLessThan(0.1)
  })

  it('gives the last figure again for a span shorter than its least, without starting a new span', () => {
    const meter = new CpuMeter(0, 500)
    burn(60)
    const first = meter.read(100)
    expect(first).toBe(0)
    // 100 ms are under the least span: still the figure of before, and the span goes on from 0.
    expect(meter.read(600)).toBeGreaterThanOrEqual(60 / 600)
    burn(30)
    expect(meter.read(700)).toBe(meter.read(800))
  })
})
