import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { JobSourceError, LocalSlaves, Master, NoMasterError, Slave, describeChange } from '../../src/index.js'
import type { MasterAddress, MasterOptions, RunSummary, SlaveOptions } from '../../src/index.js'
import { expectEachKeyRan, sandbox, tempDir } from '../helpers/proc.js'
import { FAULTY, attemptsOf } from '../helpers/reliability.js'
import { listeningMaster, runningSlave, stoppedAfterEach } from '../helpers/peers.js'
import { until } from '../helpers/reliability.js'

// The library API in-process, over real WebSockets on 127.0.0.1: the stop, reconnect
// and credit paths where a run could hang or a job could be charged wrongly.

const running = stoppedAfterEach()

function range(n: number): MasterOptions['source'] {
  return {
    *getJobs(last) {
      for (let id = last === undefined ? 0 : Number(last) + 1; id < n; id++) yield { id }
    },
  }
}

/** Starts a master; resolves once it listens. */
function master(
  options: Partial<MasterOptions> & Pick<MasterOptions, 'source'>,
): Promise<{ master: Master; address: MasterAddress; done: Promise<RunSummary> }> {
  return listeningMaster(running, { stateDir: tempDir(), key: 'api', port: 0, retryDelay: 0.01, ...options })
}

function slave(options: SlaveOptions): { slave: Slave; done: Promise<unknown> } {
  return runningSlave(running, options)
}

/** A promise and its resolve function. */
function gate(): { promise: Promise<void>; open: () => void } {
  let open!: () => void
  const promise = new Promise<void>((resolve) => (open = resolve))
  return { promise, open }
}

describe('stopping', () => {
  it('a graceful stop ends when the last job in flight fails with retries left', async () => {
    const started = gate()
    const fail = gate()
    const { master: m, address, done } = await master({ source: range(3), retries: 3 })
    slave({
      host: address.hostPort,
      prefetch: 0,
      handler: async (job: { id: number }) => {
        if (job.id !== 0) return
        started.open()
        await fail.promise
        throw new Error('boom')
      },
    })
    await started.promise
    m.stop()
    fail.open()
    const summary = await done
    expect(summary.outcome).toBe('stopped')
    expect(summary.failed).toBe(0)
  })

  it('a stop at once (second stop) charges the jobs in flight nothing: no failed-jobs log, they run on resume', async () => {
    const stateDir = tempDir()
    const started = gate()
    const { master: m, address, done } = await master({ source: range(2), stateDir, retries: 0 })
    slave({
      host: address.hostPort,
      prefetch: 0,
      handler: async () => {
        started.open()
        await new Promise(() => {})
      },
    })
    await started.promise
    m.stop()
    m.stop()
    const summary = await done
    expect(summary).toMatchObject({ outcome: 'stopped', done: 0, failed: 0 })
    expect(existsSync(join(stateDir, 'api.failed.jsonl'))).toBe(false)
  })

  it('a stop ends while the generator is blocked in an await', async () => {
    const { master: m, done } = await master({
      source: {
        async *getJobs() {
          yield { id: 0 }
          await new Promise(() => {})
        },
      },
    })
    m.stop()
    expect((await done).outcome).toBe('stopped')
  })

  it('a stop asked before the master listens ends the run once it does', async () => {
    const m = new Master({ source: range(5), stateDir: tempDir(), key: 'early', port: 0 })
    const done = m.run()
    m.stop()
    expect((await done).outcome).toBe('stopped')
  })
})

describe('a job that cannot be sent', () => {
  it('stops the run with an error naming its key, without hanging', async () => {
    const big = 'x'.repeat(3000)
    const { address, done } = await master({
      source: {
        *getJobs() {
          yield { id: 'small' }
          yield { id: 'huge', big }
        },
      },
      maxFrame: 1024,
      batchSize: 1,
    })
    slave({ host: address.hostPort, handler: () => {} })
    const error = await done.then(
      () => undefined,
      (e: unknown) => e,
    )
    expect(error).toBeInstanceOf(JobSourceError)
    expect((error as Error).message).toMatch(/^Job huge is \d+ bytes encoded, more than --max-frame \(1024\)/)
  })
})

