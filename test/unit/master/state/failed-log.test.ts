import { readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { StateFileError } from '../../../../src/errors.js'
import { parse } from '../../../../src/master/state/json.js'
import type { FailedJob } from '../../../../src/master/state/failed-log.js'
import { FailedLog } from '../../../../src/master/state/failed-log.js'
import { cleanTempDirs, tempDir } from '../../../helpers/proc.js'
import { thrownBy } from '../../support.js'

afterEach(cleanTempDirs)

const entry = (key: FailedJob['key'], message = 'boom'): FailedJob => ({
  key,
  job: { id: key },
  attempts: 4,
  error: { message },
  at: '2024-01-01T00:00:00.000Z',
})

describe('FailedLog', () => {
  it('appends one JSON line per failed job, bigints kept', () => {
    const path = join(tempDir(), 'run.failed.jsonl')
    const log = new FailedLog(path)
    log.append([entry(1), entry(2n ** 64n, 'two')])
    log.append([])
    log.append([entry('k3')])
    log.close()
    const lines = readFileSync(path, 'utf8').split('\n')
    expect(lines.at(-1)).toBe('')
    expect(lines[0]).toBe('{"key":1,"job":{"id":1},"attempts":4,"error":{"message":"boom"},"at":"2024-01-01T00:00:00.000Z"}')
    expect(lines.slice(0, -1).map((line) => parse(line))).toEqual([entry(1), entry(2n ** 64n, 'two'), entry('k3')])
  })

  it('does not create the file until something fails', () => {
    const dir = tempDir()
    const log = new FailedLog(join(dir, 'run.failed.jsonl'))
    log.append([])
    log.close()
    expect(() => readFileSync(join(dir, 'run.failed.jsonl'))).toThrow(/ENOENT/)
  })

  it('throws StateFileError when it cannot write', () => {
    const dir = tempDir()
    writeFileSync(join(dir, 'file'), '')
    const path = join(dir, 'file', 'run.failed.jsonl')
    const error = thrownBy(() => new FailedLog(path).append([entry(1)]), StateFileError)
    expect(error.message).toContain(`Cannot write the failed-jobs log '${path}'`)
    expect(error.exitCode).toBe(1)
  })

  it('a log deleted while the run is live is written again (its dir too), and append says so', () => {
    const dir = join(tempDir(), 'state')
    const path = join(dir, 'run.failed.jsonl')
    const log = new FailedLog(path)
    expect(log.append([entry(1)])).toBeUndefined()
    unlinkSync(path)
    expect(log.append([entry(2)])).toBe(
      `The failed-jobs log '${path}' was deleted while the run was live: the jobs it listed before are lost from it; it is started again`,
    )
    expect(log.append([entry(3)])).toBeUndefined()
    rmSync(dir, { recursive: true })
    expect(log.append([entry(4)])).toBe(
      `The failed-jobs log '${path}' was deleted while the run was live: the jobs it listed before are lost from it; it is started again`,
    )
    log.close()
    expect(
      readFileSync(path, 'utf8')
        .split('\n')
        .filter((line) => line !== '')
        .map((line) => parse(line)),
    ).toEqual([entry(4)])
  })
})
