import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import {
  CTL_BIN,
  EXIT_OK,
  MASTER_BIN,
  cleanUp,
  expectEachKeyRan,
  expectUsageError,
  fixture,
  masterArgs,
  readCheckpoint,
  recordedKeys,
  run,
  sandbox,
  startMaster,
  startSlave,
} from '../helpers/proc.js'
import { controlLines, statusReader } from '../helpers/poll.js'
import { expectRunEnds, portForLater, until } from '../helpers/reliability.js'

// The controls of a live run (pause, resume, --max-in-flight, the throttle check, stop),
// driven through tm-ctl and the master's HTTP endpoints, with the real bins.

afterEach(cleanUp)

const TOKEN = 'controls-s3cret'
const RANGE = fixture('range.mjs')

/** tm-ctl with the run's token (or none). */
const ctl = (args: string[], token: string | null = TOKEN) =>
  run(CTL_BIN, [...args, ...(token === null ? [] : ['--token', token])], { env: { TM_TOKEN: undefined } })

const { statusWhere, expectStandsStill } = statusReader(TOKEN)

describe('pause and resume', () => {
  it('a pause stops dispatch within the jobs the slaves already hold; resume goes on with every job done once; the stats stream records both', async () => {
    // Jobs of 100 ms: long beside a slave's ack delay (20 ms), so the slaves run about as many as the master lets out.
    const box = sandbox({ TM_TOKEN: TOKEN, TM_RECORD_DELAY_MS: '100' })
    const stats = join(box.stateDir, '..', 'stats.jsonl')
    const { master, host } = await startMaster(
      [RANGE, 'n=400', ...masterArgs(box, 'pause'), '--quiet', '--batch-size', '4', '--stats', stats, '--stats-interval', '0.2'],
      { env: box.env },
    )
    const slaves = [2, 2].map((c) =>
      startSlave([fixture('record.mjs'), '--host', host, '--concurrency', String(c), '--prefetch', String(c), '--reconnect', '2'], {
        env: box.env,
      }),
    )
    await until('50 jobs recorded', () => recordedKeys(box.records).length >= 50)

    const paused = await ctl(['pause', '--host', host])
    expect(paused.exit, paused.stderr).toEqual(EXIT_OK)
    expect(paused.stdout).toBe('paused\npaused | rate off | max in flight off | no throttle\n')
    const atPause = recordedKeys(box.records).length
    const pausedAt = Date.now()
    // The jobs the slaves held finish; then nothing more goes out, over several status documents.
    // Each slave holds at most concurrency + prefetch = 4 jobs: those, and no more, ran after the pause.
    const later = await expectStandsStill(host, { records: box.records, atPause, pausedAt, held: 8, total: 400 })
    expect(later.slaves).toHaveLength(2)

    const again = await ctl(['pause', '--host', host])
    expect(again.stdout).toBe('nothing: already paused\npaused | rate off | max in flight off | no throttle\n')
    // Nothing changed: no change as a value either.
    const againJson = await ctl(['pause', '--host', host, '--json'])
    expect(JSON.parse(againJson.stdout)).toEqual({
      changed: 'nothing: already paused',
      change: null,
      controls: { paused: true, rate: null, maxInFlight: null, throttled: null, throttle: null },
    })
    const resumed = await ctl(['resume', '--host', host])
    expect(resumed.exit, resumed.stderr).toEqual(EXIT_OK)
    expect(resumed.stdout).toBe('resumed\nnot paused | rate off | max in flight off | no throttle\n')
    await expectRunEnds(master, slaves)
    expectEachKeyRan(box.records, 400)
    expect(
      controlLines(stats).map((c) => [c.control, c.change, c.source.kind, c.source.address?.replace(/^::ffff:/, ''), c.controls.paused]),
    ).toEqual([
      ['paused', { kind: 'paused' }, 'http', '127.0.0.1', true],
      ['resumed', { kind: 'resumed' }, 'http', '127.0.0.1', false],
    ])
    expect(master.stdout + master.stderr).toMatch(/Controls: paused \(by (::ffff:)?127\.0\.0\.1\)/)
  })

  it('a paused master stopped and started again is still paused (the checkpoint says so) until resumed', async () => {
    const box = sandbox({ TM_TOKEN: TOKEN })
    const first = await startMaster([RANGE, 'n=50', ...masterArgs(box, 'paused'), '--quiet', '--paused'], { env: box.env })
    const slave = startSlave([fixture('record.mjs'), '--host', first.host, '--reconnect', '0'], { env: box.env })
    await first.master.waitFor('Paused (--paused): no job goes out until resumed')
    const idle = await statusWhere(first.host, 'a slave connected to the paused run', (doc) => doc.slaves.length === 1)
    const later = await statusWhere(first.host, 'two more status documents', () => true, Date.parse(idle.time) + 2000)
    expect(later.run).toMatchObject({ done: 0, inFlight: 0, queued: 50, controls: { paused: true } })
    first.master.kill('SIGINT')
    expect(await first.master.exited).toEqual({ code: 130, signal: null })
    expect(readCheckpoint(box, 'paused')).toMatchObject({ paused: true, position: 0 })

    // Started again without --paused: the run is paused all the same.
    const port = await portForLater()
    const second = await startMaster([RANGE, 'n=50', ...masterArgs(box, 'paused').slice(0, -1), `127.0.0.1:${port}`, '--quiet'], {
      env: box.env,
    })
    await second.master.waitFor('Paused (the run was paused when its last master stopped): no job goes out until resumed')
    const slave2 = startSlave([fixture('record.mjs'), '--host', second.host, '--reconnect', '2'], { env: box.env })
    const idle2 = await statusWhere(second.host, 'a slave connected to the restarted run', (doc) => doc.slaves.length >= 1)
    const later2 = await statusWhere(second.host, 'two more status documents', () => true, Date.parse(idle2.time) + 2000)
    expect(later2.run).toMatchObject({ done: 0, queued: 50, controls: { paused: true } })
    expect(recordedKeys(box.records)).toEqual([])
    const resumed = await ctl(['resume', '--host', second.host])
    expect(resumed.stdout).toBe('resumed\nnot paused | rate off | max in flight off | no throttle\n')
    expect(await second.master.exited, second.master.stderr).toEqual(EXIT_OK)
    expectEachKeyRan(box.records, 50)
    expect(readCheckpoint(box, 'paused')).not.toHaveProperty('paused')
    slave.kill('SIGINT')
    slave2.kill('SIGINT')
  })
})

