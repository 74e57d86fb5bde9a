import { afterEach, describe, expect, it, vi } from 'vitest'
import type { BatchContext } from '../../../src/options.js'
import { jobsMessage } from '../../../src/protocol/jobs-batch.js'
import type { BatchLane } from '../../../src/slave/batch-strategy.js'
import { BatchStrategy } from '../../../src/slave/batch-strategy.js'
import { JobQueue } from '../../../src/slave/job-queue.js'
import { emptyScope } from '../../../src/slave/run-scope.js'
import { recordingHost } from '../../helpers/lane-host.js'

const ids = (from: number, n: number): number[] => Array.from({ length: n }, (_, i) => from + i)
/** Jobs { id } with seqs `from`.., attempts all `attempt`. */
const batch = (from: number, n: number, attempt = 1) =>
  jobsMessage(
    ids(from, n),
    ids(from, n).map((id) => ({ id })),
    new Array<number>(n).fill(attempt),
  )

type BatchFn = (jobs: { id: number }[], ctx: BatchContext) => unknown

function setup(handler: BatchFn = () => {}, options: { size?: number; linger?: number; skip?: string[] } = {}) {
  const { host, said, heirs } = recordingHost(options.skip)
  const released: string[] = []
  const strategy = new BatchStrategy(
    {
      handler: handler as never,
      size: options.size ?? 4,
      linger: options.linger ?? 0,
      onReleased: (seqs, connection) => void released.push(`${seqs.join(',')} (connection ${connection})`),
    },
    emptyScope(),
    host,
  )
  return { strategy, queue: new JobQueue(), said, heirs, released, lane: strategy.lane() }
}

/** Runs `lane`'s calls with sync results until it has none left; the ids of each call. */
function runCalls(strategy: BatchStrategy, lane: BatchLane): number[][] {
  const calls: number[][] = []
  let more = true
  while (more) {
    let result: unknown
    let thrown = false
    try {
      result = strategy.call(lane)
    } catch (error) {
      result = error
      thrown = true
    }
    calls.push(lane.calling.map((job) => (job as { id: number }).id))
    more = strategy.settle(lane, result, thrown)
  }
  return calls
}

afterEach(() => void vi.useRealTimers())