describe('a job that cannot be encoded', () => {
  it('stops the run with an error naming its key; the jobs before it are done', async () => {
    const stateDir = tempDir()
    const { address, done } = await master({
      stateDir,
      source: {
        *getJobs() {
          yield { id: 1 }
          yield { id: 2, tag: Symbol('not data') }
        },
      },
      batchSize: 1,
    })
    slave({ host: address.hostPort, prefetch: 0, handler: () => {} })
    const error = await done.then(
      () => undefined,
      (e: unknown) => e,
    )
    expect(error).toBeInstanceOf(JobSourceError)
    expect((error as Error).message).toBe('Job 2 cannot be sent to slaves (Unknown type: symbol); jobs must be plain data')
    // With one job at a time, job 1 was done before job 2 came up; job 2 is not lost.
    expect(JSON.parse(readFileSync(join(stateDir, 'api.json'), 'utf8'))).toMatchObject({
      complete: false,
      position: 1,
      last: 1,
      finished: [],
    })
  })
})

describe('a batch split around a job that cannot be sent', () => {
  it('puts the rest of the batch back too, so the stop does not wait for jobs never sent', async () => {
    const big = 'x'.repeat(3000)
    const { address, done } = await master({
      source: {
        *getJobs() {
          for (const id of [1, 2, 3, 4]) yield id === 2 ? { id, big } : { id }
        },
      },
      maxFrame: 1024,
      batchSize: 4,
    })
    slave({ host: address.hostPort, prefetch: 8, handler: () => {} })
    const error = await done.then(
      () => undefined,
      (e: unknown) => e,
    )
    expect((error as Error).message).toMatch(/^Job 2 is \d+ bytes encoded, more than --max-frame \(1024\)/)
  })
})

describe('slaves', () => {
  it('reject with NoMasterError (TM_ERR_NO_MASTER, exit code 4) when no master answered within --reconnect', async () => {
    // A port nothing listens on: the first master's, once it has gone.
    const gone = await master({ source: range(0) })
    expect((await gone.done).outcome).toBe('complete')
    const error = await slave({ host: gone.address.hostPort, reconnect: 0.2, handler: () => {} }).done.then(
      () => undefined,
      (e: unknown) => e,
    )
    expect(error).toBeInstanceOf(NoMasterError)
    expect(error).toMatchObject({ code: 'TM_ERR_NO_MASTER', exitCode: 4 })
    expect((error as Error).message).toMatch(
      new RegExp(
        `^No master answered at ws://${gone.address.hostPort} for 0\\.2 s \\(--reconnect; last try: ECONNREFUSED .+\\); the run may simply be over \\(exit 4\\)$`,
      ),
    )
  })

  it('keep reconnecting for --reconnect after the loss, however long they were connected', async () => {
    // The first master binds port 0; the second listens on the port it got, where the slave looks.
    const first = await master({ source: range(40) })
    const port = first.address.port
    let handled = 0
    const s = slave({
      host: first.address.hostPort,
      reconnect: 0.5,
      prefetch: 0,
      handler: async () => {
        handled++
        await new Promise((resolve) => setTimeout(resolve, 20))
      },
    })
    // Connected well past --reconnect before the master goes.
    await until('35 jobs handled', () => handled >= 35)
    first.master.stop()
    expect((await first.done).outcome).toBe('stopped')
    const second = await master({ source: range(40), port, stateDir: first.master.options.stateDir })
    expect((await second.done).outcome).toBe('complete')
    expect(await s.done).toMatchObject({ outcome: 'complete' })
  })

  it('get their credit back for jobs that were running across a master restart (prefetch 0)', async () => {
    const stateDir = tempDir()
    const started = gate()
    const finish = gate()
    // The first master binds port 0; the second listens on the port it got, where the slave looks.
    const first = await master({ source: range(5), stateDir })
    const port = first.address.port
    const s = slave({
      host: first.address.hostPort,
      prefetch: 0,
      handler: async (job: { id: number }) => {
        if (job.id !== 0) return
        started.open()
        await finish.promise
      },
    })
    await started.promise
    first.master.stop()
    first.master.stop()
    await first.done
    const second = await master({ source: range(5), port, stateDir })
    await new Promise<void>((resolve) => second.master.once('slave-connected', () => resolve()))
    finish.open()
    expect((await second.done).outcome).toBe('complete')
    expect(await s.done).toMatchObject({ outcome: 'complete' })
  })
})

