import { describe, expect, it } from 'vitest'
import { ProgressProbe } from '../../../../src/master/engine/progress-probe.js'
import type { JobKey, SourceContext } from '../../../../src/options.js'

/** A probe over `progress`, with the calls it made and the warnings it said. */
function probeOf(progress?: (last: JobKey, ctx: SourceContext) => unknown): {
  probe: ProgressProbe
  calls: [JobKey, SourceContext][]
  warnings: string[]
} {
  const calls: [JobKey, SourceContext][] = []
  const warnings: string[] = []
  const source =
    progress === undefined
      ? {}
      : {
          progress: (last: JobKey, ctx: SourceContext) => {
            calls.push([last, ctx])
            return progress(last, ctx) as number | undefined
          },
        }
  const ctx = { args: { db: 'x' }, shard: { index: 1, count: 2 } }
  return { probe: new ProgressProbe(source, ctx, (line) => warnings.push(line)), calls, warnings }
}

const MUST = 'it must return a fraction from 0 to 1 (or undefined when it cannot tell)'

describe('ProgressProbe', () => {
  it("keeps the source's fraction at the watermark key with the position it was asked at", async () => {
    const { probe, calls } = probeOf((last) => Number(last) / 100)
    expect(probe.latest).toBeUndefined()
    await probe.ask(25, 24)
    expect(probe.latest).toEqual({ fraction: 0.25, position: 24 })
    await probe.ask(50, 49)
    expect(probe.latest).toEqual({ fraction: 0.5, position: 49 })
    // The run's arguments and shard reach it.
    expect(calls).toEqual([
      [25, { args: { db: 'x' }, shard: { index: 1, count: 2 } }],
      [50, { args: { db: 'x' }, shard: { index: 1, count: 2 } }],
    ])
  })

  it('takes a fraction from a promise, 0 and 1 included', async () => {
    const { probe } = probeOf((last) => Promise.resolve(last === 1 ? 1 : 0))
    await probe.ask(1, 10)
    expect(probe.latest).toEqual({ fraction: 1, position: 10 })
    await probe.ask(0, 10)
    expect(probe.latest).toEqual({ fraction: 0, position: 10 })
  })

  it('is not asked without progress() or before the first job is finished (no watermark key)', async () => {
    const none = probeOf()
    await none.probe.ask(5, 5)
    expect(none.probe.latest).toBeUndefined()
    const { probe, calls } = probeOf(() => 0.5)
    await probe.ask(undefined, 0)
    expect(calls).toEqual([])
  })

  it('undefined from the source (it cannot tell) forgets the last answer, without a warning, and asks again later', async () => {
    let answer: number | undefined = 0.5
    const { probe, calls, warnings } = probeOf(() => answer)
    await probe.ask(1, 1)
    answer = undefined
    await probe.ask(2, 2)
    expect(probe.latest).toBeUndefined()
    answer = 0.75
    await probe.ask(3, 3)
    expect(probe.latest).toEqual({ fraction: 0.75, position: 3 })
    expect(calls).toHaveLength(3)
    expect(warnings).toEqual([])
  })

  it('what is no fraction is one warning, and the source is not asked again', async () => {
    for (const [value, said] of [
      [1.5, '1.5'],
      [-0.1, '-0.1'],
      [NaN, 'NaN'],
      ['0.5', "the string '0.5'"],
      [{ fraction: 0.5 }, 'an object'],
    ] as const) {
      const { probe, calls, warnings } = probeOf(() => value)
      await probe.ask(1, 1)
      await probe.ask(2, 2)
      expect(probe.latest).toBeUndefined()
      expect(calls).toHaveLength(1)
      expect(warnings).toEqual([`progress() returned ${said}, the percent comes from the total from now on: ${MUST}`])
    }
  })

  it('a failure forgets the last answer, is said once, and the source is not asked again', async () => {
    let fail = false
    const { probe, calls, warnings } = probeOf(() => {
      if (fail) throw new Error('connection refused')
      return 0.5
    })
    await probe.ask(1, 1)
    fail = true
    await probe.ask(2, 2)
    await probe.ask(3, 3)
    expect(probe.latest).toBeUndefined()
    expect(calls).toHaveLength(2)
    expect(warnings).toHaveLength(1)
    expect(warnings[0]).toMatch(/^progress\(\) failed, the percent comes from the total from now on: connection refused \(at .+\)$/)
  })

  it('polled: asks as soon as there is a watermark key, then once a period', async () => {
    const { probe, calls } = probeOf(() => 0.5)
    probe.poll(undefined, 0, 0, 5000)
    probe.poll(undefined, 0, 1000, 5000)
    expect(calls).toEqual([])
    probe.poll(9, 10, 2000, 5000)
    expect(calls).toHaveLength(1)
    await new Promise((resolve) => setImmediate(resolve))
    expect(probe.latest).toEqual({ fraction: 0.5, position: 10 })
    for (const now of [3000, 4000, 6999]) probe.poll(9, 10, now, 5000)
    expect(calls).toHaveLength(1)
    probe.poll(19, 20, 7000, 5000)
    expect(calls).toHaveLength(2)
    await new Promise((resolve) => setImmediate(resolve))
    expect(probe.latest).toEqual({ fraction: 0.5, position: 20 })
  })

  it('never asks twice at once', async () => {
    let answer!: (value: number) => void
    const { probe, calls } = probeOf(() => new Promise<number>((resolve) => (answer = resolve)))
    const first = probe.ask(1, 1)
    await probe.ask(2, 2)
    expect(calls).toHaveLength(1)
    answer(0.1)
    await first
    expect(probe.latest).toEqual({ fraction: 0.1, position: 1 })
  })
})
