import { describe, expect, it } from 'vitest'
import { MAX_ERROR_LENGTH, RecentFailures } from '../../../../src/master/engine/recent-failures.js'

const entry = (key: number | bigint | string, message = `job ${String(key)} is broken`) => ({
  key,
  job: { id: key },
  attempts: 3,
  error: { message, stack: 'Error: ...\n    at x' },
  at: `2026-01-02T03:04:0${Number(key) % 10}.000Z`,
})

describe('RecentFailures', () => {
  it('keeps the last `capacity` failed jobs, newest first, with their key as JSON takes it', () => {
    const recent = new RecentFailures(3)
    expect(recent.list()).toEqual([])
    recent.add(entry(1))
    recent.add(entry(2n))
    expect(recent.list()).toEqual([
      { key: '2', attempts: 3, error: 'job 2 is broken', at: '2026-01-02T03:04:02.000Z' },
      { key: 1, attempts: 3, error: 'job 1 is broken', at: '2026-01-02T03:04:01.000Z' },
    ])
    recent.add(entry('c'))
    recent.add(entry(4))
    recent.add(entry(5))
    expect(recent.list().map((failure) => failure.key)).toEqual([5, 4, 'c'])
  })

  it('gives the same list until a failure comes (a document a second builds no new array)', () => {
    const recent = new RecentFailures(3)
    recent.add(entry(1))
    const list = recent.list()
    expect(recent.list()).toBe(list)
    recent.add(entry(2))
    expect(recent.list()).not.toBe(list)
  })

  it('cuts a long error message: the document stays small', () => {
    const recent = new RecentFailures(3)
    recent.add(entry(1, 'x'.repeat(MAX_ERROR_LENGTH + 50)))
    expect(recent.list()[0].error).toBe('x'.repeat(MAX_ERROR_LENGTH - 1) + '…')
  })
})