describe('frames wait for a full batch while a slave has one to run', () => {
  // The hold must never stall a run: a slave holding less than a batch always gets what
  // there is. A slow generator, a tail shorter than a batch and two slaves, each to the end.
  it('runs every job once from a generator slower than the slaves, with a tail shorter than a batch', async () => {
    const n = 2_345
    const source: MasterOptions['source'] = {
      async *getJobs() {
        for (let id = 0; id < n; id++) {
          if (id % 7 === 0) await new Promise((resolve) => setImmediate(resolve))
          yield { id }
        }
      },
    }
    const { address, done } = await master({ source, batchSize: 100 })
    const seen: number[] = []
    for (let i = 0; i < 2; i++)
      slave({ host: address.hostPort, concurrency: 3, prefetch: 500, handler: (job: { id: number }) => void seen.push(job.id) })
    const summary = await done
    expect(summary).toMatchObject({ outcome: 'complete', done: n, failed: 0 })
    expect(seen.sort((a, b) => a - b)).toEqual(Array.from({ length: n }, (_, i) => i))
  })
})

describe('the controls of a running master', () => {
  it('refuse a rate or a max in flight out of their bounds, or a pause that is not a boolean, with an OptionError, before and while the run runs', async () => {
    const source = range(10)
    const idle = new Master({ source, stateDir: tempDir(), key: 'idle', port: 0 })
    expect(() => idle.setPaused('false' as unknown as boolean)).toThrow("setPaused(paused) must be true or false, got 'false'")
    expect(() => idle.setRate(NaN)).toThrow(
      'setRate(rate) must be a number of jobs per second from 0.001 to 10000000 or null (no limit), got NaN',
    )
    const { master: m } = await master({ source, paused: true })
    const refused = (fn: () => unknown): unknown => {
      try {
        fn()
      } catch (error) {
        return error
      }
      return undefined
    }
    for (const rate of [-5, 1e-9, NaN, Infinity])
      expect(refused(() => m.setRate(rate))).toMatchObject({
        name: 'OptionError',
        code: 'TM_ERR_OPTION',
        message: `setRate(rate) must be a number of jobs per second from 0.001 to 10000000 or null (no limit), got ${rate}`,
      })
    for (const max of [0, NaN, 2.5])
      expect(refused(() => m.setMaxInFlight(max))).toMatchObject({
        code: 'TM_ERR_OPTION',
        message: `setMaxInFlight(max) must be a whole number of jobs from 1 to 100000000 or null (no limit), got ${max}`,
      })
    expect(refused(() => m.setPaused('false' as unknown as boolean))).toMatchObject({
      code: 'TM_ERR_OPTION',
      message: "setPaused(paused) must be true or false, got 'false'",
    })
    expect(m.status().run.controls).toMatchObject({ rate: null, maxInFlight: null })
    const rate = m.setRate(0.001)
    expect(rate).toEqual({ kind: 'rate', rate: 0.001 })
    expect(describeChange(rate!)).toBe('rate 0.001 jobs/s')
    const max = m.setMaxInFlight(1)
    expect(max).toEqual({ kind: 'max-in-flight', maxInFlight: 1 })
    expect(describeChange(max!)).toBe('max in flight 1')
    // Nothing to change: nothing said.
    expect(m.setMaxInFlight(1)).toBeUndefined()
  })

  it('set before run() apply when the run starts (the initial control events say by api); after the end they change and say nothing', async () => {
    const m = new Master({ source: range(0), stateDir: tempDir(), key: 'preset', port: 0 })
    running.push(m)
    const changes: string[] = []
    const logs: string[] = []
    m.on('control', (change) => changes.push(`${change.changed} by ${change.source.kind}`))
    m.on('log', (line) => logs.push(line.message))
    expect(m.setPaused(true)).toBeUndefined()
    expect(m.setRate(5)).toBeUndefined()
    expect(m.setMaxInFlight(3)).toBeUndefined()
    const done = m.run()
    await until('the initial control events', () => changes.length === 3)
    expect(changes).toEqual(['paused by api', 'rate 5 jobs/s by api', 'max in flight 3 by api'])
    expect(m.status().run.controls).toMatchObject({ paused: true, rate: 5, maxInFlight: 3 })
    expect(logs).toContain('Paused (set before the run started): no job goes out until resumed')
    // No jobs: the run completes, paused or not.
    expect((await done).outcome).toBe('complete')
    const seen = { changes: changes.length, logs: logs.length }
    expect(m.setPaused(false)).toBeUndefined()
    expect(m.setRate(1)).toBeUndefined()
    expect(m.setMaxInFlight(1)).toBeUndefined()
    expect({ changes: changes.length, logs: logs.length }).toEqual(seen)
    expect(m.status().run.controls).toMatchObject({ paused: true, rate: 5, maxInFlight: 3 })
  })
})

