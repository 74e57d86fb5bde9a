import { describe, expect, it } from 'vitest'
import { JobSourceError } from '../../../../src/errors.js'
import { Ledger } from '../../../../src/master/engine/ledger.js'
import { Source } from '../../../../src/master/engine/source.js'
import { SkipSet } from '../../../../src/master/state/skip-set.js'
import type { PagedGenerator } from '../../../../src/options.js'

const ctx = { position: 0, args: {} }

/**
 * A generator read only by pages: its next() fails the test. `pages` are handed out in
 * turn (then undefined); `returned` counts the calls of return().
 */
function paged(pages: (unknown[] | Error | number | null)[]) {
  const state = { asked: 0, returned: 0 }
  async function* rows(): AsyncGenerator<unknown> {
    yield await Promise.reject(new Error('read by rows'))
  }
  const generator = rows() as PagedGenerator<unknown>
  generator.nextPage = () => {
    state.asked++
    const page = pages.shift()
    return page instanceof Error ? Promise.reject(page) : Promise.resolve(page as readonly unknown[] | undefined)
  }
  generator.return = () => {
    state.returned++
    return Promise.resolve({ done: true, value: undefined })
  }
  return { generator, state }
}

/** The jobs of the ledger's buffer, as the dispatcher takes them. */
const queued = (ledger: Ledger): unknown[] => ledger.take(1000, 1, 0).jobs

describe('Source over a generator read by pages', () => {
  it('takes each page whole, empty pages too, keys read as for any job, until undefined', async () => {
    const { generator, state } = paged([[{ id: 1 }, { id: 2 }], [], [{ id: 5 }]])
    const ledger = new Ledger(1000)
    const source = new Source({ getJobs: () => generator, key: (job: { id: number }) => job.id * 10 }, ledger, new SkipSet(), 100, () => {})
    await source.run(undefined, ctx)
    expect(source.exhausted).toBe(true)
    expect(state.asked).toBe(4)
    expect(queued(ledger)).toEqual([{ id: 1 }, { id: 2 }, { id: 5 }])
    expect(source.current).toBe(50)
  })

  it('stops at the buffer cap inside a page, and goes on from the job after when woken', async () => {
    const { generator, state } = paged([[1, 2, 3], [4]])
    const ledger = new Ledger(1000)
    let parked = 0
    const source: Source = new Source({ getJobs: () => generator }, ledger, new SkipSet(), 2, () => void parked++)
    const running = source.run(undefined, ctx)
    await new Promise((resolve) => setTimeout(resolve, 10))
    expect(ledger.counts.queued).toBe(2)
    expect(state.asked).toBe(1)
    expect(queued(ledger)).toEqual([1, 2])
    source.wake()
    await new Promise((resolve) => setTimeout(resolve, 10))
    expect(queued(ledger)).toEqual([3, 4])
    source.wake()
    await running
    expect(state.asked).toBe(3)
    expect(parked).toBeGreaterThan(0)
  })

  it("a page's failure is the generator's error, in one line; stop() returns the generator", async () => {
    const failing = paged([[1], new Error('connection lost')])
    const pulling = new Source({ getJobs: () => failing.generator }, new Ledger(1000), new SkipSet(), 100, () => {}).run(undefined, ctx)
    const error = (await pulling.catch((thrown: unknown) => thrown)) as Error
    expect(error).toBeInstanceOf(JobSourceError)
    expect(error.message).toMatch(/^The generator threw: connection lost \(.*source\.test\.ts:\d+\)$/)
    const { generator, state } = paged([[1, 2, 3]])
    const source = new Source({ getJobs: () => generator }, new Ledger(1000), new SkipSet(), 2, () => {})
    const running = source.run(undefined, ctx)
    await new Promise((resolve) => setTimeout(resolve, 10))
    source.stop()
    await running
    expect(state.returned).toBe(1)
  })

  it('a nextPage() of its own that gives what is not an array is refused in one line, not taken for jobs', async () => {
    for (const [page, what] of [
      [42, 'a number'],
      [null, 'null'],
    ] as const) {
      const { generator } = paged([[1], page])
      const ledger = new Ledger(1000)
      const pulling = new Source({ getJobs: () => generator }, ledger, new SkipSet(), 100, () => {}).run(undefined, ctx)
      await expect(pulling).rejects.toThrow(
        new JobSourceError(
          `The generator's nextPage() returned ${what}; it must return an array of jobs, or undefined once there are no more`,
        ),
      )
      expect(ledger.counts.queued).toBe(1)
    }
  })
})
