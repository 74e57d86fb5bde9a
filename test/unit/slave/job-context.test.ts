import { describe, expect, it } from 'vitest'
import { JobContext } from '../../../src/slave/job-context.js'

describe('JobContext', () => {
  it('aborts the signal of the running job with the reason given', () => {
    const ctx = new JobContext()
    ctx.begin(7, 2)
    const signal = ctx.signal
    const reason = new Error('taken back')
    ctx.abort(reason)
    expect([signal.aborted, signal.reason, ctx.attempt, ctx.seq]).toEqual([true, reason, 2, 7])
  })

  it('hands an aborted signal to a handler that reads it only after the abort', () => {
    const ctx = new JobContext()
    ctx.begin(7, 1)
    ctx.abort(new Error('taken back'))
    expect(ctx.signal.aborted).toBe(true)
  })

  it('starts each job with a fresh signal', () => {
    const ctx = new JobContext()
    ctx.begin(1, 1)
    ctx.abort(new Error('taken back'))
    ctx.end()
    ctx.begin(2, 1)
    expect([ctx.signal.aborted, ctx.seq]).toEqual([false, 2])
  })
})
