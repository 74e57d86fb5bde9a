import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { StateFileError } from '../../../../src/errors.js'
import type { AttemptOptions, SlaveTiming } from '../../../../src/master/engine/attempt-policy.js'
import { AttemptPolicy, MAX_RETRY_DELAY_MS, retryDelayMs, stuckAfterMs } from '../../../../src/master/engine/attempt-policy.js'
import { FailedLog } from '../../../../src/master/state/failed-log.js'
import type { LedgerCounts } from '../../../../src/master/engine/ledger.js'
import { Ledger } from '../../../../src/master/engine/ledger.js'
import type { Ranges } from '../../../../src/protocol/ranges.js'
import { attemptAt } from '../../../../src/protocol/jobs-batch.js'
import { cleanTempDirs, tempDir } from '../../../helpers/proc.js'
import { thrownBy } from '../../support.js'

const S1 = 1
const S2 = 2
const S3 = 3
/** The time of the tests: 2024-01-01T12:30:15.250Z. */
const T = Date.UTC(2024, 0, 1, 12, 30, 15, 250)
const AT = '2024-01-01T12:30:15.250Z'

function counts(partial: Partial<LedgerCounts>): LedgerCounts {
  return { queued: 0, inFlight: 0, waiting: 0, done: 0, failed: 0, skipped: 0, ...partial }
}

interface Setup {
  ledger: Ledger
  policy: AttemptPolicy
  /** Path of the failed-jobs log. */
  path: string
  /** How many times onDue was called. */
  due: () => number
}

const opened: { policy: AttemptPolicy; log: FailedLog }[] = []

/** Warnings the policies said (the failed-jobs log opened again). */
const warnings: string[] = []

/** A policy over a ledger of `n` jobs `{ n: seq }` keyed `k<seq>`, logging into a temp dir. */
function setup(options: Partial<AttemptOptions>, n: number, path = join(tempDir(), 'run.failed.jsonl')): Setup {
  const ledger = new Ledger(n)
  for (let seq = 0; seq < n; seq++) ledger.add({ n: seq }, `k${seq}`)
  const log = new FailedLog(path)
  let calls = 0
  const policy = new AttemptPolicy(
    ledger,
    log,
    { retries: 0, retryDelay: 1, jobTimeout: 0, ...options },
    () => calls++,
    (message) => warnings.push(message),
  )
  opened.push({ policy, log })
  return { ledger, policy, path, due: () => calls }
}

/** Takes job `seq` (queued, next in line) on `session` again, so it is on attempt `attempts` there. */
function retake(ledger: Ledger, seq: number, session: number, attempts: number): void {
  for (let a = 1; a < attempts; a++) {
    expect(ledger.requeue(seq, session)).toBe(true)
    expect(ledger.take(1, session, T)).toEqual({ type: 'jobs', first: seq, jobs: [{ n: seq }], attempts: [a + 1] })
  }
}

afterEach(() => {
  for (const { policy, log } of opened.splice(0)) {
    policy.stop()
    log.close()
  }
  vi.useRealTimers()
  cleanTempDirs()
})

describe('retryDelayMs', () => {
  it('doubles from --retry-delay with each attempt', () => {
    expect([1, 2, 3, 4, 5].map((attempts) => retryDelayMs(attempts, 1))).toEqual([1000, 2000, 4000, 8000, 16000])
    expect([1, 2, 3].map((attempts) => retryDelayMs(attempts, 0.25))).toEqual([250, 500, 1000])
    expect(retryDelayMs(3, 0)).toBe(0)
  })

  it('is capped at MAX_RETRY_DELAY_MS', () => {
    expect(MAX_RETRY_DELAY_MS).toBe(60_000)
    expect([6, 7, 8, 255].map((attempts) => retryDelayMs(attempts, 1))).toEqual([32_000, 60_000, 60_000, 60_000])
    expect(retryDelayMs(1, 60)).toBe(60_000)
    expect(retryDelayMs(1, 3600)).toBe(60_000)
  })
})