describe('--max-in-flight', () => {
  it('is never exceeded over the fleet, counted from the slaves’ side, and tm-ctl changes it', async () => {
    // Jobs of 100 ms: long beside a slave's ack delay (20 ms), so the slaves run about as many as the master lets out.
    const box = sandbox({ TM_TOKEN: TOKEN, TM_RECORD_DELAY_MS: '100' })
    const file = join(box.records, 'inflight.txt')
    writeFileSync(file, '')
    const env = { ...box.env, TM_INFLIGHT_FILE: file }
    const { master, host } = await startMaster([RANGE, 'n=400', ...masterArgs(box, 'mif'), '--quiet', '--max-in-flight', '5'], { env })
    const slaves = [1, 8, 16].map((c) =>
      startSlave([fixture('inflight-record.mjs'), '--host', host, '--concurrency', String(c), '--reconnect', '2'], { env }),
    )
    await until('100 jobs run', () => readFileSync(file, 'utf8').split('\n').length > 200)
    // Every job that started before the change was asked for ran under the first cap.
    const mark = readFileSync(file, 'utf8').split('\n').length - 1
    const changed = await ctl(['max-in-flight', '12', '--host', host])
    expect(changed.stdout).toBe('max in flight 12\nnot paused | rate off | max in flight 12 | no throttle\n')
    await expectRunEnds(master, slaves)
    const lines = readFileSync(file, 'utf8')
      .split('\n')
      .filter((line) => line !== '')
    let running = 0
    let before = 0
    let after = 0
    const starts = new Map<string, number>()
    for (const [i, line] of lines.entries()) {
      running += line.startsWith('+') ? 1 : -1
      if (i < mark) before = Math.max(before, running)
      else after = Math.max(after, running)
      if (line.startsWith('+')) starts.set(line.slice(1), (starts.get(line.slice(1)) ?? 0) + 1)
    }
    expect(running).toBe(0)
    // Never above the cap (the slaves' view lags the master's by their ack delay, so it may stay under it).
    expect(before).toBeLessThanOrEqual(5)
    expect(after).toBeLessThanOrEqual(12)
    // The new cap took effect: more ran at once than the first allowed (the fleet has 25 lanes).
    expect(after).toBeGreaterThan(5)
    expect(starts.size).toBe(400)
    expect([...starts.values()].every((n) => n === 1)).toBe(true)
  })
})

