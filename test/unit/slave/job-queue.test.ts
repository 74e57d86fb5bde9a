import { afterEach, describe, expect, it, vi } from 'vitest'
import { jobsMessage } from '../../../src/protocol/jobs-batch.js'
import { JobQueue } from '../../../src/slave/job-queue.js'

const batch = (from: number, n: number) =>
  jobsMessage(
    Array.from({ length: n }, (_, i) => from + i),
    Array.from({ length: n }, (_, i) => ({ id: from + i })),
    new Array<number>(n).fill(1),
  )

/** Whether `promise` has settled after a turn of the event loop. */
async function settled(promise: Promise<void>): Promise<boolean> {
  let done = false
  void promise.then(() => (done = true))
  await new Promise((resolve) => setImmediate(resolve))
  return done
}

afterEach(() => void vi.useRealTimers())

describe('JobQueue', () => {
  it('hands out jobs in order, batch after batch, and ignores an empty batch', () => {
    const queue = new JobQueue()
    queue.push(batch(0, 2), 1)
    queue.push(batch(2, 0), 1)
    queue.push(batch(2, 1), 2)
    expect(queue.length).toBe(3)
    const taken: string[] = []
    while (queue.head !== undefined) {
      const head = queue.head
      taken.push(`${head.connection}:${queue.take()}`)
    }
    expect([taken, queue.length]).toEqual([['1:0', '1:1', '2:0'], 0])
  })

  it('clear() hands back each batch from its next job', () => {
    const queue = new JobQueue()
    queue.push(batch(0, 3), 1)
    queue.push(batch(3, 2), 1)
    queue.take()
    const cleared = queue.clear()
    expect(cleared.map((b) => b.next)).toEqual([1, 0])
    expect([queue.length, queue.head]).toEqual([0, undefined])
  })

  it('wakes the lanes waiting for a job when one is queued, or when it is closed', async () => {
    const queue = new JobQueue()
    const first = queue.arrival()
    expect(queue.arrival()).toBe(first)
    expect(await settled(first)).toBe(false)
    queue.push(batch(0, 1), 1)
    expect(await settled(first)).toBe(true)
    const second = queue.arrival()
    queue.close()
    expect([await settled(second), queue.closed]).toEqual([true, true])
  })

  it('filled() resolves at a full batch, at its deadline, or when the queue is emptied', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] })
    const queue = new JobQueue()
    queue.push(batch(0, 1), 1)
    const full = queue.filled(3, 1000)
    queue.push(batch(1, 1), 1)
    expect(await settled(full)).toBe(false)
    queue.push(batch(2, 1), 1)
    expect(await settled(full)).toBe(true)

    const late = queue.filled(10, 1000)
    vi.advanceTimersByTime(999)
    expect(await settled(late)).toBe(false)
    vi.advanceTimersByTime(1)
    expect(await settled(late)).toBe(true)

    const emptied = queue.filled(10, 1000)
    queue.clear()
    expect(await settled(emptied)).toBe(true)
  })
})