describe('AttemptPolicy.fail', () => {
  it('defers an attempt with tries left, and queues it again when its delay is over', () => {
    vi.useFakeTimers({ now: T })
    const { ledger, policy, due } = setup({ retries: 2, retryDelay: 1 }, 3)
    ledger.take(3, S1, T)
    const finished: Ranges = []
    expect(policy.fail(S1, [{ seq: 1, message: 'boom' }], T, finished)).toEqual([])
    expect(ledger.counts).toEqual(counts({ inFlight: 2, waiting: 1 }))
    expect(ledger.nextDue).toBe(T + 1000)
    expect(finished).toEqual([])

    vi.advanceTimersByTime(999)
    expect(due()).toBe(0)
    expect(ledger.counts).toEqual(counts({ inFlight: 2, waiting: 1 }))
    vi.advanceTimersByTime(1)
    expect(due()).toBe(1)
    expect(ledger.counts).toEqual(counts({ queued: 1, inFlight: 2 }))
    expect(ledger.nextDue).toBeUndefined()
    expect(ledger.take(5, S2, T + 1000)).toEqual({ type: 'jobs', first: 1, jobs: [{ n: 1 }], attempts: [2] })

    // The second failure waits twice as long.
    expect(policy.fail(S2, [{ seq: 1, message: 'again' }], T + 1000, finished)).toEqual([])
    expect(ledger.nextDue).toBe(T + 3000)
    vi.advanceTimersByTime(1999)
    expect(due()).toBe(1)
    vi.advanceTimersByTime(1)
    expect(due()).toBe(2)
    expect(ledger.counts).toEqual(counts({ queued: 1, inFlight: 2 }))
    expect(vi.getTimerCount()).toBe(0)
  })

  it('sets its timer for the earliest deferred job, then for the next', () => {
    vi.useFakeTimers({ now: T })
    const { ledger, policy, due } = setup({ retries: 3, retryDelay: 1 }, 2)
    ledger.take(2, S1, T)
    retake(ledger, 1, S1, 2)
    // Job 1 waits 2 s (its second attempt failed), job 0 only 1 s.
    expect(policy.fail(S1, [{ seq: 1, message: 'b' }], T, [])).toEqual([])
    expect(ledger.nextDue).toBe(T + 2000)
    expect(policy.fail(S1, [{ seq: 0, message: 'a' }], T, [])).toEqual([])
    expect(ledger.nextDue).toBe(T + 1000)
    expect(vi.getTimerCount()).toBe(1)

    vi.advanceTimersByTime(1000)
    expect(due()).toBe(1)
    expect(ledger.counts).toEqual(counts({ queued: 1, waiting: 1 }))
    vi.advanceTimersByTime(999)
    expect(due()).toBe(1)
    vi.advanceTimersByTime(1)
    expect(due()).toBe(2)
    expect(ledger.counts).toEqual(counts({ queued: 2 }))
    expect(ledger.take(5, S2, T + 2000)).toEqual({ type: 'jobs', first: 0, jobs: [{ n: 0 }, { n: 1 }], attempts: [2, 3] })
  })

  it('logs an attempt with no tries left, finishes its job and appends its seq to `finished`', () => {
    const { ledger, policy, path } = setup({ retries: 0 }, 3)
    ledger.take(3, S1, T)
    const finished: Ranges = []
    expect(ledger.complete([0, 1], S1, finished)).toBe(1)
    const stack = 'Error: boom\n    at handler (job.js:1:1)'
    const failed = policy.fail(S1, [{ seq: 1, message: 'boom', stack }], T, finished)
    expect(failed).toEqual([{ key: 'k1', job: { n: 1 }, attempts: 1, error: { message: 'boom', stack }, at: AT }])
    expect(readFileSync(path, 'utf8')).toBe(
      `{"key":"k1","job":{"n":1},"attempts":1,"error":{"message":"boom","stack":"Error: boom\\n    at handler (job.js:1:1)"},"at":"${AT}"}\n`,
    )
    // Seq 1 follows seq 0's run.
    expect(finished).toEqual([0, 2])
    expect(ledger.counts).toEqual(counts({ inFlight: 1, done: 1, failed: 1 }))
    expect(ledger.position).toBe(2)
    expect(ledger.nextDue).toBeUndefined()
  })

  it('defers and logs in one report, each job by its own attempts', () => {
    const { ledger, policy, path } = setup({ retries: 1, retryDelay: 2 }, 4)
    ledger.take(4, S1, T)
    retake(ledger, 2, S1, 2)
    const finished: Ranges = [10, 1]
    const failed = policy.fail(
      S1,
      [
        { seq: 2, message: 'second' },
        { seq: 0, message: 'first' },
      ],
      T,
      finished,
    )
    expect(failed).toEqual([{ key: 'k2', job: { n: 2 }, attempts: 2, error: { message: 'second' }, at: AT }])
    expect(readFileSync(path, 'utf8')).toBe(`{"key":"k2","job":{"n":2},"attempts":2,"error":{"message":"second"},"at":"${AT}"}\n`)
    expect(finished).toEqual([10, 1, 2, 1])
    expect(ledger.nextDue).toBe(T + 2000)
    expect(ledger.counts).toEqual(counts({ inFlight: 2, waiting: 1, failed: 1 }))
  })

  it('counts a seq named twice in one report as one attempt', () => {
    const { ledger, policy, path } = setup({ retries: 0 }, 2)
    ledger.take(2, S1, T)
    const finished: Ranges = []
    const failed = policy.fail(
      S1,
      [
        { seq: 0, message: 'one' },
        { seq: 0, message: 'two' },
      ],
      T,
      finished,
    )
    expect(failed).toEqual([{ key: 'k0', job: { n: 0 }, attempts: 1, error: { message: 'one' }, at: AT }])
    expect(readFileSync(path, 'utf8')).toBe(`{"key":"k0","job":{"n":0},"attempts":1,"error":{"message":"one"},"at":"${AT}"}\n`)
    expect(finished).toEqual([0, 1])
    expect(ledger.counts).toEqual(counts({ inFlight: 1, failed: 1 }))

    const retried = setup({ retries: 2, retryDelay: 1 }, 1)
    retried.ledger.take(1, S1, T)
    expect(
      retried.policy.fail(
        S1,
        [
          { seq: 0, message: 'one' },
          { seq: 0, message: 'two' },
        ],
        T,
        [],
      ),
    ).toEqual([])
    expect(retried.ledger.counts).toEqual(counts({ waiting: 1 }))
    expect(retried.ledger.nextDue).toBe(T + 1000)
  })

  it('ignores seqs not in flight on that session', () => {
    const { ledger, policy, path } = setup({ retries: 0 }, 3)
    ledger.take(2, S1, T)
    const finished: Ranges = []
    // In flight on another session, queued, beyond the window.
    const failures = [0, 2, 99].map((seq) => ({ seq, message: 'stale' }))
    expect(policy.fail(S2, failures.slice(0, 1), T, finished)).toEqual([])
    expect(policy.fail(S1, failures.slice(1), T, finished)).toEqual([])
    expect(finished).toEqual([])
    expect(existsSync(path)).toBe(false)
    expect(ledger.counts).toEqual(counts({ queued: 1, inFlight: 2 }))
    expect(ledger.nextDue).toBeUndefined()
  })

  it('throws when the log cannot be written, and leaves the job in flight', () => {
    const dir = tempDir()
    writeFileSync(join(dir, 'file'), '')
    const path = join(dir, 'file', 'run.failed.jsonl')
    const { ledger, policy } = setup({ retries: 0 }, 1, path)
    ledger.take(1, S1, T)
    const finished: Ranges = []
    const error = thrownBy(() => policy.fail(S1, [{ seq: 0, message: 'boom' }], T, finished), StateFileError)
    // The log's directory is made when missing (a state dir deleted mid-run): here a file is in the way.
    expect(error.message).toBe(`Cannot write the failed-jobs log '${path}': EEXIST: file already exists, mkdir '${join(dir, 'file')}'`)
    expect(finished).toEqual([])
    expect(ledger.counts).toEqual(counts({ inFlight: 1 }))
    expect(ledger.attemptsOf(0, S1)).toBe(1)
  })
})

