import { readFileSync } from 'node:fs'
import { hostname } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { Master, Slave } from '../../src/index.js'
import type { MasterAddress, MasterOptions, RunStatus } from '../../src/index.js'
import { tempDir } from '../helpers/proc.js'
import { stoppedAfterEach } from '../helpers/peers.js'
import { anyNumber, matching } from '../helpers/matchers.js'

// The status document of a live run (Master.status() and the `status` event), in-process over
// real WebSockets: its figures against what the run really did, and across a resume.

const running = stoppedAfterEach()

function range(n: number): MasterOptions['source'] {
  return {
    *getJobs(last) {
      for (let id = last === undefined ? 0 : Number(last) + 1; id < n; id++) yield { id }
    },
    total: n,
  }
}

/** Resolves with the first status document (from now on) for which `match` holds. */
function statusWhere(master: Master, match: (status: RunStatus) => boolean): Promise<RunStatus> {
  return new Promise((resolve) => {
    const check = (status: RunStatus): void => {
      if (!match(status)) return
      master.off('status', check)
      resolve(status)
    }
    master.on('status', check)
  })
}

/** A handler that finishes the jobs below `holdFrom` and holds the others until released. */
function holding(holdFrom: number): { handler: (job: { id: number }) => Promise<void> | void; release: () => void } {
  let release!: () => void
  const released = new Promise<void>((resolve) => (release = resolve))
  return { handler: (job) => (job.id < holdFrom ? undefined : released), release }
}

const ISO = matching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/)

describe('the status document', () => {
  it('gives the run and each slave’s figures as they are', async () => {
    const stateDir = tempDir()
    const m = new Master({ source: range(200), stateDir, key: 'doc', args: { table: 'posts' }, port: 0 })
    running.push(m)
    expect(m.status().run).toMatchObject({ key: 'doc', state: 'starting', done: 0 })
    const listening = new Promise<MasterAddress>((resolve) => m.once('listening', resolve))
    const done = m.run()
    const address = await listening
    const { handler, release } = holding(100)
    const s = new Slave({ host: address.hostPort, handler, concurrency: 4, prefetch: 4 })
    running.push(s)
    const slaveDone = s.run()
    // 100 done, 4 running and 4 prefetched held by the slave, and its first stats report in.
    const status = await statusWhere(m, (st) => st.run.done === 100 && st.run.inFlight === 8 && st.slaves[0]?.rss !== 0)
    expect(m.status()).toBe(m.status())
    expect(status.run).toEqual({
      key: 'doc',
      args: { table: 'posts' },
      state: 'running',
      resumed: false,
      resumedAt: 0,
      position: 100,
      last: 99,
      done: 100,
      failed: 0,
      inFlight: 8,
      queued: 92,
      waiting: 0,
      skipped: 0,
      total: 200,
      totalEstimated: false,
      percent: 50,
      rate: anyNumber,
      // Whole seconds, rounded up: never 0 before the end.
      etaMs: status.run.rate > 0 ? Math.ceil(100 / status.run.rate) * 1000 : null,
      elapsedMs: status.run.session.elapsedMs,
      startedAt: ISO,
      session: { done: 100, failed: 0, elapsedMs: anyNumber, startedAt: ISO },
      controls: { paused: false, rate: null, maxInFlight: null, throttled: null, throttle: null },
    })
    expect(status.slaves).toEqual([
      {
        id: 1,
        address: matching(/^127\.0\.0\.1:\d+$/),
        hostname: hostname(),
        pid: process.pid,
        concurrency: 4,
        connectedAt: ISO,
        done: 100,
        failed: 0,
        rate: anyNumber,
        inFlight: 8,
        cpuPercent: anyNumber,
        rss: anyNumber,
        netIn: anyNumber,
        netOut: anyNumber,
      },
    ])
    const slave = status.slaves[0]
    // The slave has read at least the jobs' frames and written at least their acks.
    expect(slave.netIn).toBeGreaterThan(500)
    expect(slave.netOut).toBeGreaterThan(0)
    expect(slave.rss).toBeGreaterThan(1_000_000)
    release()
    const summary = await done
    expect(summary.outcome).toBe('complete')
    expect(m.status().run).toMatchObject({
      state: 'complete',
      done: 200,
      position: 200,
      last: 199,
      percent: 100,
      etaMs: 0,
      inFlight: 0,
      queued: 0,
    })
    await slaveDone
  })

  it('after a resume: where it resumed, the whole run and this master apart', async () => {
    const stateDir = tempDir()
    const first = new Master({ source: range(200), stateDir, key: 'again', port: 0 })
    running.push(first)
    const listening = new Promise<MasterAddress>((resolve) => first.once('listening', resolve))
    const firstDone = first.run()
    const address = await listening
    const { handler } = holding(120)
    const s1 = new Slave({ host: address.hostPort, handler, concurrency: 2, reconnect: 1 })
    running.push(s1)
    void s1.run().catch(() => {})
    await statusWhere(first, (st) => st.run.done === 120)
    first.stop()
    first.stop()
    expect((await firstDone).outcome).toBe('stopped')
    s1.stop()
    s1.stop()

    const before = (JSON.parse(readFileSync(join(stateDir, 'again.json'), 'utf8')) as { elapsed: number }).elapsed
    expect(before).toBeGreaterThan(0)
    const second = new Master({ source: range(200), stateDir, key: 'again', port: 0 })
    running.push(second)
    const listening2 = new Promise<MasterAddress>((resolve) => second.once('listening', resolve))
    const secondDone = second.run()
    const address2 = await listening2
    expect(second.status().run).toMatchObject({
      state: 'running',
      resumed: true,
      resumedAt: 120,
      position: 120,
      last: 119,
      done: 120,
      failed: 0,
      percent: 60,
      session: { done: 0, failed: 0 },
    })
    // The whole run's time goes on from what the first master's checkpoint says.
    expect(second.status().run.elapsedMs).toBe(before + second.status().run.session.elapsedMs)
    const s2 = new Slave({ host: address2.hostPort, handler: () => {}, concurrency: 2 })
    running.push(s2)
    void s2.run()
    const summary = await secondDone
    expect(summary.outcome).toBe('complete')
    const end = second.status().run
    expect(end).toMatchObject({
      state: 'complete',
      resumed: true,
      resumedAt: 120,
      done: 200,
      position: 200,
      last: 199,
      percent: 100,
      etaMs: 0,
      session: { done: 80, failed: 0 },
    })
    expect(end.elapsedMs).toBeGreaterThan(end.session.elapsedMs)
  })
})
