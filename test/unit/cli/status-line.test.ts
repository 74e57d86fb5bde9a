import { describe, expect, it } from 'vitest'
import { controlsText, fitFields, progressBar, resumeMessage, slavesTable, statusLine } from '../../../src/cli/status-line.js'
import type { RunStatus, SlaveFigures } from '../../../src/master/engine/status.js'

const slave: SlaveFigures = {
  id: 1,
  address: '10.0.0.7:51234',
  hostname: 'worker-1',
  pid: 4242,
  concurrency: 8,
  connectedAt: '2026-01-02T03:04:05.006Z',
  done: 30_210,
  failed: 2,
  rate: 512.4,
  inFlight: 16,
  cpuPercent: 185.4,
  rss: 210 * 1048576,
  netIn: 1536,
  netOut: 3.5 * 1073741824,
}

const status: RunStatus = {
  time: '2026-01-02T03:05:05.006Z',
  run: {
    key: 'posts',
    args: {},
    state: 'running',
    resumed: false,
    resumedAt: 0,
    position: 30_000,
    last: 30_000,
    done: 30_210,
    failed: 2,
    inFlight: 211,
    queued: 10_000,
    waiting: 0,
    skipped: 0,
    total: 100_000,
    totalEstimated: false,
    percent: 30.212,
    rate: 991.06,
    etaMs: 70_400,
    elapsedMs: 40_500,
    startedAt: '2026-01-02T03:04:25.006Z',
    session: { done: 30_210, failed: 2, elapsedMs: 40_500, startedAt: '2026-01-02T03:04:25.006Z' },
    controls: { paused: false, rate: null, maxInFlight: null, throttled: null, throttle: null },
  },
  master: { hostname: 'db-1', pid: 99, cpuPercent: 35.4, rss: 95 * 1048576, netIn: 1.2 * 1048576, netOut: 3.4 * 1073741824 },
  slaves: [
    slave,
    {
      ...slave,
      id: 2,
      address: '10.0.0.8:40000',
      hostname: 'w2',
      pid: 7,
      done: 5,
      rate: 3.25,
      cpuPercent: 0,
      rss: 900,
      netIn: 0,
      netOut: 0,
    },
  ],
  failures: [],
}

const noTotal: RunStatus = { ...status, run: { ...status.run, total: null, percent: null, etaMs: null } }

describe('statusLine on a terminal', () => {
  it('at 40 columns: percent and ETA, done in its short form', () => {
    expect(statusLine(status, 40)).toBe('30.2 % ETA 0:01:10 | 30,210/100,000')
  })

  it('at 80 columns: a short bar, done, rate, elapsed', () => {
    expect(statusLine(status, 80)).toBe('██░░░░░░ 30.2 % ETA 0:01:10 | done 30,210 of 100,000 | 991/s | elapsed 0:00:40')
  })

  it('at 120 columns: a full bar and failed; nothing less important in place of the watermark', () => {
    expect(statusLine(status, 120)).toBe(
      '██████░░░░░░░░░░░░░░ 30.2 % ETA 0:01:10 | done 30,210 of 100,000 | 991/s | elapsed 0:00:40 | failed 2',
    )
  })

  it('at 200 columns: everything', () => {
    expect(statusLine(status, 200)).toBe(
      '██████░░░░░░░░░░░░░░ 30.2 % ETA 0:01:10 | done 30,210 of 100,000 | 991/s | elapsed 0:00:40 | failed 2 | finished through #30,000, key 30000 | in flight 211 | queued 10,000 | slaves 2',
    )
  })

  it('never reaches the last column', () => {
    for (const width of [40, 80, 120, 200]) expect(statusLine(status, width).length).toBeLessThan(width)
  })

  it('without a total: no bar, no percent, no ETA', () => {
    expect(statusLine(noTotal, 80)).toBe('done 30,210 | 991/s | elapsed 0:00:40 | failed 2 | finished through #30,000')
  })

  it('shows an estimated total as one, in both forms of done', () => {
    const estimated: RunStatus = { ...status, run: { ...status.run, totalEstimated: true } }
    expect(statusLine(estimated, 80)).toBe('██░░░░░░ 30.2 % ETA 0:01:10 | done 30,210 of ~100,000 | 991/s | elapsed 0:00:40')
    expect(statusLine(estimated, 40)).toBe('30.2 % ETA 0:01:10 | 30,210/~100,000')
  })
})