describe('AttemptPolicy.lost', () => {
  it('requeues what a slave handed back, uncounted, whatever its attempts', () => {
    const { ledger, policy, path } = setup({ retries: 0 }, 4)
    ledger.take(2, S1, T)
    retake(ledger, 1, S1, 2)
    ledger.take(1, S2, T)
    const finished: Ranges = []
    expect(policy.lost(S1, 'stopping', 'slave-a', true, T, finished)).toEqual({ held: 2, failed: [] })
    expect(finished).toEqual([])
    expect(existsSync(path)).toBe(false)
    expect(ledger.counts).toEqual(counts({ queued: 3, inFlight: 1 }))
    // Job 0 is on its first attempt again, job 1 on its second (its first did fail).
    expect(ledger.take(10, S3, T)).toEqual({ type: 'jobs', seqs: [0, 1, 3], jobs: [{ n: 0 }, { n: 1 }, { n: 3 }], attempts: [1, 2, 1] })
  })

  it('counts an attempt for each job of a slave that went away, and logs a job at its last', () => {
    const { ledger, policy, path } = setup({ retries: 1 }, 4)
    ledger.take(3, S1, T)
    retake(ledger, 2, S1, 2)
    ledger.take(1, S2, T)
    const finished: Ranges = []
    const message = 'The slave running it went away (slave-a: socket closed)'
    expect(policy.lost(S1, 'socket closed', 'slave-a', false, T, finished)).toEqual({
      held: 3,
      failed: [{ key: 'k2', job: { n: 2 }, attempts: 2, error: { message }, at: AT }],
    })
    expect(readFileSync(path, 'utf8')).toBe(`{"key":"k2","job":{"n":2},"attempts":2,"error":{"message":"${message}"},"at":"${AT}"}\n`)
    expect(finished).toEqual([2, 1])
    expect(ledger.counts).toEqual(counts({ queued: 2, inFlight: 1, failed: 1 }))
    // Back at the front, no delay: their second attempt.
    expect(ledger.nextDue).toBeUndefined()
    expect(ledger.take(10, S3, T)).toEqual({ type: 'jobs', first: 0, jobs: [{ n: 0 }, { n: 1 }], attempts: [2, 2] })
  })

  it('holds nothing for a slave with no job in flight', () => {
    const { ledger, policy } = setup({ retries: 0 }, 1)
    ledger.take(1, S1, T)
    expect(policy.lost(S2, 'socket closed', 'slave-b', false, T, [])).toEqual({ held: 0, failed: [] })
    expect(ledger.counts).toEqual(counts({ inFlight: 1 }))
  })
})

