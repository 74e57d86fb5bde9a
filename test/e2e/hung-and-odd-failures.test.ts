// Failures that used to stop a run or lose jobs: a handler that never settles (and
// ignores its signal) held its slave's only lane for ever, and odd thrown values (an
// Error whose message is a number, objects that cannot be printed) either made the
// master drop the slave or crashed the slave process.
import { afterEach, describe, expect, it } from 'vitest'
import { MASTER_BIN, fixture, masterArgs, run, sandbox, spawnArgs, startMaster, startSlave } from '../helpers/proc.js'
import { RANGE, attemptsOf, expectOthersRanOnce, expectRunEnds, linesMatching, readFailedLog, tearDown } from '../helpers/reliability.js'

afterEach(tearDown)

const HANG = fixture('hang-forever.mjs')
const ODD = `${fixture('odd-throws.mjs')}:handleJob`

describe('a handler that never settles and ignores its signal', () => {
  it('does not hold its lane: the slave (concurrency 1) runs every other job and the hung one ends in the failed-jobs log', async () => {
    const N = 20
    const box = sandbox({ TM_HANG_IDS: '3' })
    const { master, host } = await startMaster(
      [RANGE, `n=${N}`, ...masterArgs(box, 'hung'), '--job-timeout', '2', '--retries', '1', '--quiet'],
      { env: box.env },
    )
    const slave = startSlave([HANG, '--host', host], { env: box.env })

    await expectRunEnds(master, [slave], { code: 1, signal: null })
    expect(master.stdout).toMatch(/^Run 'hung' complete: 20 jobs \(19 done, 1 failed\)/m)
    const log = readFailedLog(box.stateDir, 'hung')
    expect(log.map(({ key, job, attempts, error }) => ({ key, job, attempts, error }))).toEqual([
      { key: 3, job: { id: 3 }, attempts: 2, error: { message: 'Timed out after 2 s (--job-timeout)' } },
    ])
    expect(attemptsOf(box.records, [3])).toEqual({ 3: [1, 2] })
    expectOthersRanOnce(box.records, N, [3])
    // Two abandoned jobs run on in the process, under the bound: the slave kept working.
    expect(linesMatching(slave.stderr, /abandoned jobs are still running/)).toEqual([])
    expect(linesMatching(slave.stderr, /Connected to the master/)).toHaveLength(1)
  }, 60_000)
})

describe('an error whose message is not a string', () => {
  it('is a well-formed failure: logged with its real error, and no other job is charged', async () => {
    const N = 20
    const box = sandbox({ TM_ODD: '3:message-500', TM_RECORD_DELAY_MS: '100' })
    const { master, host } = await startMaster(
      [RANGE, `n=${N}`, ...masterArgs(box, 'odd'), '--retries', '1', '--retry-delay', '0.05', '--quiet'],
      { env: box.env },
    )
    const slave = startSlave([ODD, '--host', host, '--concurrency', '10'], { env: box.env })

    await expectRunEnds(master, [slave], { code: 1, signal: null })
    expect(master.stdout).toMatch(/^Run 'odd' complete: 20 jobs \(19 done, 1 failed\)/m)
    const log = readFailedLog(box.stateDir, 'odd')
    expect(log.map(({ key, attempts, error }) => ({ key, attempts, message: error.message }))).toEqual([
      { key: 3, attempts: 2, message: '500' },
    ])
    expect(log[0].error.stack).toMatch(/^Error: 500\n\s+at oddValue \(.*odd-throws\.mjs:\d+:\d+\)/)
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
    const { master, host } = await startMaster([RANGE, `n=${N}`, ...masterArgs(box, 'unprintable'), '--retries', '0', '--quiet'], {
      env: box.env,
    })
    const slave = startSlave([ODD, '--host', host, '--concurrency', '4'], { env: box.env })

    await expectRunEnds(master, [slave], { code: 1, signal: null })
    expect(master.stdout).toMatch(/^Run 'unprintable' complete: 20 jobs \(17 done, 3 failed\)/m)
    expect(
      readFailedLog(box.stateDir, 'unprintable').map(({ key, attempts, error }) => ({ key, attempts, message: error.message })),
    ).toEqual([
      { key: 3, attempts: 1, message: 'Handler threw a non-Error value: [object Object]' },
      { key: 5, attempts: 1, message: 'Handler threw a non-Error value: [object Object]' },
      { key: 7, attempts: 1, message: 'Error whose message cannot be read' },
    ])
    expectOthersRanOnce(box.records, N, [3, 5, 7])
    expect(linesMatching(slave.stderr, /Connected to the master/)).toHaveLength(1)
  }, 60_000)
})

describe('a slave with too many abandoned jobs still running', () => {
  it('says so, exits with code 3 and is replaced by --spawn; the run completes', async () => {
    const N = 40
    const HUNG = [0, 1, 2, 3, 4, 5, 6, 7]
    const box = sandbox({ TM_HANG_IDS: HUNG.join(',') })
    // 8 lanes, all hung at once: the 8 abandoned jobs reach the limit (max(8, concurrency)).
    const master = await run(
      MASTER_BIN,
      [
        RANGE,
        `n=${N}`,
        ...masterArgs(box, 'orphans'),
        ...spawnArgs(1, HANG),
        '--concurrency',
        '8',
        '--job-timeout',
        '1',
        '--retries',
        '0',
        '--quiet',
      ],
      { env: box.env },
    )

    expect(master.exit, master.stderr).toEqual({ code: 1, signal: null })
    expect(master.stdout).toMatch(/^Run 'orphans' complete: 40 jobs \(32 done, 8 failed\)/m)
    expect(readFailedLog(box.stateDir, 'orphans').map(({ key, attempts, error }) => ({ key, attempts, error }))).toEqual(
      HUNG.map((key) => ({ key, attempts: 1, error: { message: 'Timed out after 1 s (--job-timeout)' } })),
    )
    expect(linesMatching(master.stderr, /abandoned jobs/)).toEqual([
      expect.stringMatching(
        /^\[slave 1\] tm-slave\[\d+\]: 8 abandoned jobs are still running in this process; restarting it to free them$/,
      ),
      '[slave 1] exited (code 3); starting it again (abandoned jobs were still running in it)',
    ])
    // The 8 jobs queued behind the hung ones never started: not charged, run once after the restart.
    expectOthersRanOnce(box.records, N, HUNG)
  }, 60_000)
})