describe('statusLine off a terminal', () => {
  it('has every field, percent and ETA included, and no bar', () => {
    expect(statusLine(status)).toBe(
      '30.2 % ETA 0:01:10 | done 30,210 of 100,000 | 991/s | elapsed 0:00:40 | failed 2 | finished through #30,000, key 30000 | in flight 211 | queued 10,000 | slaves 2 | master cpu 35 %, rss 95 MiB, net in 1.2 MiB, net out 3.4 GiB',
    )
  })

  it("ends with the master's own CPU and memory (and its port's bytes when there is room); a master older than the field has none", () => {
    const line =
      '██████░░░░░░░░░░░░░░ 30.2 % ETA 0:01:10 | done 30,210 of 100,000 | 991/s | elapsed 0:00:40 | failed 2 | finished through #30,000, key 30000 | in flight 211 | queued 10,000 | slaves 2'
    expect(statusLine(status, line.length + 40)).toBe(line + ' | master cpu 35 %, rss 95 MiB')
    expect(statusLine(status, line.length + 80)).toBe(line + ' | master cpu 35 %, rss 95 MiB, net in 1.2 MiB, net out 3.4 GiB')
    const older = { ...status, master: undefined } as unknown as RunStatus
    expect(statusLine(older)).toBe(
      '30.2 % ETA 0:01:10 | done 30,210 of 100,000 | 991/s | elapsed 0:00:40 | failed 2 | finished through #30,000, key 30000 | in flight 211 | queued 10,000 | slaves 2',
    )
  })

  it('says the ETA is unknown while the rate is 0, shows retries waiting, and this master’s share after a resume', () => {
    const resumed: RunStatus = {
      ...status,
      slaves: [],
      run: {
        ...status.run,
        resumed: true,
        resumedAt: 20_000,
        rate: 0,
        etaMs: null,
        waiting: 3,
        session: { ...status.run.session, done: 10_210, elapsedMs: 12_000 },
      },
    }
    expect(statusLine(resumed)).toBe(
      '30.2 % ETA - | done 30,210 of 100,000 | 0.0/s | elapsed 0:00:40 | failed 2 | finished through #30,000, key 30000 | in flight 211 | queued 10,000 | waiting 3 | slaves 0 | this master: 10,210 done in 0:00:12 | master cpu 35 %, rss 95 MiB, net in 1.2 MiB, net out 3.4 GiB',
    )
  })
})

describe('the controls on the status line', () => {
  it('says paused and throttled first, and shows the limits that are set after the queue', () => {
    const held: RunStatus = {
      ...status,
      run: {
        ...status.run,
        controls: { paused: true, rate: 1500, maxInFlight: 64, throttled: 'replica lag 3.2 s > 1 s', throttle: 'lag.ts' },
      },
    }
    expect(statusLine(held)).toBe(
      'paused | throttled: replica lag 3.2 s > 1 s | 30.2 % ETA 0:01:10 | done 30,210 of 100,000 | 991/s | elapsed 0:00:40 | failed 2 | finished through #30,000, key 30000 | in flight 211 | queued 10,000 | rate limit 1,500/s | max in flight 64 | slaves 2 | master cpu 35 %, rss 95 MiB, net in 1.2 MiB, net out 3.4 GiB',
    )
    // On a narrow terminal the reason gives way before the progress does.
    expect(statusLine(held, 40)).toBe('paused | throttled | 30.2 % ETA 0:01:10')
  })

  it('are written out in full for tm-ctl', () => {
    expect(controlsText({ paused: false, rate: null, maxInFlight: null, throttled: null, throttle: null })).toBe(
      'not paused | rate off | max in flight off | no throttle',
    )
    expect(controlsText({ paused: true, rate: 0.5, maxInFlight: 1000, throttled: 'lag', throttle: 'lag.ts:check' })).toBe(
      'paused | rate 0.5/s | max in flight 1,000 | throttle lag.ts:check: throttled: lag',
    )
    expect(controlsText({ paused: false, rate: 100_000, maxInFlight: null, throttled: null, throttle: 'lag.ts' })).toBe(
      'not paused | rate 100,000/s | max in flight off | throttle lag.ts: not throttled',
    )
  })
})