describe('AttemptPolicy.expired', () => {
  it('gives the jobs in flight past --job-timeout as failures, by session', () => {
    const { ledger, policy } = setup({ jobTimeout: 30 }, 5)
    ledger.take(2, S1, T)
    ledger.take(1, S2, T)
    ledger.take(2, S1, T + 20_000)
    expect(ledger.complete([4, 1], S1)).toBe(1)
    const message = 'Timed out after 30 s (--job-timeout)'
    const lanes = (): SlaveTiming => ({ lanes: 4 })
    expect(policy.expired(T + 30_000, lanes)).toEqual(new Map())
    expect([...policy.expired(T + 30_001, lanes)]).toEqual([
      [
        S1,
        {
          abandon: { seqs: [0, 1], attempts: [1, 1] },
          failures: [
            { seq: 0, message },
            { seq: 1, message },
          ],
        },
      ],
      [S2, { abandon: { seqs: [2], attempts: [1] }, failures: [{ seq: 2, message }] }],
    ])
    expect([...policy.expired(T + 50_001, lanes)]).toEqual([
      [
        S1,
        {
          abandon: { seqs: [0, 1, 3], attempts: [1, 1, 1] },
          failures: [
            { seq: 0, message },
            { seq: 1, message },
            { seq: 3, message },
          ],
        },
      ],
      [S2, { abandon: { seqs: [2], attempts: [1] }, failures: [{ seq: 2, message }] }],
    ])
    // Only reported: fail() decides.
    expect(ledger.counts).toEqual(counts({ inFlight: 4, done: 1 }))
  })

  it('says the timeout as it was given, and its failures are attempts like any other', () => {
    const { ledger, policy, path } = setup({ jobTimeout: 0.5, retries: 0 }, 1)
    ledger.take(1, S1, T)
    const expired = policy.expired(T + 501, () => ({ lanes: 1 }))
    expect([...expired]).toEqual([
      [S1, { abandon: { seqs: [0], attempts: [1] }, failures: [{ seq: 0, message: 'Timed out after 0.5 s (--job-timeout)' }] }],
    ])
    expect(policy.fail(S1, expired.get(S1)!.failures, T, [])).toHaveLength(1)
    expect(readFileSync(path, 'utf8')).toBe(
      `{"key":"k0","job":{"n":0},"attempts":1,"error":{"message":"Timed out after 0.5 s (--job-timeout)"},"at":"${AT}"}\n`,
    )
  })

  it('finds nothing without --job-timeout', () => {
    const { ledger, policy } = setup({ jobTimeout: 0 }, 1)
    ledger.take(1, S1, 0)
    const expired = policy.expired(T + 1e9, () => ({ lanes: 1 }))
    expect(expired).toEqual(new Map())
    expect(expired.size).toBe(0)
  })
})

