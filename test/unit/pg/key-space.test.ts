import { describe, expect, it } from 'vitest'
import { TOP_REFRESH_MS, integerOf, keySpaceFraction, keySpaceProgress } from '../../../src/pg/key-space.js'

describe('keySpaceFraction', () => {
  it('is the share of the keys from min to max at or before last', () => {
    expect(keySpaceFraction(1n, 1n, 100n)).toBe(0.01)
    expect(keySpaceFraction(50n, 1n, 100n)).toBe(0.5)
    expect(keySpaceFraction(100n, 1n, 100n)).toBe(1)
    // Beyond 2^53: the difference is taken exactly before it becomes a number.
    expect(keySpaceFraction(2n ** 62n + 2n, 2n ** 62n + 1n, 2n ** 62n + 4n)).toBe(0.5)
  })

  it('is clamped to [0, 1]: a last before the range (rows added below min) is 0, one beyond max 1', () => {
    expect(keySpaceFraction(-5n, 1n, 100n)).toBe(0)
    expect(keySpaceFraction(0n, 1n, 100n)).toBe(0)
    expect(keySpaceFraction(101n, 1n, 100n)).toBe(1)
    expect(keySpaceFraction(10n ** 30n, 1n, 100n)).toBe(1)
    expect(keySpaceFraction(7n, 7n, 7n)).toBe(1)
    // max below min (a read between deletes): all or nothing, never outside [0, 1].
    expect(keySpaceFraction(5n, 10n, 3n)).toBe(0)
    expect(keySpaceFraction(12n, 10n, 3n)).toBe(1)
  })
})

describe('integerOf', () => {
  it('reads integers as pg returns them, and nothing else', () => {
    expect([5, -3, 7n, '9007199254740993', '-12'].map(integerOf)).toEqual([5n, -3n, 7n, 9007199254740993n, -12n])
    expect([1.5, 2 ** 60, '1.5', 'abc', '', null, undefined, true, {}].map(integerOf)).toEqual(Array(9).fill(undefined))
  })
})

/** keySpaceProgress over bounds that the test sets, on a clock it moves. */
function progressOver(bounds: { lo: unknown; hi: unknown }) {
  const reads: boolean[] = []
  let clock = 1_000
  let fail: Error | undefined
  const progress = keySpaceProgress(
    (top) => {
      reads.push(top)
      if (fail !== undefined) return Promise.reject(fail)
      return Promise.resolve(top ? { hi: bounds.hi } : { ...bounds })
    },
    TOP_REFRESH_MS,
    () => clock,
  )
  return {
    progress,
    reads,
    bounds,
    tick: (ms: number) => (clock += ms),
    failWith: (error: Error | undefined) => (fail = error),
  }
}

describe('keySpaceProgress', () => {
  it('reads min and max once, then only max, at most every 30 s', async () => {
    const t = progressOver({ lo: '101', hi: '200' })
    expect(await t.progress(150n)).toBe(0.5)
    expect(await t.progress(200n)).toBe(1)
    t.tick(TOP_REFRESH_MS - 1)
    expect(await t.progress(150n)).toBe(0.5)
    expect(t.reads).toEqual([false])
    // Rows added: max grows, read again once 30 s have passed; min stays as first read.
    t.bounds.hi = '300'
    t.bounds.lo = '1'
    t.tick(1)
    expect(await t.progress(150n)).toBe(0.25)
    expect(t.reads).toEqual([false, true])
  })

  it('calls made while a read runs share it', async () => {
    const t = progressOver({ lo: 1, hi: 4 })
    expect(await Promise.all([t.progress(1n), t.progress(2n), t.progress(4n)])).toEqual([0.25, 0.5, 1])
    expect(t.reads).toEqual([false])
  })

  it('is undefined for an empty table, which is asked again after 30 s', async () => {
    const t = progressOver({ lo: null, hi: null })
    expect(await t.progress(5n)).toBeUndefined()
    expect(await t.progress(5n)).toBeUndefined()
    expect(t.reads).toEqual([false])
    t.bounds.lo = 1
    t.bounds.hi = 10
    t.tick(TOP_REFRESH_MS)
    expect(await t.progress(5n)).toBe(0.5)
  })

  it('is undefined for a column of other values, never asked again', async () => {
    const t = progressOver({ lo: 'alice', hi: 'zoe' })
    expect(await t.progress(5n)).toBeUndefined()
    t.tick(TOP_REFRESH_MS * 10)
    expect(await t.progress(5n)).toBeUndefined()
    expect(t.reads).toEqual([false])
  })

  it('a failed read rejects that call and is tried again on the next', async () => {
    const t = progressOver({ lo: 1, hi: 10 })
    t.failWith(new Error('connection refused'))
    await expect(t.progress(5n)).rejects.toThrow('connection refused')
    t.failWith(undefined)
    expect(await t.progress(5n)).toBe(0.5)
    expect(t.reads).toEqual([false, false])
  })
})
