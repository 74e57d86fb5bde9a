import { describe, expect, it } from 'vitest'
import { appendRange, appendSeq, countOf, rangesOf, seqsOfRanges } from '../../../src/protocol/ranges.js'

describe('ranges', () => {
  it('appendSeq extends the last run when the seq follows it, else starts a run', () => {
    const ranges: number[] = []
    for (const seq of [4, 5, 6, 9, 3, 4]) appendSeq(ranges, seq)
    expect(ranges).toEqual([4, 3, 9, 1, 3, 2])
  })

  it('appendRange merges a run that follows the last one', () => {
    const ranges: number[] = []
    appendRange(ranges, 10, 5)
    appendRange(ranges, 15, 2)
    appendRange(ranges, 20, 1)
    expect(ranges).toEqual([10, 7, 20, 1])
  })

  it('rangesOf, seqsOfRanges and countOf agree, order kept', () => {
    const seqs = [0, 1, 2, 7, 5, 6, 5e9, 5e9 + 1]
    const ranges = rangesOf(seqs)
    expect(ranges).toEqual([0, 3, 7, 1, 5, 2, 5e9, 2])
    expect(seqsOfRanges(ranges)).toEqual(seqs)
    expect(countOf(ranges)).toBe(seqs.length)
    expect([rangesOf([]), seqsOfRanges([]), countOf([])]).toEqual([[], [], 0])
  })
})
