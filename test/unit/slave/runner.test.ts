import { describe, expect, it } from 'vitest'
import { jobsMessage } from '../../../src/protocol/jobs-batch.js'
import { Runner } from '../../../src/slave/runner.js'

/** What the runner reported, in order: `seq:report` or `seq:fail:<message>`. */
type Event = string

/** Waits until `events` has `n` entries (the lanes run on promises; no timers needed). */
async function settle(events: Event[], n: number): Promise<void> {
  for (let i = 0; i < 1000 && events.length < n; i++) await new Promise((resolve) => setImmediate(resolve))
  expect(events).toHaveLength(n)
}

/** Jobs { id } with seqs `from`..`from + n - 1`, first attempts. */
const batch = (from: number, n: number) =>
  jobsMessage(
    Array.from({ length: n }, (_, i) => from + i),
    Array.from({ length: n }, (_, i) => ({ id: from + i })),
    new Array<number>(n).fill(1),
  )

/** A handler that never settles for the ids in `hang` and ignores its signal; records the others. */
function hangingHandler(hang: Set<number>, ran: number[], release?: Map<number, () => void>) {
  return (job: unknown): Promise<void> => {
    const { id } = job as { id: number }
    ran.push(id)
    if (hang.has(id)) return new Promise((resolve) => release?.set(id, resolve))
    return Promise.resolve()
  }
}

describe('Runner', () => {
  it('frees the slot of an abandoned running job at once, though its handler never settles', async () => {
    const events: Event[] = []
    const ran: number[] = []
    const runner = new Runner({
      handler: hangingHandler(new Set([0]), ran),
      concurrency: 1,
      onFinished: (seq, _c, failure, report) => events.push(failure ? `${seq}:fail:${failure.message}` : `${seq}:${report}`),
    })
    runner.push(batch(0, 3), 1)
    await new Promise((resolve) => setImmediate(resolve))
    expect([ran, events, runner.running, runner.queued]).toEqual([[0], [], 1, 2])

    runner.abandon(0, 1)
    // The slot is given back without a report; a fresh lane runs the rest.
    expect(events).toEqual(['0:false'])
    expect([runner.running, runner.orphans]).toEqual([0, 1])
    await settle(events, 3)
    expect(events).toEqual(['0:false', '1:true', '2:true'])
    expect(ran).toEqual([0, 1, 2])
    await runner.idle()
  })

  it('forgets an orphan once its handler settles, reporting nothing', async () => {
    const events: Event[] = []
    const release = new Map<number, () => void>()
    const runner = new Runner({
      handler: hangingHandler(new Set([0]), [], release),
      concurrency: 1,
      onFinished: (seq, _c, failure, report) => events.push(`${seq}:${report}`),
    })
    runner.push(batch(0, 1), 1)
    await new Promise((resolve) => setImmediate(resolve))
    runner.abandon(0, 1)
    expect(runner.orphans).toBe(1)
    release.get(0)!()
    for (let i = 0; i < 10 && runner.orphans > 0; i++) await new Promise((resolve) => setImmediate(resolve))
    expect([runner.orphans, events]).toEqual([0, ['0:false']])
  })

  it('does not run a queued job abandoned in the same frame as the running one', async () => {
    const events: Event[] = []
    const ran: number[] = []
    const runner = new Runner({
      handler: hangingHandler(new Set([0]), ran),
      concurrency: 1,
      onFinished: (seq, _c, failure, report) => events.push(`${seq}:${report}`),
    })
    runner.push(batch(0, 3), 1)
    await new Promise((resolve) => setImmediate(resolve))
    runner.abandon(0, 1)
    runner.abandon(1, 1)
    await settle(events, 3)
    expect(events).toEqual(['0:false', '1:false', '2:true'])
    expect(ran).toEqual([0, 2])
  })

  it('calls onAbandoned when the abandoned jobs still running reach the limit', async () => {
    const events: Event[] = []
    const counts: number[] = []
    const runner = new Runner({
      handler: hangingHandler(new Set([0, 1, 2]), []),
      concurrency: 2,
      onFinished: (seq, _c, failure, report) => events.push(`${seq}:${report}`),
      onAbandoned: (count) => counts.push(count),
      abandonedLimit: 2,
    })
    runner.push(batch(0, 4), 1)
    await new Promise((resolve) => setImmediate(resolve))
    runner.abandon(0, 1)
    expect(counts).toEqual([])
    await new Promise((resolve) => setImmediate(resolve))
    // The fresh lane took job 2 (which hangs too); abandoning 1 reaches the limit.
    runner.abandon(1, 1)
    expect(counts).toEqual([2])
    await new Promise((resolve) => setImmediate(resolve))
    runner.abandon(2, 1)
    expect(counts).toEqual([2, 3])
    await settle(events, 4)
    expect(events).toEqual(['0:false', '1:false', '3:true', '2:false'])
  })

  it('reports a handler that throws an unprintable value as a failure, and goes on', async () => {
    const events: Event[] = []
    const runner = new Runner({
      handler: (job: unknown) => {
        if ((job as { id: number }).id === 1) throw Object.create(null)
      },
      concurrency: 1,
      onFinished: (seq, _c, failure, report) => events.push(failure ? `${seq}:fail:${failure.message}` : `${seq}:${report}`),
    })
    runner.push(batch(0, 3), 1)
    await settle(events, 3)
    expect(events).toEqual(['0:true', '1:fail:Handler threw a non-Error value: [object Object]', '2:true'])
  })
})
