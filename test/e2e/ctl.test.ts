import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import type { RunStatus } from '../../src/index.js'
import {
  CTL_BIN,
  EXIT_OK,
  MASTER_BIN,
  cleanUp,
  fixture,
  masterArgs,
  readCheckpoint,
  run,
  sandbox,
  spawnArgs,
  startMaster,
  startSlave,
} from '../helpers/proc.js'
import { statusReader } from '../helpers/poll.js'
import { portForLater, stopAtOnce } from '../helpers/reliability.js'

// tm-ctl status against a live master (its /status) and against a stopped run's state
// files, with the real bins.

afterEach(cleanUp)

const TOKEN = 'ctl-s3cret'
const { statusWhere } = statusReader(TOKEN)

/** tm-ctl without the TM_TOKEN of the test's environment. */
const ctl = (args: string[], env: NodeJS.ProcessEnv = {}) => run(CTL_BIN, args, { env: { TM_TOKEN: undefined, ...env } })

describe('tm-ctl status', () => {
  it('of a live master, then of the same run stopped, from its state files', async () => {
    const box = sandbox({ TM_TOKEN: TOKEN, TM_HOLD_FROM: '100' })
    const { master, host } = await startMaster([fixture('range-total.mjs'), 'n=300', ...masterArgs(box, 'ctl'), '--quiet'], {
      env: box.env,
    })
    const slave = startSlave([fixture('hold-record.mjs'), '--host', host, '--concurrency', '2', '--prefetch', '2', '--reconnect', '1'], {
      env: box.env,
    })
    await statusWhere(
      host,
      'the run to stand at 100 done',
      (doc) => doc.run.done === 100 && doc.run.inFlight === 4 && doc.slaves[0]?.rss !== 0 && doc.slaves[0]?.netIn !== 0,
    )

    const json = await ctl(['status', '--host', host, '--json'], { TM_TOKEN: TOKEN })
    expect(json.exit, json.stderr).toEqual(EXIT_OK)
    const doc = JSON.parse(json.stdout) as RunStatus
    expect(doc.run).toMatchObject({
      key: 'ctl',
      args: { n: '300' },
      state: 'running',
      position: 100,
      last: 99,
      done: 100,
      failed: 0,
      inFlight: 4,
      queued: 196,
      total: 300,
    })
    expect(doc.slaves).toMatchObject([{ pid: slave.child.pid, concurrency: 2, done: 100, inFlight: 4 }])

    const text = await ctl(['status', '-H', `ws://${host}`, '--token', TOKEN])
    expect(text.exit, text.stderr).toEqual(EXIT_OK)
    const lines = text.stdout.split('\n')
    expect(lines[0]).toBe("Run 'ctl' (n=300): running")
    expect(lines[1]).toMatch(
      /^33\.3 % ETA (\d+:\d\d:\d\d|-) \| done 100 of 300 \| [\d.,]+\/s \| elapsed \d+:\d\d:\d\d \| failed 0 \| finished through #100, key 99 \| in flight 4 \| queued 196 \| slaves 1 \| master cpu \d+ %, rss [\d.]+ (B|KiB|MiB|GiB), net in [\d.]+ (B|KiB|MiB|GiB), net out [\d.]+ (B|KiB|MiB|GiB)$/,
    )
    expect(lines[2]).toMatch(/^slave +address +conc +done +rate +in flight +cpu +rss +net in +net out$/)
    expect(lines[3]).toMatch(
      new RegExp(
        `^\\S+:${slave.child.pid} +127\\.0\\.0\\.1:\\d+ +2 +100 +[\\d.,]+/s +4 +\\d+ % +[\\d.]+ [KMG]iB +[\\d.]+ (B|KiB|MiB) +[\\d.]+ (B|KiB|MiB)$`,
      ),
    )
    expect(lines.slice(4)).toEqual([''])

    const noToken = await ctl(['status', '--host', host])
    expect(noToken.exit.code).toBe(2)
    expect(noToken.stderr).toBe(
      `tm-ctl: The master at ${host} refused the request: it needs the run's token (give it with --token or TM_TOKEN)\n`,
    )
    const wrong = await ctl(['status', '--host', host, '--token', 'nope'])
    expect(wrong.stderr).toBe(`tm-ctl: The master at ${host} refused the request: the token is wrong (give it with --token or TM_TOKEN)\n`)

    // Stopped at once (the held jobs never end): the state files say where the run stands.
    await stopAtOnce(master, slave)
    const cp = readCheckpoint(box, 'ctl') as ReturnType<typeof readCheckpoint> & { elapsed: number; startedAt: string; updatedAt: string }
    const stored = await ctl(['status', '--key', 'ctl', '--state-dir', box.stateDir, '--json'])
    expect(stored.exit, stored.stderr).toEqual(EXIT_OK)
    expect(JSON.parse(stored.stdout)).toEqual({
      key: 'ctl',
      args: { n: '300' },
      complete: false,
      position: 100,
      last: 99,
      done: 100,
      failed: 0,
      elapsedMs: cp.elapsed,
      startedAt: cp.startedAt,
      updatedAt: cp.updatedAt,
      locked: false,
      checkpoint: join(box.stateDir, 'ctl.json'),
      paused: false,
    })
    const storedText = await ctl(['status', '--key', 'ctl', '--state-dir', box.stateDir])
    expect(storedText.stdout).toBe(
      [
        "Run 'ctl': not complete; start it again with the same --key to resume",
        '  position   100 (last key 99; a resume starts after it)',
        '  done       100',
        '  failed     0',
        '  arguments  n=300',
        `  elapsed    ${storedText.stdout.match(/elapsed +(\d+:\d\d:\d\d)/)![1]}`,
        `  started    ${cp.startedAt}`,
        `  written    ${cp.updatedAt}`,
        '',
      ].join('\n'),
    )
  })

  it('of a master stalled past the 10 s answer time: a pause was sent and may still apply; the stopped run then says it is paused', async () => {
    const box = sandbox({ TM_TOKEN: TOKEN })
    const { master, host } = await startMaster([fixture('range-total.mjs'), 'n=10', ...masterArgs(box, 'stall'), '--quiet'], {
      env: box.env,
    })
    master.kill('SIGSTOP')
    const pause = await ctl(['pause', '--host', host], { TM_TOKEN: TOKEN })
    master.kill('SIGCONT')
    expect(pause.exit.code).toBe(1)
    expect(pause.stderr).toBe(
      `tm-ctl: The master at ${host} did not answer within 10 s; the request was sent and may still apply when the master answers (check with tm-ctl status)\n`,
    )
    await statusWhere(host, 'the pause applied', (doc) => doc.run.controls.paused)
    master.kill('SIGTERM')
    await master.exited
    const json = await ctl(['status', '--key', 'stall', '--state-dir', box.stateDir, '--json'])
    expect(JSON.parse(json.stdout)).toMatchObject({ key: 'stall', complete: false, paused: true })
    const text = await ctl(['status', '--key', 'stall', '--state-dir', box.stateDir])
    expect(text.stdout.split('\n').slice(0, 2)).toEqual([
      "Run 'stall': not complete; start it again with the same --key to resume",
      '  paused     yes: the next master starts paused until resumed (tm-ctl resume)',
    ])
  }, 60_000)

  it('of a complete run, from its state files', async () => {
    const box = sandbox()
    const done = await run(MASTER_BIN, [fixture('range-total.mjs'), 'n=20', ...masterArgs(box, 'whole'), ...spawnArgs(1), '--quiet'], {
      env: box.env,
    })
    expect(done.exit).toEqual(EXIT_OK)
    const stored = await ctl(['status', '--key', 'whole', '--state-dir', box.stateDir, '--json'])
    expect(JSON.parse(stored.stdout)).toMatchObject({
      key: 'whole',
      complete: true,
      position: 20,
      last: 19,
      done: 20,
      failed: 0,
      locked: false,
    })
    expect((await ctl(['status', '--key', 'whole', '--state-dir', box.stateDir])).stdout.split('\n')[0]).toBe("Run 'whole': complete")
  })

  it('says in one line when there is no such run or no master', async () => {
    const box = sandbox()
    const none = await ctl(['status', '--key', 'nope', '--state-dir', box.stateDir])
    expect(none.exit.code).toBe(2)
    expect(none.stdout).toBe('')
    expect(none.stderr).toBe(
      `tm-ctl: No run 'nope' in ${box.stateDir} (there is no ${join(box.stateDir, 'nope.json')}; give the --key and --state-dir the master was given)\n`,
    )
    const port = await portForLater() // a port where no master listens
    const unreachable = await ctl(['status', '--host', `127.0.0.1:${port}`])
    expect(unreachable.exit.code).toBe(1)
    expect(unreachable.stderr).toBe(`tm-ctl: Cannot reach the master at 127.0.0.1:${port}: connect ECONNREFUSED 127.0.0.1:${port}\n`)
    const both = await ctl(['status', '--host', `127.0.0.1:${port}`, '--key', 'x'])
    expect(both.exit.code).toBe(2)
    expect(both.stderr).toBe('tm-ctl: Give --host (a live master) or --key (a run from its state files), not both\n')
  })
})

