import { describe, expect, it } from 'vitest'
import { SkipSet } from '../../../../src/master/state/skip-set.js'

// A job is skipped only when both its seq and its key are the recorded ones: with keys
// alone, a duplicate key could hide a job that never finished (review finding).
describe('SkipSet', () => {
  it('is empty by default', () => {
    const set = new SkipSet()
    expect(set.size).toBe(0)
    expect(set.take(0, 'a')).toBe(false)
    expect(set.pending()).toEqual([])
  })

  it('take uses an entry up once and tells whether that job is finished', () => {
    const set = new SkipSet([3, 5], ['a', 'b'])
    expect(set.size).toBe(2)
    expect(set.take(3, 'a')).toBe(true)
    expect(set.take(3, 'a')).toBe(false)
    expect(set.size).toBe(1)
    expect(set.pending()).toEqual([[5, 'b']])
  })

  it('does not skip a job whose key differs from the one recorded at its seq, and forgets that entry', () => {
    const set = new SkipSet([4], ['row-4'])
    expect(set.take(4, 'row-new')).toBe(false)
    expect(set.size).toBe(0)
  })

  it('keeps duplicate keys apart: only the finished one is skipped', () => {
    const set = new SkipSet([7], ['dup'])
    expect(set.take(3, 'dup')).toBe(false)
    expect(set.take(7, 'dup')).toBe(true)
  })

  it('tells keys of different types apart', () => {
    const set = new SkipSet([1, 2, 3], [1n, '2', 3])
    expect(set.take(1, 1)).toBe(false)
    expect(set.take(2, 2)).toBe(false)
    expect(set.take(3, 3)).toBe(true)
    const again = new SkipSet([1, 2], [1n, '2'])
    expect(again.take(1, 1n)).toBe(true)
    expect(again.take(2, '2')).toBe(true)
  })

  it('pending lists what the generator has not reached, for the next checkpoint', () => {
    const set = new SkipSet([3, 5, 8, 9], ['a', 'b', 'c', 'd'])
    set.take(3, 'a')
    set.take(5, 'x')
    expect(set.pending()).toEqual([
      [8, 'c'],
      [9, 'd'],
    ])
  })
})
