import { describe, expect, it, vi } from 'vitest'
import type { BatchContext } from '../../../src/options.js'
import { jobsMessage } from '../../../src/protocol/jobs-batch.js'
import { Runner } from '../../../src/slave/runner.js'

/** Waits until `events` has `n` entries. */
async function settle(events: string[], n: number): Promise<void> {
  for (let i = 0; i < 5000 && events.length < n; i++) await new Promise((resolve) => setImmediate(resolve))
  expect(events).toHaveLength(n)
}

/** Lets the runner do all it can without the clock moving (a few turns of the event loop). */
async function turns(): Promise<void> {
  for (let i = 0; i < 20; i++) await new Promise((resolve) => setImmediate(resolve))
}

/** Waits (on real timers) until `events` has `n` entries. */
async function until(events: string[], n: number): Promise<void> {
  for (let i = 0; i < 2000 && events.length < n; i++) await new Promise((resolve) => setTimeout(resolve, 5))
  expect(events).toHaveLength(n)
}

const ids = (from: number, n: number): number[] => Array.from({ length: n }, (_, i) => from + i)
/** Jobs { id } with seqs `from`.., attempts all `attempt`. */
const batch = (from: number, n: number, attempt = 1) =>
  jobsMessage(
    ids(from, n),
    ids(from, n).map((id) => ({ id })),
    new Array<number>(n).fill(attempt),
  )

function runner(
  handler: (jobs: { id: number }[], ctx: BatchContext) => unknown,
  options: { size: number; linger?: number; concurrency?: number },
) {
  const events: string[] = []
  const released: number[][] = []
  const r = new Runner({
    batching: { handler: handler as never, size: options.size, linger: options.linger ?? 0, onReleased: (seqs) => released.push(seqs) },
    concurrency: options.concurrency ?? 1,
    onFinished: (seq, _c, failure, report) => events.push(failure ? `${seq}:fail:${failure.message}` : `${seq}:${report}`),
  })
  return { r, events, released }
}

