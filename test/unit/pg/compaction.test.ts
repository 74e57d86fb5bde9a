import { describe, expect, it } from 'vitest'
import { Compaction, aboveFloor } from '../../../src/pg/compaction.js'

describe('Compaction', () => {
  it('deletes, once the durable position moved, every claim of the incarnation below it; nothing while it stands still', () => {
    const compaction = new Compaction()
    compaction.runIs('run')
    expect(compaction.next('a', 0)).toBeUndefined()
    const first = compaction.next('a', 100)
    expect(first).toEqual({ incarnation: 'a', below: 100 })
    compaction.ended(first!, true)
    expect(compaction.next('a', 100)).toBeUndefined()
    expect(compaction.next('a', 90)).toBeUndefined()
    expect(compaction.next('a', 250)).toEqual({ incarnation: 'a', below: 250 })
  })

  it('runs one at a time; one that failed is covered by the next, the range being cumulative', () => {
    const compaction = new Compaction()
    compaction.runIs('run')
    const range = compaction.next('a', 10)!
    expect(compaction.next('a', 20)).toBeUndefined()
    compaction.ended(range, false)
    expect(compaction.next('a', 10)).toEqual({ incarnation: 'a', below: 10 })
  })

  it('a new incarnation (a master restart) compacts its own range from its first durable position', () => {
    const compaction = new Compaction()
    compaction.runIs('run')
    compaction.ended(compaction.next('a', 500)!, true)
    expect(compaction.next('b', 40)).toEqual({ incarnation: 'b', below: 40 })
  })

  it('another run starts over; the same run keeps what was done', () => {
    const compaction = new Compaction()
    compaction.runIs('one')
    compaction.ended(compaction.next('a', 50)!, true)
    compaction.runIs('one')
    expect(compaction.next('a', 50)).toBeUndefined()
    compaction.runIs('two')
    expect(compaction.next('a', 50)).toEqual({ incarnation: 'a', below: 50 })
  })
})

describe('aboveFloor', () => {
  it('keeps the jobs claimed at or above the floor; those below are done; no floor keeps every one', () => {
    const seqs = [5, 9, 10, 12]
    expect(aboveFloor(undefined, seqs, null)).toBeUndefined()
    expect(aboveFloor([1, 3], seqs, null)).toEqual([1, 3])
    expect(aboveFloor(undefined, seqs, '5')).toBeUndefined()
    expect(aboveFloor(undefined, seqs, '10')).toEqual([2, 3])
    expect(aboveFloor([0, 1, 3], seqs, '10')).toEqual([3])
    expect(aboveFloor(undefined, seqs, '13')).toEqual([])
    expect(aboveFloor(undefined, seqs, '9223372036854775807')).toEqual([])
  })
})
