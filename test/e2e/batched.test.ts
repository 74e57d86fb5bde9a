// Batched handlers (handleBatch): the slave hands the handler batches of jobs, but every
// job is still tracked, retried, logged and checkpointed as itself. A bad row in a batch
// ends alone in the failed-jobs log; kill -9 and a graceful stop keep the guarantees of
// single jobs.
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import {
  EXIT_OK,
  MASTER_BIN,
  expectEachKeyRan,
  fixture,
  masterArgs,
  readCheckpoint,
  recordedKeys,
  run,
  sandbox,
  spawnArgs,
  startMaster,
  startSlave,
  tally,
} from '../helpers/proc.js'
import {
  RANGE,
  expectEachKeyAtLeastOnce,
  expectOthersRanOnce,
  expectRunEnds,
  freeze,
  killHard,
  linesMatching,
  readFailedLog,
  recordedCount,
  tearDown,
  until,
} from '../helpers/reliability.js'

afterEach(tearDown)

const BATCH = fixture('batch-record.mjs')
const HANG = fixture('batch-hang.mjs')

/** Every recorded call (its size, and the first attempts of its jobs), in order, over the slave processes that wrote `calls-*.txt`. */
function calls(dir: string): { size: number; attempts: string }[] {
  return readdirSync(dir)
    .filter((file) => file.startsWith('calls-'))
    .flatMap((file) => readFileSync(join(dir, file), 'utf8').trim().split('\n'))
    .map((line) => ({ size: Number(line.split(' ')[0]), attempts: line.split(' ')[1] ?? '' }))
}

/** Every call's size, in order. */
const callSizes = (dir: string): number[] => calls(dir).map(({ size }) => size)