describe('a script', () => {
  /** The local slaves' lines (kept, not written to the test's output), shown when an expectation fails. */
  const lines: string[] = []

  /** Starts 2 local slaves running the faulty handler once `m` listens (as tm-master --spawn 2 does); resolves with them. */
  function localSlavesOf(m: Master, env: NodeJS.ProcessEnv): Promise<LocalSlaves> {
    return new Promise((resolve) =>
      m.once('listening', (address) => {
        const slaves = new LocalSlaves({
          count: 2,
          handler: FAULTY,
          host: address.url,
          token: m.token,
          slave: { concurrency: 2 },
          env: { ...process.env, ...env },
          wanted: () => m.status().run.state === 'running',
          log: (line) => lines.push(line),
        })
        running.push(slaves)
        slaves.start()
        resolve(slaves)
      }),
    )
  }

  it('starts local slaves of its master and runs a retry pass of the failed jobs, as tm-master --spawn and --retry-failed do', async () => {
    const box = sandbox({ TM_FAIL_IDS: '3,7' })
    const options: MasterOptions = { source: range(20), key: 'lib', stateDir: box.stateDir, host: '127.0.0.1', port: 0, retries: 0 }
    const first = new Master(options)
    running.push(first)
    const firstSlaves = localSlavesOf(first, box.env)
    expect(await first.run(), lines.join('\n')).toMatchObject({ outcome: 'complete', done: 18, failed: 2 })
    // Stopped once the run is over, as tm-master does (one still connecting would wait for --reconnect).
    await (await firstSlaves).stop()

    // The handler is fixed: the pass runs the 2 failed jobs and nothing else.
    const pass = await Master.retryFailed(options)
    expect(pass).toMatchObject({ count: 2, resumed: false })
    running.push(pass!.master)
    const passSlaves = localSlavesOf(pass!.master, { ...box.env, TM_FIXED: '1' })
    expect(await pass!.master.run(), lines.join('\n')).toMatchObject({ outcome: 'complete', key: 'lib.retry', done: 2, failed: 0 })
    await (await passSlaves).stop()
    expectEachKeyRan(box.records, 20)
    expect(attemptsOf(box.records, [3, 7])).toEqual({ 3: [1, 1], 7: [1, 1] })
    expect(await Master.retryFailed(options)).toBeUndefined()
  })
})