describe('fitFields', () => {
  it('takes the longest form that fits, and stops at the first field that fits in none', () => {
    expect(fitFields(['aaaa', ['bbbbbbbbbb', 'bb'], 'cc'], 12)).toBe('aaaa | bb')
    expect(fitFields(['aaaa', ['bbbbbbbbbb', 'bbbbbbb'], 'cc'], 12)).toBe('aaaa')
  })

  it('cuts a first field wider than the width', () => {
    expect(fitFields(['abcdefgh', 'x'], 5)).toBe('abcde')
  })
})

describe('progressBar', () => {
  it('fills whole cells only', () => {
    expect(progressBar(0, 4)).toBe('░░░░')
    expect(progressBar(74.9, 4)).toBe('██░░')
    expect(progressBar(100, 4)).toBe('████')
    expect(progressBar(130, 4)).toBe('████')
  })
})

describe('slavesTable', () => {
  it('aligns a heading and one line per slave', () => {
    expect(slavesTable(status.slaves)).toEqual([
      'slave          address         conc    done   rate  in flight    cpu      rss   net in  net out',
      'worker-1:4242  10.0.0.7:51234     8  30,210  512/s         16  185 %  210 MiB  1.5 KiB  3.5 GiB',
      'w2:7           10.0.0.8:40000     8       5  3.3/s         16    0 %    900 B      0 B      0 B',
    ])
  })

  it('cuts its lines to the width', () => {
    expect(slavesTable(status.slaves, 30).every((line) => line.length <= 30)).toBe(true)
  })

  it('says when no slave is connected', () => {
    expect(slavesTable([])).toEqual(['no slaves connected'])
  })
})

describe('resumeMessage', () => {
  it('says where a resumed run starts again, and what was done', () => {
    const resumed: RunStatus = {
      ...status,
      run: {
        ...status.run,
        resumed: true,
        resumedAt: 42_947,
        position: 42_947,
        last: 42_947,
        done: 42_940,
        failed: 7,
        percent: 42.947,
        elapsedMs: 70_000,
      },
    }
    expect(resumeMessage(resumed)).toBe(
      "Resuming 'posts' at 42,947 of 100,000, 42.9 % (after key 42947): 42,940 done and 7 failed so far in 0:01:10",
    )
    expect(resumeMessage({ ...resumed, run: { ...resumed.run, total: null, percent: null } })).toBe(
      "Resuming 'posts' at 42,947 (after key 42947): 42,940 done and 7 failed so far in 0:01:10",
    )
  })

  it("gives the first document's total and percent: an estimate as one", () => {
    // The resume: the planner guessed 1,357,674 (60.0 %); the key space says 75 %.
    const resumed: RunStatus = {
      ...status,
      run: {
        ...status.run,
        resumed: true,
        resumedAt: 815_952,
        position: 815_952,
        last: 1_631_904,
        done: 815_952,
        failed: 0,
        total: 1_087_936,
        totalEstimated: true,
        percent: 75,
        elapsedMs: 70_000,
      },
    }
    expect(resumeMessage(resumed)).toBe(
      "Resuming 'posts' at 815,952 of ~1,087,936, 75.0 % (after key 1631904): 815,952 done and 0 failed so far in 0:01:10",
    )
  })

  it('says nothing on a fresh run', () => {
    expect(resumeMessage(status)).toBe(undefined)
  })
})
