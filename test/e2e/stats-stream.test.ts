import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import type { RunStatus } from '../../src/index.js'
import { EXIT_OK, MASTER_BIN, SLAVE_BIN, cleanUp, expectEachKeyRan, fixture, masterArgs, run, sandbox, spawnArgs } from '../helpers/proc.js'
import { matching } from '../helpers/matchers.js'

// --stats (the status document as JSON lines) and --log-format json (master's and local
// slaves' log lines as JSON objects), with the real bins to the end of a run.

afterEach(cleanUp)

const RUN_FIELDS = [
  'key',
  'args',
  'state',
  'resumed',
  'resumedAt',
  'position',
  'last',
  'done',
  'failed',
  'inFlight',
  'queued',
  'waiting',
  'skipped',
  'total',
  'totalEstimated',
  'percent',
  'rate',
  'etaMs',
  'elapsedMs',
  'startedAt',
  'session',
  'controls',
]
const SLAVE_FIELDS = [
  'id',
  'address',
  'hostname',
  'pid',
  'concurrency',
  'connectedAt',
  'done',
  'failed',
  'rate',
  'inFlight',
  'cpuPercent',
  'rss',
  'netIn',
  'netOut',
]
const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/

describe('--stats and --log-format json', () => {
  it('write one status document a line, and every log line as one JSON object', async () => {
    const box = sandbox({ TM_RECORD_DELAY_MS: '3' })
    const statsFile = join(box.stateDir, '..', 'stats.jsonl')
    const proc = await run(
      MASTER_BIN,
      [
        fixture('range-total.mjs'),
        'n=600',
        ...masterArgs(box, 'stats'),
        ...spawnArgs(1),
        '--quiet',
        '--stats',
        statsFile,
        '--stats-interval',
        '0.1',
        '--log-format',
        'json',
      ],
      { env: box.env },
    )
    expect(proc.exit, proc.stderr).toEqual(EXIT_OK)
    expectEachKeyRan(box.records, 600)

    const docs = readFileSync(statsFile, 'utf8')
      .split('\n')
      .filter((line) => line !== '')
      .map((line) => JSON.parse(line) as RunStatus)
    expect(docs.length).toBeGreaterThanOrEqual(5)
    for (const doc of docs) {
      expect(Object.keys(doc)).toEqual(['time', 'run', 'master', 'slaves', 'failures'])
      expect(Object.keys(doc.master)).toEqual(['hostname', 'pid', 'cpuPercent', 'rss', 'netIn', 'netOut'])
      expect(doc.master.pid).toBe(proc.child.pid)
      expect(doc.time).toMatch(ISO)
      expect(Object.keys(doc.run)).toEqual(RUN_FIELDS)
      expect(Object.keys(doc.run.session)).toEqual(['done', 'failed', 'elapsedMs', 'startedAt'])
      for (const slave of doc.slaves) expect(Object.keys(slave)).toEqual(SLAVE_FIELDS)
      expect(doc.failures).toEqual([])
      expect(doc.run).toMatchObject({ key: 'stats', args: { n: '600' }, total: 600, failed: 0 })
    }
    // In order, never going back; the first while it runs, the last the complete run.
    for (let i = 1; i < docs.length; i++) {
      expect(docs[i].time >= docs[i - 1].time).toBe(true)
      expect(docs[i].run.done).toBeGreaterThanOrEqual(docs[i - 1].run.done)
    }
    expect(docs[0].run.state).toBe('running')
    expect(docs.some((doc) => doc.slaves.length === 1 && doc.run.done > 0 && doc.run.done < 600)).toBe(true)
    expect(docs.at(-1)!.run).toMatchObject({
      state: 'complete',
      done: 600,
      position: 600,
      last: 599,
      percent: 100,
      etaMs: 0,
      inFlight: 0,
      queued: 0,
      session: { done: 600, failed: 0 },
    })

    // What the master says on stdout is JSON lines too: the start, the page, the summary.
    const said = proc.stdout
      .split('\n')
      .filter((line) => line !== '')
      .map((line) => JSON.parse(line) as Record<string, unknown>)
    for (const line of said) expect(line).toEqual({ time: matching(ISO), level: 'info', message: matching(/./), key: 'stats' })
    expect(said.map((line) => line.message)).toEqual([
      matching(/^Taskmaster server running on '127\.0\.0\.1:\d+' \(started in \d+\.\d\d s\)$/),
      matching(/^Status page: http:\/\/127\.0\.0\.1:\d+\/$/),
      matching(/^Run 'stats' complete: 600 jobs \(600 done, 0 failed\) in /),
    ])

    const lines = proc.stderr.split('\n').filter((line) => line !== '')
    const logs = lines.map((line) => JSON.parse(line) as Record<string, unknown>)
    for (const log of logs) expect(log.time).toMatch(ISO)
    const masterLines = logs.filter((log) => log.key === 'stats')
    const slaveLines = logs.filter((log) => log.slave === 1)
    expect(masterLines.length + slaveLines.length).toBe(logs.length)
    for (const log of masterLines) expect(Object.keys(log)).toEqual(['time', 'level', 'message', 'key'])
    for (const log of slaveLines) expect(Object.keys(log), JSON.stringify(log)).toEqual(['time', 'level', 'message', 'pid', 'slave'])
    const connected = masterLines.find((log) => /connected \(concurrency 1\)$/.test(String(log.message)))
    expect(connected).toMatchObject({
      level: 'info',
      message: matching(/^slave [^:]+:\d+ \(127\.0\.0\.1:\d+\) connected \(concurrency 1\)$/),
    })
    const pid = Number(/:(\d+) \(/.exec(String(connected!.message))![1])
    expect(slaveLines).toContainEqual({
      time: matching(ISO),
      level: 'info',
      message: matching(/^Connected to the master at ws:\/\/127\.0\.0\.1:\d+ \(session 1\)$/),
      pid,
      slave: 1,
    })
  })

  it('--stats - writes the JSON lines on stdout, and what is for people on stderr', async () => {
    const box = sandbox()
    const proc = await run(MASTER_BIN, [fixture('range-total.mjs'), 'n=50', ...masterArgs(box, 'dash'), ...spawnArgs(1), '--stats', '-'], {
      env: box.env,
    })
    expect(proc.exit, proc.stderr).toEqual(EXIT_OK)
    const docs = proc.stdout
      .split('\n')
      .filter((line) => line !== '')
      .map((line) => JSON.parse(line) as RunStatus)
    expect(docs.at(-1)!.run).toMatchObject({ key: 'dash', state: 'complete', done: 50 })
    expect(proc.stderr).toMatch(/^Taskmaster server running on '127\.0\.0\.1:\d+' \(started in \d+\.\d\d s\)$/m)
    expect(proc.stderr).toMatch(/^Run 'dash' complete: 50 jobs \(50 done, 0 failed\)/m)
  })

  it('refuses a bad --log-format and a --stats-interval of 0 with one line', async () => {
    const box = sandbox()
    const bad = await run(MASTER_BIN, [fixture('range-total.mjs'), ...masterArgs(box, 'bad'), '--log-format', 'xml'], { env: box.env })
    expect(bad.exit.code).toBe(2)
    expect(bad.stderr).toBe("error: option '--log-format <format>' argument 'xml' is invalid. must be text or json, got 'xml'\n")
    const zero = await run(MASTER_BIN, [fixture('range-total.mjs'), ...masterArgs(box, 'zero'), '--stats', '-', '--stats-interval', '0'], {
      env: box.env,
    })
    expect(zero.exit.code).toBe(2)
    expect(zero.stderr).toBe(
      "error: option '--stats-interval <seconds>' argument '0' is invalid. must be a number of seconds over 0 and up to 604800, got '0'\n",
    )
  })

  it('with --log-format json, a usage mistake and a fatal error are one JSON line each, of the master and of a slave', async () => {
    const box = sandbox()
    const expectJsonLine = (stderr: string, message: RegExp): void => {
      const lines = stderr.split('\n').filter((line) => line !== '')
      expect(lines).toHaveLength(1)
      expect(JSON.parse(lines[0])).toEqual({ time: matching(ISO), level: 'error', message: matching(message) })
    }
    const typo = await run(MASTER_BIN, [fixture('range-total.mjs'), ...masterArgs(box, 'typo'), '--log-format', 'json', '--bogus'], {
      env: box.env,
    })
    expect(typo.exit.code).toBe(2)
    expectJsonLine(typo.stderr, /^error: unknown option '--bogus'$/)
    const missing = await run(MASTER_BIN, ['/nonexistent/jobs.mjs', ...masterArgs(box, 'missing'), '--log-format=json'], { env: box.env })
    expect(missing.exit.code).toBe(2)
    expectJsonLine(missing.stderr, /^tm-master: Cannot find module '\/nonexistent\/jobs\.mjs'/)
    const slave = await run(
      SLAVE_BIN,
      [fixture('record.mjs'), '--host', '127.0.0.1:9', '--reconnect', '0.5', '--log-format', 'json', '--quiet'],
      {
        env: box.env,
      },
    )
    expect(slave.exit.code).toBe(4)
    expectJsonLine(slave.stderr, /^tm-slave: No master answered at ws:\/\/127\.0\.0\.1:9 for 0\.5 s .*\(exit 4\)$/)
  })
})
