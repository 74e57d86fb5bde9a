// Failures that used to stop a run or lose jobs: a handler that never settles (and
// ignores its signal) held its slave's only lane for ever, and odd thrown values (an
// Error whose message is a number, objects that cannot be printed) either made the
// master drop the slave or crashed the slave process.
import { afterEach, describe, expect, it } from 'vitest'
import { fixture, masterArgs, recordedKeys, sandbox, startMaster, startSlave, tally } from '../helpers/proc.js'
import { RANGE, expectRunEnds, linesMatching, readFailedLog, tearDown } from '../helpers/reliability.js'

afterEach(tearDown)

const ODD = fixture('odd-throws.mjs')

/** Asserts that every id of 0..n-1 but `except` was recorded exactly once, and those never. */
function expectOthersRanOnce(records: string, n: number, except: number[]): void {
  const counts = tally(recordedKeys(records))
  const wrong: string[] = []
  for (let id = 0; id < n; id++) {
    const want = except.includes(id) ? 0 : 1
    if ((counts.get(String(id)) ?? 0) !== want) wrong.push(`${id} recorded ${counts.get(String(id)) ?? 0} times, want ${want}`)
  }
  expect(wrong).toEqual([])
  expect(recordedKeys(records)).toHaveLength(n - except.length)
}

describe('an error whose message is not a string', () => {
  it('is a well-formed failure: logged with its real error, and no other job is charged', async () => {
    const N = 20
    const box = sandbox({ TM_ODD: '3:message-500', TM_RECORD_DELAY_MS: '100' })
    const { master, host } = await startMaster([RANGE, `n=${N}`, ...masterArgs(box, 'odd'), '--retries', '1', '--retry-delay', '0.05', '--quiet'], { env: box.env })
    const slave = startSlave([ODD, '--host', host, '--concurrency', '10'], { env: box.env })

    await expectRunEnds(master, [slave], { code: 1, signal: null })
    expect(master.stdout).toMatch(/^Run 'odd' complete: 20 jobs \(19 done, 1 failed\)/m)
    const log = readFailedLog(box.stateDir, 'odd')
    expect(log.map(({ key, attempts, error }) => ({ key, attempts, message: error.message }))).toEqual([{ key: 3, attempts: 2, message: '500' }])
    expect(log[0]!.error.stack).toMatch(/^Error: 500\n\s+at oddValue \(.*odd-throws\.mjs:\d+:\d+\)/)
    expectOthersRanOnce(box.records, N, [3])
    // The slave was never dropped: one connection, no bad frame.
    expect(linesMatching(slave.stderr, /Connected to the master/)).toHaveLength(1)
    expect(linesMatching(slave.stderr, /Lost the master/)).toEqual([])
  }, 60_000)
})

describe('thrown values that cannot be printed', () => {
  it('become failures with a readable message; the slave process survives them', async () => {
    const N = 20
    const box = sandbox({ TM_ODD: '3:null-proto,5:bad-tostring,7:bad-message' })
    const { master, host } = await startMaster([RANGE, `n=${N}`, ...masterArgs(box, 'unprintable'), '--retries', '0', '--quiet'], { env: box.env })
    const slave = startSlave([ODD, '--host', host, '--concurrency', '4'], { env: box.env })

    await expectRunEnds(master, [slave], { code: 1, signal: null })
    expect(master.stdout).toMatch(/^Run 'unprintable' complete: 20 jobs \(17 done, 3 failed\)/m)
    expect(readFailedLog(box.stateDir, 'unprintable').map(({ key, attempts, error }) => ({ key, attempts, message: error.message }))).toEqual([
      { key: 3, attempts: 1, message: 'Handler threw a non-Error value: [object Object]' },
      { key: 5, attempts: 1, message: 'Handler threw a non-Error value: [object Object]' },
      { key: 7, attempts: 1, message: 'Error whose message cannot be read' },
    ])
    expectOthersRanOnce(box.records, N, [3, 5, 7])
    expect(linesMatching(slave.stderr, /Connected to the master/)).toHaveLength(1)
  }, 60_000)
})
