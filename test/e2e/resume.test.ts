// Stopping and starting a run again under the same --key: a graceful stop loses and
// repeats nothing, a complete run is not run again, --reset starts over, and a run's
// state is guarded (its arguments, one master at a time).
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import type { Sandbox } from '../helpers/proc.js'
import {
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
  spawnArgs,
  startMaster,
} from '../helpers/proc.js'

const RANGE = fixture('range.mjs')
/** Jobs of the runs stopped half way: at 2 ms a job on 2 slaves, seconds of work. */
const N = 20_000

afterEach(cleanUp)

/** Runs `key` (range of n jobs, 2 local record slaves) to its end. */
function runToEnd(box: Sandbox, key: string, n: number, ...extra: string[]) {
  return run(MASTER_BIN, [RANGE, `n=${n}`, ...masterArgs(box, key), ...spawnArgs(2), '--quiet', ...extra], { env: box.env })
}

/** Starts a slow run of N jobs, sends `signal` once its status shows jobs done, and waits for the master to exit. */
async function stopHalfWay(box: Sandbox, key: string, signal: NodeJS.Signals) {
  const env = { ...box.env, TM_RECORD_DELAY_MS: '2' }
  const { master } = await startMaster([RANGE, `n=${N}`, ...masterArgs(box, key), ...spawnArgs(2), '--status-interval', '0.2'], { env })
  await master.waitFor(/(?:^|\| )done [1-9]/m, 'stdout')
  master.kill(signal)
  return { master, exit: await master.exited }
}

describe('stop and resume', () => {
  it('SIGINT stops gracefully (exit 130); the same --key resumes and every job runs exactly once overall', async () => {
    const box = sandbox()
    const { master, exit } = await stopHalfWay(box, 'stop', 'SIGINT')

    expect(exit, master.stderr).toEqual({ code: 130, signal: null })
    expect(master.stdout).toMatch(/^Run 'stop' stopped: /m)
    const checkpoint = readCheckpoint(box, 'stop')
    expect(checkpoint.complete).toBe(false)
    const before = recordedKeys(box.records)
    expect(before.length).toBeGreaterThan(0)
    expect(before.length).toBeLessThan(N)
    expect(new Set(before).size).toBe(before.length)
    // Graceful: every job that ran was reported before the checkpoint.
    expect(checkpoint.counts).toEqual({ done: before.length, failed: 0 })

    const again = await runToEnd(box, 'stop', N)
    expect(again.exit, again.stderr).toEqual(EXIT_OK)
    expect(again.stdout).toMatch(new RegExp(`^Run 'stop' complete: ${N - before.length} jobs \\(${N - before.length} done, 0 failed`, 'm'))
    expectEachKeyRan(box.records, N)
    expect(readCheckpoint(box, 'stop')).toMatchObject({
      complete: true,
      position: N,
      last: N - 1,
      finished: [],
      counts: { done: N, failed: 0 },
    })
  })

  it('SIGTERM stops gracefully with exit 143', async () => {
    const box = sandbox()
    const { master, exit } = await stopHalfWay(box, 'term', 'SIGTERM')

    expect(exit, master.stderr).toEqual({ code: 143, signal: null })
    expect(master.stdout).toMatch(/^Run 'term' stopped: /m)
    expect(readCheckpoint(box, 'term').complete).toBe(false)
    const keys = recordedKeys(box.records)
    expect(new Set(keys).size).toBe(keys.length)
    expect(readCheckpoint(box, 'term').counts).toEqual({ done: keys.length, failed: 0 })
  })

  it('does not run a complete key again', async () => {
    const box = sandbox()
    expect((await runToEnd(box, 'done', 500)).exit).toEqual(EXIT_OK)
    expectEachKeyRan(box.records, 500)

    const again = await runToEnd(box, 'done', 500)
    expect(again.exit, again.stderr).toEqual(EXIT_OK)
    expect(again.stdout).toMatch(/Run 'done' is already complete/)
    expect(again.stdout).toContain('--reset')
    expectEachKeyRan(box.records, 500)
  })

  it('--reset starts a complete run over', async () => {
    const box = sandbox()
    expect((await runToEnd(box, 'reset', 500)).exit).toEqual(EXIT_OK)

    const again = await runToEnd(box, 'reset', 500, '--reset')
    expect(again.exit, again.stderr).toEqual(EXIT_OK)
    expect(again.stdout).toMatch(/^Run 'reset' complete: 500 jobs \(500 done, 0 failed\)/m)
    expectEachKeyRan(box.records, 500, 2)
    expect(readCheckpoint(box, 'reset')).toMatchObject({ complete: true, position: 500, last: 499, finished: [] })
  })

  it('refuses to resume with other name=value arguments', async () => {
    const box = sandbox()
    const { master } = await startMaster([RANGE, 'n=10', ...masterArgs(box, 'args')], { env: box.env })
    master.kill('SIGINT')
    expect(await master.exited).toEqual({ code: 130, signal: null })
    expect(readCheckpoint(box, 'args')).toMatchObject({ complete: false, args: { n: '10' } })

    const other = await run(MASTER_BIN, [RANGE, 'n=20', 'extra=1', ...masterArgs(box, 'args')], { env: box.env })
    expectUsageError(other, /\bn=10\b.*\bn=20 extra=1\b/, /--reset/, /--key/)
  })

  it('refuses a second master on a key in use', async () => {
    const box = sandbox()
    const { master } = await startMaster([RANGE, 'n=10', ...masterArgs(box, 'busy')], { env: box.env })

    const second = await run(MASTER_BIN, [RANGE, 'n=10', ...masterArgs(box, 'busy')], { env: box.env })
    expectUsageError(second, /Run 'busy' is in use/)

    master.kill('SIGINT')
    expect(await master.exited).toEqual({ code: 130, signal: null })
  })

  it('refuses a damaged checkpoint with one line and exit 2, running nothing', async () => {
    const box = sandbox()
    mkdirSync(box.stateDir)
    const path = join(box.stateDir, 'damaged.json')
    const fields = {
      format: 1,
      key: 'damaged',
      args: { n: '100' },
      complete: false,
      last: 9,
      finished: [],
      counts: { done: 10, failed: 0 },
      elapsed: 0,
      startedAt: 'then',
      updatedAt: 'then',
    }
    for (const [damage, problem] of [
      [{ position: 10.5 }, /is damaged \(position: 10\.5 is not a whole number >= 0\)/],
      [{ position: 10, counts: null }, /is damaged \(counts: null is not \{done, failed\} whole numbers >= 0\)/],
      [{ position: 10, last: { id: 9 } }, /is damaged \(last: \{"id":9\} is not a job key \(number, string, bigint\)\)/],
    ] as const) {
      writeFileSync(path, JSON.stringify({ ...fields, ...damage }))
      const refused = await runToEnd(box, 'damaged', 100)
      expectUsageError(
        refused,
        new RegExp(`^tm-master: Checkpoint '${path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}' `),
        problem,
        /; move it away or use --reset to start over$/,
      )
    }
    expect(recordedKeys(box.records)).toEqual([])
  })
})
