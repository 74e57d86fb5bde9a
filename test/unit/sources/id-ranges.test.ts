import { describe, expect, it } from 'vitest'
import { OptionError } from '../../../src/errors.js'
import { idRanges } from '../../../src/sources/id-ranges.js'

const ctx = { position: 0, args: {} }
const all = <T>(iterable: Iterable<T>): T[] => [...iterable]

describe('idRanges', () => {
  it('yields inclusive { from, to } ranges of `width` ids covering min..max, the last one cut at max', () => {
    const source = idRanges({ min: 1, max: 10, width: 4 })
    expect(all(source.getJobs(undefined, ctx))).toEqual([
      { from: 1, to: 4 },
      { from: 5, to: 8 },
      { from: 9, to: 10 },
    ])
    expect(source.key({ from: 5, to: 8 })).toBe(5)
    expect(source.total).toBe(3)
  })

  it('resumes after the range whose `from` is `last`, at every boundary', () => {
    const source = idRanges({ min: 0, max: 99, width: 10 })
    for (let done = 0; done <= 10; done++) {
      const last = done === 0 ? undefined : (done - 1) * 10
      expect(all(source.getJobs(last, ctx)).map((range) => range.from)).toEqual(
        Array.from({ length: 10 - done }, (_, i) => (done + i) * 10),
      )
    }
  })

  it('a single id and an empty span', () => {
    expect(all(idRanges({ min: 7, max: 7, width: 100 }).getJobs(undefined, ctx))).toEqual([{ from: 7, to: 7 }])
    const empty = idRanges({ min: 8, max: 7, width: 100 })
    expect(all(empty.getJobs(undefined, ctx))).toEqual([])
    expect(empty.total).toBe(0)
  })

  it('is bigint-safe when min or max is a bigint, beyond 2^53', () => {
    const base = 2n ** 53n
    const source = idRanges({ min: base, max: base + 5n, width: 2 })
    expect(all(source.getJobs(undefined, ctx))).toEqual([
      { from: base, to: base + 1n },
      { from: base + 2n, to: base + 3n },
      { from: base + 4n, to: base + 5n },
    ])
    expect(all(source.getJobs(base + 2n, ctx))).toEqual([{ from: base + 4n, to: base + 5n }])
    expect(source.total).toBe(3)
    expect(all(idRanges({ min: 0, max: 5n, width: 3 }).getJobs(undefined, ctx))).toEqual([
      { from: 0n, to: 2n },
      { from: 3n, to: 5n },
    ])
  })

  it('refuses bad bounds and widths, naming them', () => {
    expect(() => idRanges({ min: 0, max: 10, width: 0 })).toThrow(
      new OptionError('idRanges: width must be an integer >= 1, got 0', 'width'),
    )
    expect(() => idRanges({ min: 0.5, max: 10, width: 1 })).toThrow(
      new OptionError('idRanges: min must be an integer or a bigint, got 0.5', 'min'),
    )
    expect(() => idRanges({ min: 0, max: Number.NaN, width: 1 })).toThrow(
      new OptionError('idRanges: max must be an integer or a bigint, got NaN', 'max'),
    )
  })
})