describe('AttemptPolicy.expired with hung jobs ahead', () => {
  it('charges only as many late jobs per slave as it has lanes; the later ones never started and go back uncharged', () => {
    const { ledger, policy } = setup({ jobTimeout: 1, retries: 3 }, 6)
    ledger.take(1, S1, T) // seq 0, the oldest: running (hung) in the one lane
    ledger.take(3, S1, T + 10) // seqs 1-3: waited behind it
    ledger.take(2, S2, T) // seqs 4-5 on another slave with 2 lanes
    const message = 'Timed out after 1 s (--job-timeout)'
    const expired = policy.expired(T + 5_000, (session) => ({ lanes: session === S1 ? 1 : 2 }))
    expect([...expired]).toEqual([
      [S1, { abandon: { seqs: [0, 1, 2, 3], attempts: [1, 1, 1, 1] }, failures: [{ seq: 0, message }] }],
      [
        S2,
        {
          abandon: { seqs: [4, 5], attempts: [1, 1] },
          failures: [
            { seq: 4, message },
            { seq: 5, message },
          ],
        },
      ],
    ])
    // Seqs 1-3 are back in the buffer with their attempt undone; 0, 4 and 5 are still in flight for fail().
    expect(ledger.counts).toEqual(counts({ queued: 3, inFlight: 3 }))
    expect(attemptAt(ledger.take(3, S2, T + 6_000), 0)).toBe(1)
  })
})

describe('AttemptPolicy with a slave that times out its own batch calls', () => {
  it('leaves its late jobs to it: none is charged or taken back by the master', () => {
    const { ledger, policy } = setup({ jobTimeout: 1, retries: 1 }, 4)
    ledger.take(2, S1, T) // a batch slave: seqs 0-1
    ledger.take(2, S2, T) // a per-job slave: seqs 2-3
    const slaveOf = (session: number): SlaveTiming => (session === S1 ? { lanes: 1, batch: 50, reportedAt: T } : { lanes: 2 })
    const message = 'Timed out after 1 s (--job-timeout)'
    expect([...policy.expired(T + 5_000, slaveOf)]).toEqual([
      [
        S2,
        {
          abandon: { seqs: [2, 3], attempts: [1, 1] },
          failures: [
            { seq: 2, message },
            { seq: 3, message },
          ],
        },
      ],
    ])
    expect(ledger.counts).toEqual(counts({ inFlight: 4 }))
  })

  it('counts it stuck when it holds a job sent past the bound and reported nothing within it', () => {
    const { ledger, policy } = setup({ jobTimeout: 1 }, 3)
    // A batch of 50 is halved 6 times: a slave at work reports within 7 timeouts; twice that is the bound.
    expect(stuckAfterMs(1, 50)).toBe(14_000)
    expect(stuckAfterMs(0.5, 1)).toBe(1_000)
    ledger.take(2, S1, T)
    ledger.take(1, S2, T + 10_000)
    const timing = (reportedAt: number) => (): SlaveTiming => ({ lanes: 1, batch: 50, reportedAt })
    // Quiet since before the jobs were sent, but the bound has not passed since they were.
    expect(policy.stuck(T + 14_000, timing(T - 60_000))).toEqual([])
    expect(policy.stuck(T + 14_001, timing(T - 60_000))).toEqual([{ session: S1, quietMs: 14_000 }])
    // A report within the bound: at work (its calls time out and split).
    expect(policy.stuck(T + 20_000, timing(T + 6_001))).toEqual([])
    expect(policy.stuck(T + 24_001, timing(T + 6_001))).toEqual([
      { session: S1, quietMs: 14_000 },
      { session: S2, quietMs: 14_000 },
    ])
    // Only reported: the run drops the slave, and its jobs come back as a lost slave's.
    expect(ledger.counts).toEqual(counts({ inFlight: 3 }))
  })

  it('never counts a per-job slave stuck, nor any slave without --job-timeout', () => {
    const perJob = setup({ jobTimeout: 1 }, 1)
    perJob.ledger.take(1, S1, T)
    expect(perJob.policy.stuck(T + 1e9, () => ({ lanes: 1, reportedAt: 0 }))).toEqual([])
    const unlimited = setup({ jobTimeout: 0 }, 1)
    unlimited.ledger.take(1, S1, T)
    expect(unlimited.policy.stuck(T + 1e9, () => ({ lanes: 1, batch: 50, reportedAt: 0 }))).toEqual([])
  })
})

describe('AttemptPolicy.stop', () => {
  it('clears the retry timer: deferred jobs are not queued by it any more', () => {
    vi.useFakeTimers({ now: T })
    const { ledger, policy, due } = setup({ retries: 1, retryDelay: 1 }, 1)
    ledger.take(1, S1, T)
    expect(policy.fail(S1, [{ seq: 0, message: 'boom' }], T, [])).toEqual([])
    expect(vi.getTimerCount()).toBe(1)
    policy.stop()
    expect(vi.getTimerCount()).toBe(0)
    vi.advanceTimersByTime(60_000)
    expect(due()).toBe(0)
    expect(ledger.counts).toEqual(counts({ waiting: 1 }))
    policy.stop()
  })
})