describe('--throttle', () => {
  it('holds dispatch while the check gives a reason, throws or hangs, shows why in /status, and lets jobs go when it says false', async () => {
    const box = sandbox({ TM_TOKEN: TOKEN })
    const gate = join(box.records, 'gate.txt')
    writeFileSync(gate, 'hold:replica lag 5 s')
    const stats = join(box.stateDir, '..', 'stats.jsonl')
    const { master, host } = await startMaster(
      [
        RANGE,
        'n=200',
        `gate=${gate}`,
        ...masterArgs(box, 'thr'),
        '--quiet',
        '--throttle',
        fixture('throttle-gate.mjs'),
        '--throttle-interval',
        '0.2',
        '--stats',
        stats,
      ],
      { env: box.env },
    )
    const slave = startSlave([fixture('record.mjs'), '--host', host, '--concurrency', '4', '--reconnect', '2'], { env: box.env })
    const held = await statusWhere(
      host,
      'the throttle to hold with its reason',
      (doc) => doc.run.controls.throttled === 'replica lag 5 s' && doc.slaves.length === 1,
    )
    expect(held.run.controls).toEqual({
      paused: false,
      rate: null,
      maxInFlight: null,
      throttled: 'replica lag 5 s',
      throttle: fixture('throttle-gate.mjs'),
    })
    writeFileSync(gate, 'throw')
    // One line, with the file and line of the throw in the check.
    const GATE_BROKE = `throttle check threw: gate broke (at test/fixtures/throttle-gate.mjs:9)`
    await statusWhere(host, 'a throwing check to hold', (doc) => doc.run.controls.throttled === GATE_BROKE)
    writeFileSync(gate, 'hang')
    await statusWhere(host, 'a hanging check to hold', (doc) => doc.run.controls.throttled === 'throttle check did not answer within 0.2 s')
    writeFileSync(gate, 'true')
    const last = await statusWhere(
      host,
      'a check returning true to hold',
      (doc) => doc.run.controls.throttled === 'throttle check returned true',
    )
    expect(last.run).toMatchObject({ done: 0, inFlight: 0, queued: 200 })
    expect(recordedKeys(box.records)).toEqual([])
    writeFileSync(gate, 'go')
    await expectRunEnds(master, [slave])
    expectEachKeyRan(box.records, 200)
    const changes = controlLines(stats).map((c) => [c.control, c.source.kind])
    expect(changes.slice(0, 2)).toEqual([
      [`throttle ${fixture('throttle-gate.mjs')} (waiting for the first throttle check)`, 'flag'],
      ['throttled: replica lag 5 s', 'throttle'],
    ])
    expect(changes).toContainEqual([`throttled: ${GATE_BROKE}`, 'throttle'])
    expect(changes).toContainEqual(['throttled: throttle check did not answer within 0.2 s', 'throttle'])
    expect(changes[changes.length - 1]).toEqual(['throttle released', 'throttle'])
    const kinds = controlLines(stats).map((c) => c.change)
    expect(kinds.slice(0, 2)).toEqual([
      { kind: 'throttle', throttle: fixture('throttle-gate.mjs'), throttled: 'waiting for the first throttle check' },
      { kind: 'throttled', reason: 'replica lag 5 s' },
    ])
    expect(kinds[kinds.length - 1]).toEqual({ kind: 'throttle-released' })
  })

  it('refuses a module that is missing or lacks the export, in one line (exit 2)', async () => {
    const box = sandbox()
    const missing = await run(MASTER_BIN, [RANGE, ...masterArgs(box, 'bad'), '--throttle', 'nowhere.mjs'])
    expectUsageError(missing, /^tm-master: Cannot find module 'nowhere\.mjs' \(no file at .*nowhere\.mjs\)$/)
    const noExport = await run(MASTER_BIN, [RANGE, ...masterArgs(box, 'bad'), '--throttle', `${fixture('noop.mjs')}:lag`])
    expectUsageError(noExport, new RegExp(`^tm-master: Module '.*noop\\.mjs' has no export 'lag'; its exports are: handleJob$`))
    const none = await run(MASTER_BIN, [RANGE, ...masterArgs(box, 'bad'), '--throttle', fixture('noop.mjs')])
    expectUsageError(none, /^tm-master: Module '.*noop\.mjs' has no export 'throttle' or 'default'; its exports are: handleJob$/)
  })
})

describe('tm-ctl stop', () => {
  it('stops gracefully, as on SIGINT, and the run resumes with the same key, every job done once', async () => {
    // Jobs from 100 on wait for the file `go`: the run cannot end before tm-ctl (slow to start on a busy machine) asks the stop.
    const box = sandbox({ TM_TOKEN: TOKEN, TM_RECORD_DELAY_MS: '10', TM_HOLD_FROM: '100' })
    const { master, host } = await startMaster([RANGE, 'n=300', ...masterArgs(box, 'stop'), '--quiet'], { env: box.env })
    const slave = startSlave([fixture('hold-record.mjs'), '--host', host, '--concurrency', '4', '--reconnect', '0'], { env: box.env })
    await until('40 jobs recorded', () => recordedKeys(box.records).length >= 40)
    const stopped = await ctl(['stop', '--host', host])
    expect(stopped.exit, stopped.stderr).toEqual(EXIT_OK)
    expect(stopped.stdout).toBe(
      'stopping: no new jobs go out; the jobs in flight finish, then the checkpoint is written\nnot paused | rate off | max in flight off | no throttle\n',
    )
    writeFileSync(join(box.records, 'go'), '')
    expect(await master.exited).toEqual({ code: 130, signal: null })
    expect(master.stdout).toMatch(/Run 'stop' stopped: \d+ jobs .*Start it again with --key stop to resume\./)
    const done = recordedKeys(box.records).length
    expect(readCheckpoint(box, 'stop')).toMatchObject({ complete: false, position: done, counts: { done, failed: 0 } })
    const again = await startMaster([RANGE, 'n=300', ...masterArgs(box, 'stop'), '--quiet'], { env: box.env })
    const slave2 = startSlave([fixture('record.mjs'), '--host', again.host, '--concurrency', '4', '--reconnect', '2'], { env: box.env })
    await expectRunEnds(again.master, [slave2])
    expectEachKeyRan(box.records, 300)
    slave.kill('SIGINT')
  })
})

