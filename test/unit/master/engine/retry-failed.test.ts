import { existsSync, mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { Master } from '../../../../src/master/master.js'
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

  it('refuses reset, arguments and bad options before it moves the log', async () => {
    const stateDir = stateWithFailures()
    await expect(Master.retryFailed(runOf(stateDir, { reset: true }))).rejects.toThrow(
      'Master.retryFailed() replays the failed jobs of a run: options.reset does not go with it',
    )
    await expect(Master.retryFailed(runOf(stateDir, { args: { table: 'posts' } }))).rejects.toThrow(
      'Master.retryFailed() takes no options.args: the jobs come from the failed-jobs log',
    )
    await expect(Master.retryFailed(runOf(stateDir, { size: 0 }))).rejects.toMatchObject({ code: 'TM_ERR_OPTION', option: 'size' })
    expect(existsSync(runPaths(stateDir, 'r').failed)).toBe(true)
  })
})
