import { existsSync, mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { Master } from '../../../../src/master/master.js'
import { readCheckpoint } from '../../../../src/master/state/checkpoint.js'
import { runPaths } from '../../../../src/master/state/file/run-store.js'
import type { MasterOptions } from '../../../../src/options.js'
import { cleanTempDirs, tempDir } from '../../../helpers/proc.js'

afterEach(cleanTempDirs)

const entry = (id: number): string =>
  `{"key":"k${id}","job":{"id":${id}},"attempts":1,"error":{"message":"no"},"at":"2024-01-01T00:00:00.000Z"}\n`

/** A state dir where run 'r' (or its shard) failed jobs 1 and 2. */
function stateWithFailures(key = 'r'): string {
  const dir = join(tempDir(), 'state')
  mkdirSync(dir)
  writeFileSync(runPaths(dir, key).failed, entry(1) + entry(2))
  return dir
}

/** The run's options: a source whose own jobs a pass never reads, keyed as `k<id>`. */
const runOf = (stateDir: string, more: Partial<MasterOptions> = {}): MasterOptions => ({
  source: { getJobs: () => [], key: (job: { id: number }) => `k${job.id}` },
  key: 'r',
  stateDir,
  port: 0,
  ...more,
})

describe('Master.retryFailed', () => {
  it('gives the master of the pass <key>.retry over the failed jobs, keyed as the run keys them; the run stays locked until its run() settles', async () => {
    const stateDir = stateWithFailures()
    const pass = await Master.retryFailed(runOf(stateDir))
    expect(pass).toMatchObject({ count: 2, resumed: false, log: expect.stringMatching(/r\.failed\.[-\dTZ]+\.jsonl$/) as unknown })
    const master = pass!.master
    expect(master.options).toMatchObject({ key: 'r.retry', args: { 'retry-log': pass!.log }, shard: undefined })
    const jobs: unknown[] = []
    for await (const job of master.options.source.getJobs(undefined, { position: 1, args: {} })) jobs.push(job)
    expect(jobs).toEqual([{ id: 2 }])
    expect(master.options.source.key?.({ id: 2 })).toBe('k2')
    expect(master.options.source.total).toBe(2)
    expect(existsSync(runPaths(stateDir, 'r').lock)).toBe(true)
    // Stopped before it listens: the pass is resumable, and the run's lock is free again.
    master.stop()
    expect((await master.run()).outcome).toBe('stopped')
    expect(existsSync(runPaths(stateDir, 'r').lock)).toBe(false)
    const again = await Master.retryFailed(runOf(stateDir))
    expect(again).toMatchObject({ count: 2, resumed: true, log: pass!.log })
    again!.master.stop()
    await again!.master.run()
  })

  it("retries a shard's failed jobs, without the shard", async () => {
    const stateDir = stateWithFailures('r.shard-2-of-3')
    const pass = await Master.retryFailed(runOf(stateDir, { shard: { index: 2, count: 3 } }))
    expect(pass?.master.options).toMatchObject({ key: 'r.shard-2-of-3.retry', shard: undefined })
    pass!.master.stop()
    await pass!.master.run()
  })

  it('is undefined, holding nothing, when the run has no failed jobs', async () => {
    const stateDir = join(tempDir(), 'state')
    mkdirSync(stateDir)
    expect(await Master.retryFailed(runOf(stateDir))).toBeUndefined()
    expect(existsSync(runPaths(stateDir, 'r').lock)).toBe(false)
  })

  it("hands the pass the arguments given (the handler's), saved masked in its checkpoint beside where its jobs are", async () => {
    const stateDir = stateWithFailures()
    const args = { db: 'postgres://app:s3cret@db/app', table: 'posts' }
    const pass = await Master.retryFailed(runOf(stateDir, { args }))
    expect(pass!.master.options.args).toEqual({ ...args, 'retry-log': pass!.log })
    expect(readCheckpoint(runPaths(stateDir, 'r.retry').checkpoint)?.args).toEqual({
      db: 'postgres://app:***@db/app',
      table: 'posts',
      'retry-log': pass!.log,
    })
    pass!.master.stop()
    await pass!.master.run()
    // The pass resumed with other arguments is refused, as a run resumed with other arguments is.
    const other = await Master.retryFailed(runOf(stateDir, { args: { ...args, table: 'users' } }))
    await expect(other!.master.run()).rejects.toThrow(
      /^Run 'r\.retry' was started with arguments db=postgres:\/\/app:\*\*\*@db\/app table=posts retry-log=/,
    )
  })

  it("keeps the run source's check and throttle for the pass: it starts as the run would", async () => {
    const stateDir = stateWithFailures()
    const check = (): void => {
      throw new Error('no table')
    }
    const throttle = (): undefined => undefined
    const pass = await Master.retryFailed(runOf(stateDir, { source: { getJobs: () => [], check, throttle } }))
    expect(pass!.master.options.source).toMatchObject({ check, throttle })
    await expect(pass!.master.run()).rejects.toMatchObject({ code: 'TM_ERR_SOURCE_CHECK', exitCode: 2 })
  })

  it('refuses reset, an argument named retry-log and bad options before it moves the log', async () => {
    const stateDir = stateWithFailures()
    await expect(Master.retryFailed(runOf(stateDir, { reset: true }))).rejects.toThrow(
      'Master.retryFailed() replays the failed jobs of a run: options.reset does not go with it',
    )
    await expect(Master.retryFailed(runOf(stateDir, { args: { 'retry-log': 'x' } }))).rejects.toThrow(
      "options.args must not name an argument 'retry-log': it is where a retry pass saves its jobs' place",
    )
    await expect(Master.retryFailed(runOf(stateDir, { size: 0 }))).rejects.toMatchObject({ code: 'TM_ERR_OPTION', option: 'size' })
    expect(existsSync(runPaths(stateDir, 'r').failed)).toBe(true)
  })
})