describe('BatchStrategy', () => {
  it('takes up to `size` jobs of one connection across the batches they came in', () => {
    const { strategy, queue, said, lane } = setup()
    queue.push(batch(0, 3), 1)
    queue.push(batch(3, 3), 1)
    queue.push(batch(6, 1), 2)
    expect(strategy.take(lane, queue)).toBe(true)
    expect([lane.seqs, lane.connection, queue.length]).toEqual([[0, 1, 2, 3], 1, 3])
    expect(strategy.busy(lane)).toBe(true)
    runCalls(strategy, lane)
    expect(strategy.busy(lane)).toBe(false)
    // The rest of connection 1, not the job of connection 2.
    strategy.take(lane, queue)
    expect([lane.seqs, lane.connection]).toEqual([[4, 5], 1])
    runCalls(strategy, lane)
    strategy.take(lane, queue)
    expect([lane.seqs, lane.connection]).toEqual([[6], 2])
    expect(said.filter((line) => line.startsWith('started'))).toEqual(['started 4', 'started 2', 'started 1'])
  })

  it('calls the handler as a plain function: its `this` is not the strategy (its frame is not named after it)', () => {
    const receivers: unknown[] = []
    const { strategy, queue, lane } = setup(function (this: unknown) {
      receivers.push(this)
    })
    queue.push(batch(0, 2), 1)
    strategy.take(lane, queue)
    runCalls(strategy, lane)
    expect(receivers).toEqual([undefined])
  })

  it('takes a retry (attempt > 1) alone, and leaves out jobs taken back while queued', () => {
    const { strategy, queue, said, lane } = setup(undefined, { skip: ['1:1'] })
    queue.push(batch(0, 2), 1)
    queue.push(batch(2, 1, 2), 1)
    queue.push(batch(3, 2), 1)
    strategy.take(lane, queue)
    expect(lane.seqs).toEqual([0])
    expect(said).toEqual(['skipped 1 (connection 1)', 'started 1'])
    runCalls(strategy, lane)
    strategy.take(lane, queue)
    expect([lane.seqs, lane.attempts]).toEqual([[2], [2]])
    runCalls(strategy, lane)
    strategy.take(lane, queue)
    expect(lane.seqs).toEqual([3, 4])
  })

  it('takes nothing to run when every job it took was taken back', () => {
    const { strategy, queue, said, lane } = setup(undefined, { skip: ['0:1', '1:1'] })
    queue.push(batch(0, 2), 1)
    expect(strategy.take(lane, queue)).toBe(false)
    expect([said, queue.length]).toEqual([['skipped 0 (connection 1)', 'skipped 1 (connection 1)'], 0])
  })

  it('lingers for a full batch only when it can fill: not with a batch queued, a retry first, a closed queue or no linger', () => {
    const { strategy, queue } = setup(undefined, { linger: 50 })
    queue.push(batch(0, 2), 1)
    expect(strategy.ready(queue)).toBeInstanceOf(Promise)
    queue.push(batch(2, 2), 1)
    expect(strategy.ready(queue)).toBeUndefined()
    const retry = new JobQueue()
    retry.push(batch(0, 1, 2), 1)
    expect(strategy.ready(retry)).toBeUndefined()
    const closed = new JobQueue()
    closed.push(batch(0, 1), 1)
    closed.close()
    expect(strategy.ready(closed)).toBeUndefined()
    const eager = setup(undefined, { linger: 0 })
    eager.queue.push(batch(0, 1), 1)
    expect(eager.strategy.ready(eager.queue)).toBeUndefined()
  })

  it('splits a thrown call in halves down to the bad job, which fails alone; ctx.attempts follows each call', () => {
    const attempts: number[][] = []
    const { strategy, queue, said, lane } = setup((jobs, ctx) => {
      attempts.push([...ctx.attempts])
      if (jobs.some((job) => job.id === 2)) throw new Error('row 2 is poison')
    })
    queue.push(batch(0, 4), 1)
    strategy.take(lane, queue)
    expect(runCalls(strategy, lane)).toEqual([[0, 1, 2, 3], [0, 1], [2, 3], [2], [3]])
    expect(attempts).toEqual([[1, 1, 1, 1], [1, 1], [1, 1], [1], [1]])
    expect(said).toEqual([
      'started 4',
      'ended 0 attempt 1 (connection 1)',
      'ended 1 attempt 1 (connection 1)',
      'ended 2 attempt 1 (connection 1): row 2 is poison',
      'ended 3 attempt 1 (connection 1)',
    ])
  })

  it('fails the jobs the handler returns as failed, and splits a call whose returned failures name no job of it', () => {
    const { strategy, queue, said, lane } = setup((jobs) =>
      jobs.length === 4 ? [{ index: 9, error: new Error('no such job') }] : [{ job: jobs[0], error: new Error(`bad ${jobs[0].id}`) }],
    )
    queue.push(batch(0, 4), 1)
    strategy.take(lane, queue)
    expect(runCalls(strategy, lane)).toEqual([
      [0, 1, 2, 3],
      [0, 1],
      [2, 3],
    ])
    expect(said.slice(1)).toEqual([
      'ended 0 attempt 1 (connection 1): bad 0',
      'ended 1 attempt 1 (connection 1)',
      'ended 2 attempt 1 (connection 1): bad 2',
      'ended 3 attempt 1 (connection 1)',
    ])
  })

  it('a job taken back: its call is given up, the other pending jobs released and dropped, the settled ones left alone', () => {
    const { strategy, queue, said, released, lane } = setup((jobs) => {
      if (jobs.length > 2) throw new Error('split')
    })
    queue.push(batch(0, 4), 3)
    strategy.take(lane, queue)
    // The whole batch throws; its first half is done, the second is the call running.
    expect(() => strategy.call(lane)).toThrow('split')
    strategy.settle(lane, new Error('split'), true)
    strategy.call(lane)
    strategy.settle(lane, undefined, false)
    strategy.call(lane)
    expect([strategy.holds(lane, 0, 1), strategy.holds(lane, 3, 1), strategy.holds(lane, 3, 2)]).toEqual([-1, 3, -1])
    strategy.takenBack(lane, 3)
    expect(released).toEqual(['2 (connection 3)'])
    expect(said.slice(3)).toEqual(['dropped 2 (connection 3)', 'dropped 3 (connection 3)'])
    expect(strategy.holds(lane, 2, 1)).toBe(-1)
  })

  it('times out a call past --job-timeout: orphaned, its jobs split for an heir lane; a lone job fails with the timeout', () => {
    vi.useFakeTimers()
    const reasons: string[] = []
    const { strategy, queue, said, heirs, lane } = setup((_jobs, ctx) => {
      ctx.signal.addEventListener('abort', () => reasons.push((ctx.signal.reason as Error).message))
      return new Promise(() => {})
    })
    strategy.timeCalls(2)
    queue.push(batch(0, 2), 1)
    strategy.take(lane, queue)
    strategy.call(lane)
    strategy.awaiting(lane)
    vi.advanceTimersByTime(1999)
    expect(said).toEqual(['started 2'])
    vi.advanceTimersByTime(1)
    expect(said).toEqual(['started 2', 'orphan: Timed out after 2 s (--job-timeout)', 'replaced by an heir'])
    expect(reasons).toEqual(['Timed out after 2 s (--job-timeout)'])
    const heir = heirs[0] as BatchLane
    expect([heir.seqs, heir.ranges, heir.orphaned, strategy.busy(heir)]).toEqual([[0, 1], [1, 2, 0, 1], false, true])
    // The heir's first half hangs too: job 0 fails alone with the timeout.
    strategy.call(heir)
    strategy.awaiting(heir)
    vi.advanceTimersByTime(2000)
    expect(said.slice(3)).toEqual([
      'orphan: Timed out after 2 s (--job-timeout)',
      'ended 0 attempt 1 (connection 1): Timed out after 2 s (--job-timeout)',
      'replaced by an heir',
    ])
    expect((heirs[1] as BatchLane).ranges).toEqual([1, 2])
  })

  it('times out no call without a call timeout, nor a call that settled in time', () => {
    vi.useFakeTimers()
    const { strategy, queue, said, lane } = setup(() => Promise.resolve())
    queue.push(batch(0, 2), 1)
    strategy.take(lane, queue)
    strategy.call(lane)
    strategy.awaiting(lane)
    vi.advanceTimersByTime(60_000)
    strategy.settle(lane, undefined, false)
    strategy.timeCalls(1)
    queue.push(batch(2, 2), 1)
    strategy.take(lane, queue)
    strategy.call(lane)
    strategy.awaiting(lane)
    strategy.settle(lane, undefined, false)
    vi.advanceTimersByTime(60_000)
    expect(said.filter((line) => line.startsWith('orphan'))).toEqual([])
  })

  it('a call taken back stops its timer', () => {
    vi.useFakeTimers()
    const { strategy, queue, said, lane } = setup(() => new Promise(() => {}))
    strategy.timeCalls(1)
    queue.push(batch(0, 2), 1)
    strategy.take(lane, queue)
    strategy.call(lane)
    strategy.awaiting(lane)
    strategy.takenBack(lane, 0)
    vi.advanceTimersByTime(60_000)
    expect(said.filter((line) => line.startsWith('orphan'))).toEqual([])
  })
})
