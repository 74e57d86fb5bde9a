// Jobs that fail: a handler that throws is retried, then logged with its error in the
// failed-jobs log while the run goes on; --retry-failed runs exactly those again; a job
// that hangs (--job-timeout) or kills its slave (a poison job) ends in the log too.
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import {
  EXIT_OK,
  MASTER_BIN,
  expectEachKeyRan,
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
  FAULTY,
  RANGE,
  attemptsOf,
  expectOthersRanOnce,
  expectRunEnds,
  failedLogPath,
  hasFailures,
  killHard,
  readFailedLog,
  tearDown,
} from '../helpers/reliability.js'

afterEach(tearDown)

describe('a handler that throws', () => {
  const N = 40
  const FAILING = [3, 17, 29]

  it('is tried 1 + --retries times, logged once with its error, and --retry-failed runs exactly those jobs again', async () => {
    const box = sandbox({ TM_FAIL_IDS: FAILING.join(',') })
    const first = await run(
      MASTER_BIN,
      [RANGE, `n=${N}`, ...masterArgs(box, 'flaky'), ...spawnArgs(2, FAULTY), '--retries', '2', '--retry-delay', '0.05', '--quiet'],
      { env: box.env },
    )

    expect(first.exit, first.stderr).toEqual({ code: 1, signal: null })
    expect(first.stdout).toMatch(new RegExp(`^Run 'flaky' complete: ${N} jobs \\(${N - 3} done, 3 failed\\)`, 'm'))
    expect(first.stdout).toContain(`\n3 jobs failed; see ${failedLogPath(box.stateDir, 'flaky')} (re-run them with --retry-failed)\n`)
    for (const id of FAILING) expect(first.stderr).toContain(`Job ${id} failed after 3 attempts: job ${id} is broken\n`)

    const log = readFailedLog(box.stateDir, 'flaky')
    expect(log.map(({ key, job, attempts, error }) => ({ key, job, attempts, message: error.message }))).toEqual(
      FAILING.map((id) => ({ key: id, job: { id }, attempts: 3, message: `job ${id} is broken` })),
    )
    for (const line of log) {
      expect(line.error.stack).toMatch(
        new RegExp(`^Error: job ${line.key} is broken\\n\\s+at handleJob \\(.*rel-faulty\\.mjs:\\d+:\\d+\\)`),
      )
      expect(Number.isNaN(Date.parse(line.at))).toBe(false)
    }
    // Attempts 1, 2, 3 of each failing job (passed to the handler), one of every other.
    expect(attemptsOf(box.records, [...FAILING, 0, N - 1])).toEqual({ 3: [1, 2, 3], 17: [1, 2, 3], 29: [1, 2, 3], 0: [1], [N - 1]: [1] })
    expectOthersRanOnce(box.records, N, FAILING)
    expect(readCheckpoint(box, 'flaky')).toMatchObject({ complete: true, counts: { done: N - 3, failed: 3 } })
    const logText = readFileSync(failedLogPath(box.stateDir, 'flaky'), 'utf8')

    // The handler is fixed: the retry pass runs the 3 failed jobs and nothing else.
    const fixedEnv = { ...box.env, TM_FIXED: '1' }
    const retry = await run(MASTER_BIN, [RANGE, ...masterArgs(box, 'flaky'), '--retry-failed', ...spawnArgs(1, FAULTY), '--quiet'], {
      env: fixedEnv,
    })
    expect(retry.exit, retry.stderr).toEqual(EXIT_OK)
    const rotatedName = /^flaky\.failed\.\d{4}-\d\d-\d\dT\d\d-\d\d-\d\d-\d{3}Z\.jsonl$/
    const rotated = readdirSync(box.stateDir).filter((file) => rotatedName.test(file))
    expect(rotated).toHaveLength(1)
    expect(readFileSync(join(box.stateDir, rotated[0]), 'utf8')).toBe(logText)
    expect(retry.stdout).toContain(`Retrying 3 failed jobs of run 'flaky' (from ${join(box.stateDir, rotated[0])}) as run 'flaky.retry'\n`)
    expect(retry.stdout).toMatch(/^Run 'flaky\.retry' complete: 3 jobs \(3 done, 0 failed\)/m)
    expect(hasFailures(box.stateDir, 'flaky'), 'no new failed-jobs log').toBe(false)
    expectEachKeyRan(box.records, N)
    expect(attemptsOf(box.records, FAILING)).toEqual({ 3: [1, 1, 2, 3], 17: [1, 1, 2, 3], 29: [1, 1, 2, 3] })

    const again = await run(MASTER_BIN, [RANGE, ...masterArgs(box, 'flaky'), '--retry-failed', '--quiet'], { env: fixedEnv })
    expect(again.exit, again.stderr).toEqual(EXIT_OK)
    expect(again.stdout).toBe("Run 'flaky' has no failed jobs to retry.\n")
    expect(recordedKeys(box.records)).toHaveLength(N)
    // A state dir where no run ever kept state: nothing to retry either.
    const nowhere = await run(
      MASTER_BIN,
      [RANGE, '--key', 'flaky', '--state-dir', join(box.stateDir, 'nowhere'), '--retry-failed', '--quiet'],
      { env: fixedEnv },
    )
    expect(nowhere.exit, nowhere.stderr).toEqual(EXIT_OK)
    expect(nowhere.stdout).toBe("Run 'flaky' has no failed jobs to retry.\n")
  })
})