describe('Runner with a batch handler', () => {
  it('hands the handler batches of up to `size` jobs, in order', async () => {
    const calls: number[][] = []
    const { r, events } = runner((jobs) => void calls.push(jobs.map((j) => j.id)), { size: 4 })
    r.push(batch(0, 10), 1)
    await settle(events, 10)
    expect(calls).toEqual([
      [0, 1, 2, 3],
      [4, 5, 6, 7],
      [8, 9],
    ])
    expect(events).toEqual(ids(0, 10).map((s) => `${s}:true`))
  })

  it('splits a throwing batch in halves down to the bad job: it fails alone with its error, the other 999 are done', async () => {
    let calls = 0
    const { r, events } = runner(
      (jobs) => {
        calls++
        if (jobs.some((j) => j.id === 617)) throw new Error('row 617 is poison')
      },
      { size: 1000 },
    )
    r.push(batch(0, 1000), 1)
    await settle(events, 1000)
    expect(events.filter((e) => e.includes('fail'))).toEqual(['617:fail:row 617 is poison'])
    expect(events.filter((e) => e.endsWith(':true')).length).toBe(999)
    // One call for the batch, then two halves per level of 10: 1 + 2 × 10.
    expect(calls).toBe(21)
    await r.idle()
    expect(r.running).toBe(0)
  })

  it('fails just the jobs a handler returns, by index or by the job itself', async () => {
    const { r, events } = runner(
      (jobs) => [
        { index: 1, error: new Error('bad index 1') },
        { job: jobs[3], error: new Error('bad job 3') },
      ],
      { size: 5 },
    )
    r.push(batch(0, 5), 1)
    await settle(events, 5)
    expect(events).toEqual(['0:true', '1:fail:bad index 1', '2:true', '3:fail:bad job 3', '4:true'])
  })

  it('runs a retried job (attempt > 1) alone', async () => {
    const calls: number[][] = []
    const { r, events } = runner((jobs) => void calls.push(jobs.map((j) => j.id)), { size: 10 })
    r.push(batch(0, 2), 1)
    r.push(batch(2, 1, 2), 1)
    r.push(batch(3, 2), 1)
    await settle(events, 5)
    expect(calls).toEqual([[0, 1], [2], [3, 4]])
  })

  it('waits up to `linger` ms to fill a batch, and no longer', async () => {
    // On a fake clock: the lane runs a partial batch when `linger` ms have passed, not a
    // millisecond sooner, with no close() or more jobs to end the wait.
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] })
    try {
      const calls: number[][] = []
      const { r, events } = runner((jobs) => void calls.push(jobs.map((j) => j.id)), { size: 4, linger: 1000 })
      r.push(batch(0, 2), 1)
      await turns()
      vi.advanceTimersByTime(999)
      await turns()
      expect(calls).toEqual([])
      // Jobs that come within `linger` fill the batch: it runs at once, full.
      r.push(batch(2, 3), 1)
      await settle(events, 4)
      expect(calls).toEqual([[0, 1, 2, 3]])
      // The job left over waits `linger` ms for company, then runs alone.
      await turns()
      vi.advanceTimersByTime(999)
      await turns()
      expect(calls).toEqual([[0, 1, 2, 3]])
      vi.advanceTimersByTime(1)
      await settle(events, 5)
      expect(calls).toEqual([[0, 1, 2, 3], [4]])
      // close() ends the wait: a partial batch runs at once.
      r.push(batch(5, 1), 1)
      await turns()
      expect(calls).toEqual([[0, 1, 2, 3], [4]])
      r.close()
      await settle(events, 6)
      expect(calls).toEqual([[0, 1, 2, 3], [4], [5]])
    } finally {
      vi.useRealTimers()
    }
  })

  it('a job taken back from a running batch: the call is abandoned, its signal aborted, the other pending jobs released', async () => {
    let signal: AbortSignal | undefined
    const { r, events, released } = runner(
      (jobs, ctx) => {
        if (jobs[0].id === 0) {
          signal = ctx.signal
          return new Promise(() => {})
        }
      },
      { size: 3 },
    )
    r.push(batch(0, 3), 1)
    await new Promise((resolve) => setImmediate(resolve))
    expect(r.running).toBe(3)
    r.abandon(1, 1)
    expect(signal?.aborted).toBe(true)
    expect(released).toEqual([[0, 2]])
    expect(events).toEqual(['0:false', '1:false', '2:false'])
    expect([r.running, r.orphans]).toEqual([0, 1])
    // A fresh lane takes the slot.
    r.push(batch(3, 2), 1)
    await settle(events, 5)
    expect(events.slice(3)).toEqual(['3:true', '4:true'])
  })

  it('ctx.attempts follows the jobs of each call, halves included', async () => {
    const seen: number[][] = []
    const { r, events } = runner(
      (jobs, ctx) => {
        seen.push([...ctx.attempts])
        if (jobs.length > 1) throw new Error('split')
      },
      { size: 2 },
    )
    r.push(batch(0, 2), 1)
    await settle(events, 2)
    expect(seen).toEqual([[1, 1], [1], [1]])
  })

  it('a call past the call timeout is abandoned and split in halves down to the job that hangs it: that job alone fails with the timeout', async () => {
    const calls: number[][] = []
    const reasons: unknown[] = []
    const { r, events, released } = runner(
      (jobs, ctx) => {
        calls.push(jobs.map((j) => j.id))
        if (jobs.some((j) => j.id === 5)) {
          ctx.signal.addEventListener('abort', () => reasons.push((ctx.signal.reason as Error).message))
          return new Promise(() => {})
        }
        return Promise.resolve()
      },
      { size: 8 },
    )
    r.timeCalls(0.02)
    r.push(batch(0, 8), 1)
    await until(events, 8)
    expect(calls).toEqual([[0, 1, 2, 3, 4, 5, 6, 7], [0, 1, 2, 3], [4, 5, 6, 7], [4, 5], [4], [5], [6, 7]])
    expect(events).toEqual([
      '0:true',
      '1:true',
      '2:true',
      '3:true',
      '4:true',
      '5:fail:Timed out after 0.02 s (--job-timeout)',
      '6:true',
      '7:true',
    ])
    expect(reasons).toEqual(new Array(4).fill('Timed out after 0.02 s (--job-timeout)'))
    // Nothing went back to the master: no neighbour left the batch uncharged, none was charged.
    expect(released).toEqual([])
    expect([r.running, r.orphans]).toEqual([0, 4])
    // The lanes that took over go on with what comes next.
    r.push(batch(8, 2), 1)
    await until(events, 10)
    expect(events.slice(8)).toEqual(['8:true', '9:true'])
  })

  it('times out no call without a call timeout', async () => {
    const { r, events } = runner((jobs) => (jobs.length > 1 ? new Promise((resolve) => setTimeout(resolve, 50)) : undefined), { size: 2 })
    r.timeCalls(0)
    r.push(batch(0, 2), 1)
    await until(events, 2)
    expect(events).toEqual(['0:true', '1:true'])
    expect(r.orphans).toBe(0)
  })
})
