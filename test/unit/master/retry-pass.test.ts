import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { readCheckpoint, writeCheckpoint } from '../../../src/master/checkpoint.js'
import { RETRY_LOG_ARG, prepareRetryPass } from '../../../src/master/retry-pass.js'
import { runPaths } from '../../../src/master/run-store.js'
import { cleanTempDirs, tempDir } from '../../helpers/proc.js'
import { checkpoint } from '../support.js'

afterEach(cleanTempDirs)

const LOG = '{"key":1,"job":{"id":1},"attempts":1,"error":{"message":"no"},"at":"2024-01-01T00:00:00.000Z"}\n'
const rotatedName = /^r\.failed\.\d{4}-\d\d-\d\dT\d\d-\d\d-\d\d-\d{3}Z\.jsonl$/

function stateWithFailures(): string {
  const dir = join(tempDir(), 'state')
  mkdirSync(dir)
  writeFileSync(runPaths(dir, 'r').failed, LOG)
  return dir
}

describe('prepareRetryPass', () => {
  it('records the new pass (its checkpoint names the moved log) as it moves the log', () => {
    const dir = stateWithFailures()
    const pass = prepareRetryPass(dir, 'r', undefined)!
    pass.release()
    expect(pass.resumed).toBe(false)
    expect(readdirSync(dir).filter((file) => rotatedName.test(file))).toEqual([pass.log.slice(dir.length + 1)])
    expect(readFileSync(pass.log, 'utf8')).toBe(LOG)
    expect(existsSync(runPaths(dir, 'r').failed)).toBe(false)
    expect(pass.options).toMatchObject({ key: 'r.retry', args: { [RETRY_LOG_ARG]: pass.log }, failedLog: runPaths(dir, 'r').failed })
    expect(pass.options.reset).toBeUndefined()
    expect(readCheckpoint(runPaths(dir, 'r.retry').checkpoint)).toMatchObject({ key: 'r.retry', args: { [RETRY_LOG_ARG]: pass.log }, complete: false, position: 0, finished: [] })

    // Killed before any job finished: the next call resumes that pass.
    const again = prepareRetryPass(dir, 'r', undefined)!
    again.release()
    expect(again).toMatchObject({ resumed: true, log: pass.log, options: { key: 'r.retry', args: { [RETRY_LOG_ARG]: pass.log } } })
  })

  it('starts a new pass when a crash came between recording the pass and moving the log', () => {
    const dir = stateWithFailures()
    const missing = join(dir, 'r.failed.2024-01-01T00-00-00-000Z.jsonl')
    writeCheckpoint(runPaths(dir, 'r.retry').checkpoint, checkpoint({ key: 'r.retry', args: { [RETRY_LOG_ARG]: missing } }))
    const pass = prepareRetryPass(dir, 'r', undefined)!
    pass.release()
    expect(pass.resumed).toBe(false)
    expect(pass.log).not.toBe(missing)
    expect(readFileSync(pass.log, 'utf8')).toBe(LOG)
    expect(readCheckpoint(runPaths(dir, 'r.retry').checkpoint)?.args).toEqual({ [RETRY_LOG_ARG]: pass.log })
  })

  it('forgets the journal of an earlier, complete pass when it starts a new one', () => {
    const dir = stateWithFailures()
    writeCheckpoint(runPaths(dir, 'r.retry').checkpoint, checkpoint({ key: 'r.retry', complete: true, args: { [RETRY_LOG_ARG]: 'old' } }))
    writeFileSync(runPaths(dir, 'r.retry').journal, 'old records\n')
    const pass = prepareRetryPass(dir, 'r', undefined)!
    pass.release()
    expect(pass.resumed).toBe(false)
    expect(existsSync(runPaths(dir, 'r.retry').journal)).toBe(false)
  })

  it('is undefined, and writes nothing, when the log is missing or empty (an empty one is removed)', () => {
    const dir = stateWithFailures()
    writeFileSync(runPaths(dir, 'r').failed, '')
    expect(prepareRetryPass(dir, 'r', undefined)).toBeUndefined()
    expect(readdirSync(dir)).toEqual([])
    expect(prepareRetryPass(dir, 'r', undefined)).toBeUndefined()
    expect(readdirSync(dir)).toEqual([])
  })
})