describe('a --retry-failed master killed -9 before any job finishes', () => {
  it('leaves the retry pass resumable: the next --retry-failed runs exactly the failed jobs', async () => {
    const N = 30
    const FAILING = [1, 4, 7, 10, 13, 16, 19, 22, 25, 28]
    const box = sandbox({ TM_FAIL_IDS: FAILING.join(',') })
    const first = await run(MASTER_BIN, [RANGE, `n=${N}`, ...masterArgs(box, 'r'), ...spawnArgs(1, FAULTY), '--retries', '0', '--quiet'], {
      env: box.env,
    })
    expect(first.exit, first.stderr).toEqual({ code: 1, signal: null })
    expect(readFailedLog(box.stateDir, 'r').map(({ key }) => key)).toEqual(FAILING)

    // No slave: the pass listens with every job still queued, and is killed there.
    const { master: killed } = await startMaster([RANGE, ...masterArgs(box, 'r'), '--retry-failed', '--quiet'], { env: box.env })
    const rotated = killed.stdout.match(/^Retrying 10 failed jobs of run 'r' \(from (.+)\) as run 'r\.retry'$/m)?.[1]
    expect(rotated, killed.stdout).toBeDefined()
    expect(await killHard(killed)).toEqual({ code: null, signal: 'SIGKILL' })

    const fixedEnv = { ...box.env, TM_FIXED: '1' }
    const resumed = await run(MASTER_BIN, [RANGE, ...masterArgs(box, 'r'), '--retry-failed', ...spawnArgs(1, FAULTY), '--quiet'], {
      env: fixedEnv,
    })
    expect(resumed.exit, resumed.stderr).toEqual(EXIT_OK)
    expect(resumed.stdout).toContain(`Resuming the retry of 10 failed jobs of run 'r' (from ${rotated}) as run 'r.retry'\n`)
    expect(resumed.stdout).toMatch(/^Run 'r\.retry' complete: 10 jobs \(10 done, 0 failed\)/m)
    expect(hasFailures(box.stateDir, 'r'), 'no new failed-jobs log').toBe(false)
    // Each failing job ran twice (the failed attempt, then the retry pass), every other once.
    expect(attemptsOf(box.records, FAILING)).toEqual(Object.fromEntries(FAILING.map((id) => [id, [1, 1]])))
    expect(tally(recordedKeys(box.records))).toEqual(new Map(Array.from({ length: N }, (_, id) => [String(id), 1])))
  })
})

describe('a job that never ends', () => {
  it('is taken back after --job-timeout as a failed attempt, logged after the last one, and the run completes', async () => {
    const N = 10
    const box = sandbox({ TM_HANG_IDS: '2' })
    const { master, host } = await startMaster(
      [RANGE, `n=${N}`, ...masterArgs(box, 'hang'), '--job-timeout', '0.5', '--retries', '1', '--retry-delay', '0.05', '--quiet'],
      { env: box.env },
    )
    // 4 lanes: the two hung attempts hold two of them, the others run the rest.
    const slave = startSlave([FAULTY, '--host', host, '--concurrency', '4'], { env: box.env })

    await expectRunEnds(master, [slave], { code: 1, signal: null })
    expect(master.stdout).toMatch(/^Run 'hang' complete: 10 jobs \(9 done, 1 failed\)/m)
    const log = readFailedLog(box.stateDir, 'hang')
    expect(log.map(({ key, job, attempts, error }) => ({ key, job, attempts, error }))).toEqual([
      { key: 2, job: { id: 2 }, attempts: 2, error: { message: 'Timed out after 0.5 s (--job-timeout)' } },
    ])
    expectOthersRanOnce(box.records, N, [2])
    // The retry ran the handler again (attempt 2), on the only slave there is.
    expect(attemptsOf(box.records, [2])).toEqual({ 2: [1, 2] })
  })
})

