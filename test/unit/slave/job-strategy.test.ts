import { describe, expect, it } from 'vitest'
import type { HandlerContext } from '../../../src/options.js'
import { jobsMessage } from '../../../src/protocol/jobs-batch.js'
import { JobQueue } from '../../../src/slave/job-queue.js'
import type { JobLane } from '../../../src/slave/job-strategy.js'
import { JobStrategy } from '../../../src/slave/job-strategy.js'
import type { LaneStrategy } from '../../../src/slave/lane-strategy.js'
import { emptyScope } from '../../../src/slave/run-scope.js'
import { recordingHost } from '../../helpers/lane-host.js'

/** A strategy over `handler`, a queue holding jobs { id } with seqs 10, 11, 12 (attempts 1, 2, 1) from connection 7, and what its host was told. */
function setup(handler: (job: { id: number }, ctx: HandlerContext) => unknown = () => {}, skip: string[] = []) {
  const { host, said } = recordingHost(skip)
  // Seen as the runner sees it.
  const strategy: LaneStrategy<JobLane> = new JobStrategy(handler as never, emptyScope(), host)
  const queue = new JobQueue()
  queue.push(jobsMessage([10, 11, 12], [{ id: 0 }, { id: 1 }, { id: 2 }], [1, 2, 1]), 7)
  return { strategy, queue, said, lane: strategy.lane() }
}

describe('JobStrategy', () => {
  it('takes one job at a time: the lane holds it, its context names its seq and attempt', () => {
    const seen: string[] = []
    const { strategy, queue, said, lane } = setup((job, ctx) => void seen.push(`${job.id} attempt ${ctx.attempt}`))
    expect(strategy.busy(lane)).toBe(false)
    expect(strategy.ready(queue)).toBeUndefined()
    expect(strategy.take(lane, queue)).toBe(true)
    expect([lane.ctx.seq, lane.ctx.attempt, lane.connection, queue.length]).toEqual([10, 1, 7, 2])
    expect(strategy.call(lane)).toBeUndefined()
    expect(strategy.settle(lane, undefined, false)).toBe(false)
    expect(strategy.take(lane, queue)).toBe(true)
    strategy.call(lane)
    strategy.settle(lane, undefined, false)
    expect(seen).toEqual(['0 attempt 1', '1 attempt 2'])
    expect(said).toEqual(['started 1', 'ended 10 attempt 1 (connection 7)', 'started 1', 'ended 11 attempt 2 (connection 7)'])
    // Between jobs the context names none.
    expect(lane.ctx.seq).toBe(-1)
  })

  it('calls the handler as a plain function: its `this` is not the strategy (its frame is not named after it)', () => {
    const receivers: unknown[] = []
    const { strategy, queue, lane } = setup(function (this: unknown) {
      receivers.push(this)
    })
    strategy.take(lane, queue)
    strategy.call(lane)
    expect(receivers).toEqual([undefined])
  })

  it('reports what the handler threw as the failure of its job', () => {
    const { strategy, queue, said, lane } = setup()
    strategy.take(lane, queue)
    strategy.settle(lane, new Error('row 10 is bad'), true)
    expect(said).toEqual(['started 1', 'ended 10 attempt 1 (connection 7): row 10 is bad'])
  })

  it('runs no job taken back while queued', () => {
    const { strategy, queue, said, lane } = setup(undefined, ['10:1'])
    expect(strategy.take(lane, queue)).toBe(false)
    expect(said).toEqual(['skipped 10 (connection 7)'])
    expect(strategy.take(lane, queue)).toBe(true)
    expect(lane.ctx.seq).toBe(11)
  })

  it('holds only the attempt it runs; taken back, the job is dropped unreported', () => {
    const { strategy, queue, said, lane } = setup()
    strategy.take(lane, queue)
    strategy.take(lane, queue)
    expect([strategy.holds(lane, 11, 2), strategy.holds(lane, 11, 1), strategy.holds(lane, 10, 1)]).toEqual([0, -1, -1])
    strategy.takenBack(lane, 0)
    expect(said.at(-1)).toBe('dropped 11 (connection 7)')
  })

  it('times no call: the master times jobs out', async () => {
    const { strategy, queue, said, lane } = setup(() => new Promise(() => {}))
    strategy.timeCalls(0.001)
    strategy.take(lane, queue)
    strategy.call(lane)
    strategy.awaiting(lane)
    await new Promise((resolve) => setTimeout(resolve, 20))
    expect(said).toEqual(['started 1'])
  })
})
