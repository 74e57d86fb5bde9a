import { describe, expect, it } from 'vitest'
import { SkipSet } from '../../../src/master/skip-set.js'

describe('SkipSet', () => {
  it('is empty by default', () => {
    const set = new SkipSet()
    expect(set.size).toBe(0)
    expect(set.take('a')).toBe(false)
    expect(set.pending()).toEqual([])
  })

  it('take removes a key once and tells whether it was there', () => {
    const set = new SkipSet([3, 5], ['a', 'b'])
    expect(set.size).toBe(2)
    expect(set.take('a')).toBe(true)
    expect(set.take('a')).toBe(false)
    expect(set.size).toBe(1)
    expect(set.pending()).toEqual([[5, 'b']])
  })

  it('tells keys of different types apart', () => {
    const set = new SkipSet([1, 2], [1n, '2'])
    expect(set.take(1)).toBe(false)
    expect(set.take(2)).toBe(false)
    expect(set.take(1n)).toBe(true)
    expect(set.take('2')).toBe(true)
  })

  it('dropBelow forgets entries the generator went past', () => {
    const set = new SkipSet([3, 5, 8, 9], ['a', 'b', 'c', 'd'])
    set.dropBelow(8)
    expect(set.pending()).toEqual([
      [8, 'c'],
      [9, 'd'],
    ])
    set.dropBelow(100)
    expect(set.size).toBe(0)
  })

  it('keeps the last seq of a key given twice', () => {
    const set = new SkipSet([3, 7], ['a', 'a'])
    expect(set.pending()).toEqual([[7, 'a']])
  })
})
