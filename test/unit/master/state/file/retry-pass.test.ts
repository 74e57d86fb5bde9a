import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { readCheckpoint, writeCheckpoint } from '../../../../../src/master/state/checkpoint.js'
import { FileBackend } from '../../../../../src/master/state/file/backend.js'
import { RunStore, runPaths } from '../../../../../src/master/state/file/run-store.js'
import type { RetryPass } from '../../../../../src/master/state/state-store.js'
import { RETRY_LOG_ARG } from '../../../../../src/master/state/store-common.js'
import { cleanTempDirs, tempDir } from '../../../../helpers/proc.js'
import { checkpoint } from '../../../support.js'

afterEach(cleanTempDirs)

const LOG = '{"key":1,"job":{"id":1},"attempts":1,"error":{"message":"no"},"at":"2024-01-01T00:00:00.000Z"}\n'
const rotatedName = /^r\.failed\.\d{4}-\d\d-\d\dT\d\d-\d\d-\d\d-\d{3}Z\.jsonl$/

/** Prepares the retry pass of run 'r' in `dir` and releases the run's lock at once. */
async function prepare(dir: string): Promise<RetryPass | undefined> {
  const pass = await new FileBackend(dir).retryPass('r')
  await pass?.release()
  return pass
}

/** Every job the pass replays, from `position`. */
async function jobsOf(pass: RetryPass, position = 0): Promise<unknown[]> {
  const jobs: unknown[] = []
  for await (const job of pass.jobs(position)) jobs.push(job)
  return jobs
}

function stateWithFailures(): string {
  const dir = join(tempDir(), 'state')
  mkdirSync(dir)
  writeFileSync(runPaths(dir, 'r').failed, LOG)
  return dir
}

describe('FileBackend.retryPass', () => {
  it('records the new pass (its checkpoint names the moved log) as it moves the log', async () => {
    const dir = stateWithFailures()
    const pass = (await prepare(dir))!
    expect(pass.resumed).toBe(false)
    expect(readdirSync(dir).filter((file) => rotatedName.test(file))).toEqual([pass.log.slice(dir.length + 1)])
    expect(readFileSync(pass.log, 'utf8')).toBe(LOG)
    expect(existsSync(runPaths(dir, 'r').failed)).toBe(false)
    expect(pass).toMatchObject({ key: 'r.retry', args: { [RETRY_LOG_ARG]: pass.log }, count: 1 })
    expect(await jobsOf(pass)).toEqual([{ id: 1 }])
    expect(await jobsOf(pass, 1)).toEqual([])
    expect(readCheckpoint(runPaths(dir, 'r.retry').checkpoint)).toMatchObject({
      key: 'r.retry',
      args: { [RETRY_LOG_ARG]: pass.log },
      complete: false,
      position: 0,
      finished: [],
    })
    // The pass's own store sends jobs failing again to the run's log, where the next pass finds them.
    const store = new RunStore(dir, 'r.retry')
    expect(store.failedLogPath).toBe(runPaths(dir, 'r').failed)
    await store.close()

    // Killed before any job finished: the next call resumes that pass.
    const again = (await prepare(dir))!
    expect(again).toMatchObject({ resumed: true, log: pass.log, key: 'r.retry', args: { [RETRY_LOG_ARG]: pass.log }, count: 1 })
  })

  it('starts a new pass when a crash came between recording the pass and moving the log', async () => {
    const dir = stateWithFailures()
    const missing = join(dir, 'r.failed.2024-01-01T00-00-00-000Z.jsonl')
    writeCheckpoint(runPaths(dir, 'r.retry').checkpoint, checkpoint({ key: 'r.retry', args: { [RETRY_LOG_ARG]: missing } }))
    const pass = (await prepare(dir))!
    expect(pass.resumed).toBe(false)
    expect(pass.log).not.toBe(missing)
    expect(readFileSync(pass.log, 'utf8')).toBe(LOG)
    expect(readCheckpoint(runPaths(dir, 'r.retry').checkpoint)?.args).toEqual({ [RETRY_LOG_ARG]: pass.log })
  })

  it('forgets the journal of an earlier, complete pass when it starts a new one', async () => {
    const dir = stateWithFailures()
    writeCheckpoint(runPaths(dir, 'r.retry').checkpoint, checkpoint({ key: 'r.retry', complete: true, args: { [RETRY_LOG_ARG]: 'old' } }))
    writeFileSync(runPaths(dir, 'r.retry').journal, 'old records\n')
    const pass = (await prepare(dir))!
    expect(pass.resumed).toBe(false)
    expect(existsSync(runPaths(dir, 'r.retry').journal)).toBe(false)
  })

  it('is undefined, and writes nothing, when the log is missing or empty (an empty one is removed)', async () => {
    const dir = stateWithFailures()
    writeFileSync(runPaths(dir, 'r').failed, '')
    expect(await prepare(dir)).toBeUndefined()
    expect(readdirSync(dir)).toEqual([])
    expect(await prepare(dir)).toBeUndefined()
    expect(readdirSync(dir)).toEqual([])
  })

  it('is undefined, and makes nothing, in a state dir that does not exist (no run ever kept state there)', async () => {
    const dir = join(tempDir(), 'never')
    expect(await prepare(dir)).toBeUndefined()
    expect(existsSync(dir)).toBe(false)
  })
})