describe('the control endpoints and tm-ctl', () => {
  it('want the token, POST, and a {"value"} body; tm-ctl says so in one line', async () => {
    const box = sandbox({ TM_TOKEN: TOKEN })
    const { host } = await startMaster([RANGE, 'n=10', ...masterArgs(box, 'http'), '--quiet', '--paused'], { env: box.env })
    const post = (path: string, body?: string, token: string | null = TOKEN) =>
      fetch(`http://${host}${path}`, { method: 'POST', body, headers: token === null ? {} : { authorization: `Bearer ${token}` } })
    expect((await post('/pause', undefined, null)).status).toBe(401)
    expect((await post('/pause', undefined, 'wrong')).status).toBe(401)
    const get = await fetch(`http://${host}/pause?token=${TOKEN}`)
    expect([get.status, get.headers.get('allow'), await get.text()]).toEqual([405, 'POST', 'GET is not allowed on /pause; use POST\n'])
    for (const value of ['-3', '1e-9', '20000000', '"fast"']) {
      const bad = await post('/rate', `{"value": ${value}}`)
      expect([bad.status, await bad.text()]).toEqual([
        400,
        `POST /rate takes a JSON body {"value": <a number of jobs per second from 0.001 to 10000000> or null for no limit}; got ${JSON.stringify(JSON.parse(value))}\n`,
      ])
    }
    const notJson = await post('/max-in-flight', 'ten')
    expect([notJson.status, await notJson.text()]).toEqual([
      400,
      'POST /max-in-flight takes a JSON body {"value": <a whole number of jobs from 1 to 100000000> or null for no limit}; the body is not JSON\n',
    ])
    const rate = await post('/rate', '{"value": 250.5}')
    expect([rate.status, await rate.json()]).toEqual([
      200,
      {
        changed: 'rate 250.5 jobs/s',
        change: { kind: 'rate', rate: 250.5 },
        controls: { paused: true, rate: 250.5, maxInFlight: null, throttled: null, throttle: null },
      },
    ])
    const off = await ctl(['rate', 'off', '--host', host, '--json'])
    expect(JSON.parse(off.stdout)).toEqual({
      changed: 'rate off',
      change: { kind: 'rate', rate: null },
      controls: { paused: true, rate: null, maxInFlight: null, throttled: null, throttle: null },
    })

    const noToken = await ctl(['pause', '--host', host], null)
    expect(noToken.exit.code).toBe(2)
    expect(noToken.stderr).toBe(
      `tm-ctl: The master at ${host} refused the request: it needs the run's token (give it with --token or TM_TOKEN)\n`,
    )
    for (const value of ['fast', '1e-9', '0', 'NaN']) {
      const badValue = await ctl(['rate', value, '--host', host])
      expectUsageError(
        badValue,
        new RegExp(
          `^error: command-argument value '${value}' is invalid for argument 'jobs/s\\|off'\\. must be a number of jobs per second from 0\\.001 to 10000000 or off, got '${value}'$`,
        ),
      )
    }
    const tooMany = await ctl(['max-in-flight', '200000000', '--host', host])
    expectUsageError(
      tooMany,
      /^error: command-argument value '200000000' is invalid for argument 'n\|off'\. must be a whole number of jobs from 1 to 100000000 or off, got '200000000'$/,
    )
    const tooSlow = await run(MASTER_BIN, [RANGE, 'n=10', ...masterArgs(box, 'slow'), '--rate', '1e-9'], { env: box.env })
    expectUsageError(
      tooSlow,
      /^error: option '--rate <jobs\/s>' argument '1e-9' is invalid\. must be a number of jobs per second from 0\.001 to 10000000, got '1e-9'$/,
    )
    const nobody = await ctl(['resume', '--host', `127.0.0.1:${await portForLater()}`])
    expect(nobody.exit.code).toBe(1)
    expect(nobody.stderr).toMatch(/^tm-ctl: Cannot reach the master at 127\.0\.0\.1:\d+: connect ECONNREFUSED 127\.0\.0\.1:\d+\n$/)
  })
})
