import { describe, expect, it } from 'vitest'
import { decodeMasterMessage, encode } from '../../../src/protocol/codec.js'
import { attemptAt, jobsMessage, seqAt, seqsOf } from '../../../src/protocol/jobs-batch.js'

describe('jobsMessage', () => {
  it('sends consecutive first tries as `first` alone', () => {
    expect(jobsMessage([7, 8, 9], ['a', 'b', 'c'], [1, 1, 1])).toEqual({ type: 'jobs', first: 7, jobs: ['a', 'b', 'c'] })
  })

  it('lists the seqs when they are not consecutive, and the attempts when one is a retry', () => {
    const message = jobsMessage([3, 9], ['x', 'y'], [1, 2])
    expect(message).toEqual({ type: 'jobs', seqs: [3, 9], jobs: ['x', 'y'], attempts: [1, 2] })
    expect([seqAt(message, 1), attemptAt(message, 1), attemptAt(message, 0)]).toEqual([9, 2, 1])
  })

  it('reads seqs and attempts back from either form, through the codec', () => {
    for (const [seqs, attempts] of [
      [
        [5, 6, 7],
        [1, 1, 1],
      ],
      [
        [5, 7, 6],
        [1, 3, 1],
      ],
    ]) {
      const decoded = decodeMasterMessage(encode(jobsMessage(seqs, ['a', 'b', 'c'], attempts)))
      if (decoded.type !== 'jobs') throw new Error('not a jobs message')
      expect(seqsOf(decoded)).toEqual(seqs)
      expect(seqsOf(decoded, 1)).toEqual(seqs.slice(1))
      expect([0, 1, 2].map((i) => attemptAt(decoded, i))).toEqual(attempts)
    }
  })

  it('is refused by the codec without first or seqs, or with both, or with attempts of another length', () => {
    for (const [bad, text] of [
      [{ type: 'jobs', jobs: [1] }, 'expected `first` to be a sequence number (or `seqs` given)'],
      [{ type: 'jobs', first: 1, seqs: [1], jobs: [1] }, 'expected `first` to be absent when `seqs` is given'],
      [{ type: 'jobs', first: 1, jobs: [1, 2], attempts: [1] }, 'expected `attempts` to be an array of 2 numbers'],
      [{ type: 'jobs', seqs: [1], jobs: [1, 2] }, 'expected `seqs` to be an array of 2 sequence numbers'],
    ] as const) {
      expect(() => decodeMasterMessage(encode(bad as never))).toThrow(text)
    }
  })
})