describe('handleBatch', () => {
  it('a batch of 1,000 with one poison row: exactly that row is in the failed-jobs log with its error, the other 999 done once', async () => {
    const box = sandbox({ TM_POISON_IDS: '617' })
    const result = await run(
      MASTER_BIN,
      [
        RANGE,
        'n=1000',
        ...masterArgs(box, 'poison'),
        ...spawnArgs(1, BATCH),
        '--batch',
        '1000',
        '--linger',
        '5000',
        '--retries',
        '3',
        '--retry-delay',
        '0.05',
        '--quiet',
      ],
      {
        env: box.env,
      },
    )
    expect(result.exit, result.stderr).toEqual({ code: 1, signal: null })
    expect(result.stdout).toMatch(/^Run 'poison' complete: 1000 jobs \(999 done, 1 failed\)/m)
    expect(result.stderr).toContain('Job 617 failed after 4 attempts: row 617 is poison\n')
    const log = readFailedLog(box.stateDir, 'poison')
    expect(log.map(({ key, job, attempts, error }) => ({ key, job, attempts, message: error.message }))).toEqual([
      { key: 617, job: { id: 617 }, attempts: 4, message: 'row 617 is poison' },
    ])
    const ids = Array.from({ length: 1000 }, (_, id) => String(id)).filter((id) => id !== '617')
    expect(recordedKeys(box.records).sort()).toEqual(ids.sort())
    // One call with all 1,000 rows, split 10 times down to the row (2 calls a level, the
    // first of them all: a batch only ever fills once), then its 3 retries alone.
    expect(callSizes(box.records)[0]).toBe(1000)
    expect(callSizes(box.records).sort((a, b) => b - a)).toEqual([
      1000, 500, 500, 250, 250, 125, 125, 63, 62, 32, 31, 16, 16, 8, 8, 4, 4, 2, 2, 1, 1, 1, 1, 1,
    ])
    expect(readCheckpoint(box, 'poison')).toMatchObject({ complete: true, counts: { done: 999, failed: 1 } })
  })

  it('kill -9 of a slave during a batched run: no job is lost, repeats only jobs it held', async () => {
    const N = 20_000
    const box = sandbox({ TM_RECORD_DELAY_MS: '20' })
    const { master, host } = await startMaster([RANGE, `n=${N}`, ...masterArgs(box, 'killed'), '--status-interval', '0.2'], {
      env: box.env,
    })
    const slaveArgs = [BATCH, '--host', host, '--batch', '50', '--concurrency', '2']
    const victim = startSlave(slaveArgs, { env: box.env })
    const survivor = startSlave(slaveArgs, { env: box.env })
    await master.waitFor(/(?:^|\| )done [1-9]\d{0,2}(?:,\d{3})+\b/m, 'stdout')
    await killHard(victim)
    await expectRunEnds(master, [survivor])
    const counts = tally(recordedKeys(box.records))
    const missing = Array.from({ length: N }, (_, id) => id).filter((id) => !counts.has(String(id)))
    expect(missing).toEqual([])
    expect([...counts.keys()].every((key) => Number(key) >= 0 && Number(key) < N)).toBe(true)
    // The victim held at most 2 lanes × 50 + its prefetch of 100 jobs unreported.
    const repeated = [...counts.values()].filter((count) => count > 1).length
    expect(repeated).toBeLessThanOrEqual(200)
    expect(readCheckpoint(box, 'killed')).toMatchObject({ complete: true, counts: { done: N, failed: 0 } })
  })

  it('a master stopped (SIGSTOP) past the heartbeat timeout: its slaves drop it and come back, no row is charged an attempt, every row stays batched', async () => {
    const N = 2000
    // Calls of a second: the slaves are in the middle of theirs when the master stops.
    const box = sandbox({ TM_RECORD_DELAY_MS: '1000' })
    const { master, host } = await startMaster([RANGE, `n=${N}`, ...masterArgs(box, 'stalled'), '--heartbeat', '0.2', '--quiet'], {
      env: box.env,
    })
    const slaveArgs = [BATCH, '--host', host, '--batch', '50', '--concurrency', '2']
    const slaves = [startSlave(slaveArgs, { env: box.env }), startSlave(slaveArgs, { env: box.env })]
    await until('the slaves to record 200 rows', () => recordedCount(box.records) >= 200, 30_000)
    freeze(master)
    // Each slave drops the silent master (2.5 heartbeats) while it is stopped, with the rows of its calls.
    await Promise.all(slaves.map((slave) => slave.waitFor(/No heartbeat from the master/, 'stderr')))
    master.kill('SIGCONT')

    await expectRunEnds(master, slaves)
    // The stall was the master's: it drops nobody for the pongs it did not read, and the
    // rows of the slaves that dropped it go back uncharged, so none runs alone as a retry.
    expect(linesMatching(master.stderr, /^Dropped /)).toEqual([])
    expect(master.stderr).toMatch(
      /disconnected \(code 1006\); \d+ jobs in flight go back to the buffer uncharged \(the master stalled for \d+\.\d s\)$/m,
    )
    expect(calls(box.records).filter(({ attempts }) => !/^[1,]+$/.test(attempts))).toEqual([])
    expect(readCheckpoint(box, 'stalled')).toMatchObject({ complete: true, counts: { done: N, failed: 0 } })
    // Nothing lost; a row in a call when its slave dropped the master ran at most twice.
    expectEachKeyAtLeastOnce(box.records, N)
    expect([...tally(recordedKeys(box.records)).values()].filter((count) => count > 2)).toEqual([])
  }, 90_000)

  it('SIGINT half way through a batched run, then resume: every job runs exactly once overall', async () => {
    const N = 20_000
    const box = sandbox({ TM_RECORD_DELAY_MS: '20' })
    const { master } = await startMaster(
      [
        RANGE,
        `n=${N}`,
        ...masterArgs(box, 'graceful'),
        ...spawnArgs(2, BATCH),
        '--batch',
        '50',
        '--concurrency',
        '2',
        '--status-interval',
        '0.2',
      ],
      { env: box.env },
    )
    await master.waitFor(/(?:^|\| )done [1-9]\d{0,2}(?:,\d{3})+\b/m, 'stdout')
    master.kill('SIGINT')
    expect(await master.exited, master.stderr).toEqual({ code: 130, signal: null })
    const before = recordedKeys(box.records)
    expect(before.length).toBeLessThan(N)
    expect(new Set(before).size).toBe(before.length)
    expect(readCheckpoint(box, 'graceful').counts).toEqual({ done: before.length, failed: 0 })

    const again = await run(
      MASTER_BIN,
      [RANGE, `n=${N}`, ...masterArgs(box, 'graceful'), ...spawnArgs(2, BATCH), '--batch', '50', '--quiet'],
      { env: box.env },
    )
    expect(again.exit, again.stderr).toEqual(EXIT_OK)
    expectEachKeyRan(box.records, N)
  })

  it('a row that hangs its batch (--job-timeout): the batch is split down to it, it alone is charged and logged, every other row done once', async () => {
    const N = 300
    const box = sandbox({ TM_HANG_IDS: '177' })
    // Before, the master charged a neighbour of the hung row (the oldest late job) and gave
    // the row back uncharged, into the next batch: about one row a second, never row 177.
    const result = await run(
      MASTER_BIN,
      [
        RANGE,
        `n=${N}`,
        ...masterArgs(box, 'hungbatch'),
        ...spawnArgs(1, HANG),
        '--batch',
        '50',
        '--job-timeout',
        '1',
        '--retries',
        '1',
        '--retry-delay',
        '0.05',
        '--quiet',
      ],
      {
        env: box.env,
      },
    )
    expect(result.exit, result.stderr).toEqual({ code: 1, signal: null })
    expect(result.stdout).toMatch(/^Run 'hungbatch' complete: 300 jobs \(299 done, 1 failed\)/m)
    const log = readFailedLog(box.stateDir, 'hungbatch')
    expect(log.map(({ key, job, attempts, error }) => ({ key, job, attempts, message: error.message }))).toEqual([
      { key: 177, job: { id: 177 }, attempts: 2, message: 'Timed out after 1 s (--job-timeout)' },
    ])
    expectOthersRanOnce(box.records, N, [177])
    // No neighbour was charged for it: every call that ran (all but row 177's) ran first attempts.
    expect(calls(box.records).filter(({ attempts }) => !/^[1,]+$/.test(attempts))).toEqual([])
    // The hung calls the split left behind stay under the slave's bound: no restart.
    expect(linesMatching(result.stderr, /abandoned jobs/)).toEqual([])
    expect(readCheckpoint(box, 'hungbatch')).toMatchObject({ complete: true, counts: { done: 299, failed: 1 } })
  }, 90_000)

  it('a batch slave stopped (SIGSTOP) with rows past --job-timeout is dropped by the master as stuck, long before its heartbeat; another slave finishes every row', async () => {
    const N = 300
    const box = sandbox({ TM_RECORD_DELAY_MS: '50' })
    // A heartbeat of 10 minutes: only --job-timeout can end the stopped slave's hold.
    const { master, host } = await startMaster(
      [
        RANGE,
        `n=${N}`,
        ...masterArgs(box, 'stuck'),
        '--job-timeout',
        '1',
        '--retries',
        '1',
        '--retry-delay',
        '0.05',
        '--heartbeat',
        '600',
        '--quiet',
      ],
      { env: box.env },
    )
    const frozen = startSlave([BATCH, '--host', host, '--batch', '10', '--prefetch', '10'], { env: box.env })
    await until('the first slave to record 10 rows', () => recordedCount(box.records) >= 10, 10_000)
    freeze(frozen)
    // It times out its own calls (batches of 10: 4 halvings), so the master waits 2 × 1 s × (1 + 4) without a report.
    await master.waitFor(
      new RegExp(
        `^Dropped slave [^:\\s]+:${frozen.child.pid} \\(127\\.0\\.0\\.1:\\d+\\): no job reported for 10 s, with jobs past --job-timeout$`,
        'm',
      ),
    )
    const helper = startSlave([BATCH, '--host', host, '--batch', '10'], { env: box.env })

    await expectRunEnds(master, [helper])
    expect(master.stdout).toMatch(new RegExp(`^Run 'stuck' complete: ${N} jobs \\(${N} done, 0 failed\\)`, 'm'))
    // Nothing lost; repeated at most: the rows the stopped slave held (a batch and its prefetch).
    expect(expectEachKeyAtLeastOnce(box.records, N)).toBeLessThanOrEqual(20)
    expect(await killHard(frozen)).toEqual({ code: null, signal: 'SIGKILL' })
  }, 90_000)
})