describe('a job the master takes back', () => {
  it('has its ctx.signal aborted on the slave, so the handler can stop its work', async () => {
    const N = 6
    const box = sandbox({ TM_ABORT_IDS: '3' })
    const { master, host } = await startMaster(
      [RANGE, `n=${N}`, ...masterArgs(box, 'abort'), '--job-timeout', '0.5', '--retries', '0', '--quiet'],
      { env: box.env },
    )
    const slave = startSlave([FAULTY, '--host', host, '--concurrency', '2'], { env: box.env })

    await expectRunEnds(master, [slave], { code: 1, signal: null })
    expect(readFailedLog(box.stateDir, 'abort').map(({ key, attempts, error }) => ({ key, attempts, message: error.message }))).toEqual([
      { key: 3, attempts: 1, message: 'Timed out after 0.5 s (--job-timeout)' },
    ])
    const aborted = readdirSync(box.records).filter((file) => file.startsWith('aborted-'))
    expect(aborted.map((file) => readFileSync(join(box.records, file), 'utf8'))).toEqual([
      '3 aborted: The master took the job back (--job-timeout)\n',
    ])
    expectOthersRanOnce(box.records, N, [3])
  })
})

describe('a poison job (it kills its slave)', () => {
  it('counts an attempt per crash and ends in the failed-jobs log; the restarted local slaves finish every other job', async () => {
    const N = 20
    const POISON = 4
    const box = sandbox({ TM_EXIT_IDS: String(POISON) })
    // One job per slave at a time (no prefetch): only the poison job is in flight when a slave dies.
    const master = await run(
      MASTER_BIN,
      [
        RANGE,
        `n=${N}`,
        ...masterArgs(box, 'poison'),
        ...spawnArgs(2, FAULTY),
        '--concurrency',
        '1',
        '--prefetch',
        '0',
        '--retries',
        '2',
        '--quiet',
      ],
      { env: box.env },
    )

    expect(master.exit, master.stderr).toEqual({ code: 1, signal: null })
    expect(master.stdout).toMatch(/^Run 'poison' complete: 20 jobs \(19 done, 1 failed\)/m)
    const log = readFailedLog(box.stateDir, 'poison')
    expect(log.map(({ key, job, attempts }) => ({ key, job, attempts }))).toEqual([{ key: POISON, job: { id: POISON }, attempts: 3 }])
    expect(log[0].error.message).toMatch(/^The slave running it went away \(slave [^:]+:\d+ \(127\.0\.0\.1:\d+\): .+\)$/)
    expect(attemptsOf(box.records, [POISON])).toEqual({ [POISON]: [1, 2, 3] })
    // Each crash before the last one was followed by a restart of that slave.
    expect(master.stderr.match(/^\[slave [12]\] exited \(code 1\); starting it again$/gm)?.length ?? 0).toBeGreaterThanOrEqual(2)
    expectOthersRanOnce(box.records, N, [POISON])
  })

  it('that ends its slave with exit code 0 mid-run: the local slave is started again all the same, and the run completes', async () => {
    const N = 20
    const POISON = 4
    const box = sandbox({ TM_EXIT_IDS: String(POISON), TM_EXIT_CODE: '0' })
    // Exit 0 is how a slave ends when the run is over; mid-run it must not leave the run without slaves.
    const master = await run(
      MASTER_BIN,
      [
        RANGE,
        `n=${N}`,
        ...masterArgs(box, 'exit0'),
        ...spawnArgs(1, FAULTY),
        '--concurrency',
        '1',
        '--prefetch',
        '0',
        '--retries',
        '1',
        '--quiet',
      ],
      { env: box.env },
    )

    expect(master.exit, master.stderr).toEqual({ code: 1, signal: null })
    expect(master.stdout).toMatch(/^Run 'exit0' complete: 20 jobs \(19 done, 1 failed\)/m)
    expect(readFailedLog(box.stateDir, 'exit0').map(({ key, attempts }) => ({ key, attempts }))).toEqual([{ key: POISON, attempts: 2 }])
    expect(master.stderr.match(/^\[slave 1\] exited \(code 0\); starting it again$/gm)?.length).toBe(2)
    expectOthersRanOnce(box.records, N, [POISON])
  })
})