describe('tm-ctl against a server that is not a Taskmaster master', () => {
  it.each([
    ['null', 'null'],
    ['an array', '[1, 2]'],
    ['a partial status', '{"time": "now", "run": {"key": "x"}, "slaves": [], "failures": []}'],
    ['an object of another kind', '{"changed": 5, "status": "ok"}'],
  ])('answering %s to every request: one line for status, status --json and pause, exit 1', async (_, body) => {
    const server = createServer((req, res) => {
      req.resume()
      req.on('end', () => res.writeHead(200, { 'content-type': 'application/json' }).end(body))
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    try {
      const host = `127.0.0.1:${(server.address() as AddressInfo).port}`
      for (const args of [['status'], ['status', '--json'], ['pause'], ['rate', '5']]) {
        const answer = await ctl([...args, '--host', host])
        expect(answer.exit, answer.stderr).toEqual({ code: 1, signal: null })
        expect(answer.stdout).toBe('')
        expect(answer.stderr).toMatch(
          new RegExp(
            `^tm-ctl: The server at ${host.replace(/\./g, '\\.')} answered (GET /status|POST /\\S+) with JSON that is not a Taskmaster (status|control answer) \\(is it a Taskmaster master of this version\\?\\)\\n$`,
          ),
        )
      }
    } finally {
      server.close()
    }
  })
})
