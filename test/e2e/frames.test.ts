// Frame limits: a job too large for --max-frame stops the run at once with one clear
// line, however the batch around it was split; a slave with a smaller --max-frame than
// the master gets frames it can take.
import { readdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import {
  MASTER_BIN,
  expectEachKeyRan,
  fixture,
  masterArgs,
  recordedKeys,
  sandbox,
  spawnArgs,
  startMaster,
  startSlave,
} from '../helpers/proc.js'
import { Proc } from '../helpers/proc.js'
import { RECORD, expectRunEnds, tearDown, until } from '../helpers/reliability.js'
import type { Exit } from '../helpers/proc.js'

afterEach(tearDown)

const PADDED = fixture('padded-range.mjs')
const DISTINCT = fixture('distinct-payloads.mjs')

/** Resolves with the exit, or with 'hung' if the process is still running after `ms`. */
async function exitWithin(proc: Proc, ms: number): Promise<Exit | 'hung'> {
  let timer: NodeJS.Timeout | undefined
  const late = new Promise<'hung'>((resolve) => (timer = setTimeout(() => resolve('hung'), ms)))
  const result = await Promise.race([proc.exited, late])
  clearTimeout(timer)
  return result
}

describe('a job larger than --max-frame', () => {
  const TOO_BIG = 'tm-master: Job 0 is 2088 bytes encoded, more than --max-frame (1024); raise --max-frame on master and slaves'

  it.each([
    ['split from a batch', []],
    ['alone in its batch (--batch-size 1)', ['--batch-size', '1']],
  ])('stops the run at once with one line naming the job and --max-frame (%s)', async (_name, extra) => {
    const box = sandbox()
    const master = new Proc(
      MASTER_BIN,
      [PADDED, 'n=10', 'bytes=2048', ...masterArgs(box, 'too-big'), '--max-frame', '1024', ...spawnArgs(1), '--quiet', ...extra],
      { env: box.env },
    )
    // Without the fix the master hung here until a second signal. 30 s is far more than
    // a stop with nothing in flight takes, even on a loaded machine.
    expect(await exitWithin(master, 30_000), master.stderr).toEqual({ code: 1, signal: null })
    const lines = master.stderr.split('\n').filter((line) => line !== '')
    expect(lines.at(-1)).toBe(TOO_BIG)
    expect(lines.filter((line) => line.includes('Job 0 is 2088 bytes'))).toHaveLength(2)
    expect(recordedKeys(box.records)).toEqual([])
  })
})

describe('a slave with a smaller --max-frame than the master', () => {
  it('gets frames it can take: every job done, none failed', async () => {
    const box = sandbox()
    const { master, host } = await startMaster([PADDED, 'n=200', 'bytes=1024', ...masterArgs(box, 'small-slave'), '--quiet'], {
      env: box.env,
    })
    const slave = startSlave([RECORD, '--host', host, '--max-frame', '2048', '--concurrency', '4'], { env: box.env })
    await expectRunEnds(master, [slave])
    expectEachKeyRan(box.records, 200)
    expect(master.stderr).not.toMatch(/went away|failed|code 1009/)
    expect(slave.stderr).not.toMatch(/Lost the master/)
  })

  it("stops the run with one line naming the slave's --max-frame when a single job is larger", async () => {
    const box = sandbox()
    const { master, host } = await startMaster([PADDED, 'n=10', 'bytes=4096', ...masterArgs(box, 'too-big-for-slave'), '--quiet'], {
      env: box.env,
    })
    const slave = startSlave([RECORD, '--host', host, '--max-frame', '2048', '--reconnect', '1'], { env: box.env })
    expect(await exitWithin(master, 30_000), master.stderr).toEqual({ code: 1, signal: null })
    const lines = master.stderr.split('\n').filter((line) => line !== '')
    expect(lines.at(-1)).toMatch(
      /^tm-master: Job 0 is 4136 bytes encoded, more than the --max-frame \(2048\) of slave [^ ]+:\d+ \(127\.0\.0\.1:\d+\); raise --max-frame on master and slaves$/,
    )
    expect(recordedKeys(box.records)).toEqual([])
    await slave.exited
  })
})

describe('frames encoded into reused memory', () => {
  it('bring every job its own payload: slaves of different speeds and frame limits, none written over', async () => {
    const box = sandbox()
    const n = 30_000
    const { master, host } = await startMaster([DISTINCT, `n=${n}`, 'bytes=1000', ...masterArgs(box, 'distinct'), '--quiet'], {
      env: box.env,
    })
    // A fast slave (frames of ~256 KiB), one with small frames, and a slow one whose frames wait.
    const slaves = [
      startSlave([DISTINCT, '--host', host], { env: box.env }),
      startSlave([DISTINCT, '--host', host, '--max-frame', '20000', '--concurrency', '4'], { env: box.env }),
      startSlave([DISTINCT, '--host', host, '--prefetch', '50'], { env: { ...box.env, TM_RECORD_DELAY_MS: '1' } }),
    ]
    await expectRunEnds(master, slaves)
    expectEachKeyRan(box.records, n)
  })

  it("never reuse a frame's memory while its bytes wait in a socket: a slave that stops reading gets its jobs intact", async () => {
    const box = sandbox()
    const n = 40_000
    const gate = join(box.records, 'gate')
    // --heartbeat 60: the held slave answers no ping while it holds; on a loaded machine that
    // may take longer than the default's 10 s, and a dropped slave would run its held job twice.
    const { master, host } = await startMaster(
      [DISTINCT, `n=${n}`, 'bytes=1000', ...masterArgs(box, 'held'), '--size', String(n), '--heartbeat', '60', '--quiet'],
      { env: box.env },
    )
    // Up to 30 MB of frames for a slave that reads none of them: most wait in the master's
    // socket queue while the other slave's frames go through recycled memory.
    const held = startSlave([DISTINCT, '--host', host, '--prefetch', '30000'], { env: { ...box.env, TM_GATE_FILE: gate } })
    await until('the held slave to stop reading', () => readdirSync(box.records).some((name) => name.startsWith('blocked-')))
    const fast = startSlave([DISTINCT, '--host', host], { env: box.env })
    // The held slave has at most 30,000 jobs: the other runs the rest (all but one, at least).
    await until('the other slave to run the rest', () => recordedKeys(box.records).length >= n - 30_000 - 1)
    writeFileSync(gate, '')
    await expectRunEnds(master, [held, fast])
    expectEachKeyRan(box.records, n)
  })
})
