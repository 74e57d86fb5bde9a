import { describe, expect, it } from 'vitest'
import { Master, Slave } from '../../src/index.js'
import type { JobKey, MasterAddress } from '../../src/index.js'
import { tempDir } from '../helpers/proc.js'
import { stoppedAfterEach } from '../helpers/peers.js'
import { matching } from '../helpers/matchers.js'

// The recent failures of the status document, in-process over real WebSockets: the jobs the
// master wrote to the failed-jobs log, newest first, the last 20 of them.

const running = stoppedAfterEach()

const ISO = matching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/)

describe('the status document’s recent failures', () => {
  it('lists the last 20 jobs written to the failed-jobs log, newest first, with their error and attempts', async () => {
    const stateDir = tempDir()
    const source = {
      *getJobs(last: JobKey | undefined) {
        for (let id = last === undefined ? 0 : Number(last) + 1; id < 40; id++) yield { id }
      },
    }
    const m = new Master({ source, stateDir, key: 'failing', port: 0, retries: 0 })
    running.push(m)
    expect(m.status().failures).toEqual([])
    const listening = new Promise<MasterAddress>((resolve) => m.once('listening', resolve))
    const done = m.run()
    const address = await listening
    // Jobs 0-24 throw, and go to the failed-jobs log at once (no retries).
    const handler = (job: { id: number }, ctx: { attempt: number }): void => {
      if (job.id < 25) throw new Error(`job ${job.id} is broken (attempt ${ctx.attempt})`)
    }
    const s = new Slave({ host: address.hostPort, handler, concurrency: 1 })
    running.push(s)
    const slaveDone = s.run()
    const summary = await done
    await slaveDone
    expect(summary).toMatchObject({ outcome: 'complete', done: 15, failed: 25 })
    const status = m.status()
    expect(status.run.failed).toBe(25)
    expect(status.failures).toHaveLength(20)
    // Newest first; jobs fail in the order they ran (one slave, one at a time, no retry).
    expect(status.failures.map((failure) => failure.key)).toEqual(Array.from({ length: 20 }, (_, i) => 24 - i))
    for (const failure of status.failures)
      expect(failure).toEqual({ key: failure.key, attempts: 1, error: `job ${failure.key} is broken (attempt 1)`, at: ISO })
    const times = status.failures.map((failure) => Date.parse(failure.at))
    expect(times).toEqual([...times].sort((a, b) => b - a))
  })
})
