import { describe, expect, it } from 'vitest'
import { JobSourceError } from '../../../../src/errors.js'
import { keyReader } from '../../../../src/master/engine/job-key.js'

const byDefault = keyReader({})

describe('keyReader', () => {
  it('uses the key() export first', () => {
    const read = keyReader({ key: (job: { ref: string; id: number }) => job.ref })
    expect(read({ ref: 'r1', id: 5 }, 0)).toBe('r1')
  })

  it('accepts number, string and bigint keys from key()', () => {
    for (const k of [0, -1.5, '', 'x', 2n ** 64n - 1n, -(2n ** 63n)]) expect(keyReader({ key: () => k })({}, 3)).toBe(k)
  })

  it('refuses other keys from key(), naming the job position', () => {
    const cases: [unknown, string][] = [
      [undefined, 'undefined'],
      [null, 'null'],
      [{}, 'an object'],
      [[1], 'an array'],
      [true, 'boolean'],
      [NaN, 'NaN'],
      [Infinity, 'Infinity'],
    ]
    for (const [k, described] of cases) {
      const read = keyReader({ key: () => k as never })
      expect(() => read({}, 42)).toThrow(JobSourceError)
      expect(() => read({}, 42)).toThrow(
        `key(job) returned ${described} for job #42; it must return a finite number, a string of at most 8192 characters or a 64-bit bigint`,
      )
    }
  })

  it('uses job.id by default', () => {
    expect(byDefault({ id: 7, name: 'x' }, 0)).toBe(7)
    expect(byDefault({ id: 'abc' }, 0)).toBe('abc')
    expect(byDefault({ id: 9n }, 0)).toBe(9n)
  })

  it('refuses an id that is not a key, naming the job position', () => {
    for (const [id, described] of [
      [null, 'null'],
      [{ a: 1 }, 'an object'],
      [[1], 'an array'],
      [false, 'boolean'],
      [NaN, 'NaN'],
      [2n ** 64n, 'a bigint beyond 64 bits'],
      [-(2n ** 63n) - 1n, 'a bigint beyond 64 bits'],
      ['k'.repeat(8193), 'a string of 8193 characters (at most 8192)'],
    ] as [unknown, string][]) {
      expect(() => byDefault({ id }, 17)).toThrow(JobSourceError)
      expect(() => byDefault({ id }, 17)).toThrow(
        `Job #17 has an id that is ${described}; a key must be a finite number, a string of at most 8192 characters or a 64-bit bigint (export a key(job) function to choose another)`,
      )
    }
  })

  it('takes every key the journal, the checkpoint and the wire can hold: 64-bit bigints of either sign, strings up to 8192 characters', () => {
    for (const id of [2n ** 64n - 1n, -(2n ** 63n), 0n, 'k'.repeat(8192), '', -0.5, Number.MAX_VALUE]) expect(byDefault({ id }, 0)).toBe(id)
  })

  it('uses the job itself when it is a number, string or bigint', () => {
    expect(byDefault(12, 0)).toBe(12)
    expect(byDefault('row-1', 0)).toBe('row-1')
    expect(byDefault(3n, 0)).toBe(3n)
  })

  it('refuses a job that is its own key but too large to be one', () => {
    expect(() => byDefault('k'.repeat(8193), 4)).toThrow(
      'Job #4 is a string of 8193 characters (at most 8192); a job that is its own key must be a string of at most 8192 characters or a 64-bit bigint (export a key(job) function to choose another)',
    )
    expect(() => byDefault(2n ** 64n, 4)).toThrow(JobSourceError)
  })

  it('falls back to the position otherwise', () => {
    expect(byDefault({ name: 'no id' }, 5)).toBe(5)
    expect(byDefault({ id: undefined }, 6)).toBe(6)
    expect(byDefault([1, 2], 7)).toBe(7)
    expect(byDefault(null, 8)).toBe(8)
    expect(byDefault(undefined, 9)).toBe(9)
    expect(byDefault(true, 10)).toBe(10)
    expect(byDefault(NaN, 11)).toBe(11)
  })

  it('JobSourceError has its code', () => {
    try {
      byDefault({ id: {} }, 1)
      expect.unreachable()
    } catch (error) {
      expect((error as JobSourceError).code).toBe('TM_ERR_JOB_SOURCE')
    }
  })
})
