// The run's state on disk under stress: a damaged journal, a run killed before its
// first checkpoint, a state dir deleted while the run is live.
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { writeCheckpoint } from '../../src/master/state/checkpoint.js'
import { Journal } from '../../src/master/state/file/journal.js'
import type { Sandbox } from '../helpers/proc.js'
import {
  EXIT_OK,
  MASTER_BIN,
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
import { killHard, linesMatching, tearDown, until } from '../helpers/reliability.js'
import { checkpoint, journalRecord } from '../unit/support.js'

afterEach(tearDown)

const RANGE = fixture('range.mjs')
const escape = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')

/** Runs `key` (range of n jobs, 2 local record slaves) to its end. */
function runToEnd(box: Sandbox, key: string, n: number, ...extra: string[]) {
  return run(MASTER_BIN, [RANGE, `n=${n}`, ...masterArgs(box, key), ...spawnArgs(2), '--quiet', ...extra], { env: box.env })
}

describe('a damaged journal', () => {
  it('is refused with one line naming the file, the byte and the ways out; --accept-journal-loss resumes from what precedes the damage, with a warning', async () => {
    const N = 100
    const box = sandbox()
    mkdirSync(box.stateDir)
    writeCheckpoint(
      join(box.stateDir, 'dam.json'),
      checkpoint({ key: 'dam', args: { n: String(N) }, position: 10, last: 9, counts: { done: 10, failed: 0 } }),
    )
    const path = join(box.stateDir, 'dam.journal')
    const journal = new Journal(path)
    for (const position of [20, 30, 40]) journal.append(journalRecord({ position, last: position - 1, done: position }))
    journal.close()
    // A flipped bit in the body of the first record.
    const data = readFileSync(path)
    data[8] ^= 0x04
    writeFileSync(path, data)

    const refused = await runToEnd(box, 'dam', N)
    expectUsageError(
      refused,
      new RegExp(
        `^tm-master: Journal '${escape(path)}' is damaged at byte 0 \\(checksum mismatch\\): what it records from there on is unknown\\. Start over with --reset, or resume without it with --accept-journal-loss \\(those jobs run again\\)$`,
      ),
    )
    expect(recordedKeys(box.records)).toEqual([])
    expect(readFileSync(path)).toEqual(data)

    const accepted = await runToEnd(box, 'dam', N, '--accept-journal-loss')
    expect(accepted.exit, accepted.stderr).toEqual(EXIT_OK)
    expect(linesMatching(accepted.stderr, /damaged/)).toEqual([
      `Journal '${path}' is damaged at byte 0 (checksum mismatch); --accept-journal-loss: the ${data.length} bytes from there on are dropped, and the jobs they recorded run again`,
    ])
    expect(accepted.stdout).toMatch(/^Run 'dam' complete: 90 jobs \(90 done, 0 failed\)/m)
    expect(
      recordedKeys(box.records)
        .map(Number)
        .sort((a, b) => a - b),
    ).toEqual(Array.from({ length: N - 10 }, (_, i) => 10 + i))
    expect(readCheckpoint(box, 'dam')).toMatchObject({ complete: true, position: N, last: N - 1, counts: { done: N, failed: 0 } })
  })
})

describe('a master killed before its first checkpoint', () => {
  it('left its arguments on disk: a restart with other arguments is refused, with the same ones it runs every job', async () => {
    const box = sandbox()
    const { master } = await startMaster([RANGE, 'n=300', 'table=posts', ...masterArgs(box, 'early')], { env: box.env })
    // Listening: the run's identity is already durable.
    expect(readCheckpoint(box, 'early')).toMatchObject({
      key: 'early',
      args: { n: '300', table: 'posts' },
      complete: false,
      position: 0,
      last: null,
      finished: [],
      counts: { done: 0, failed: 0 },
    })
    expect(await killHard(master)).toEqual({ code: null, signal: 'SIGKILL' })

    const other = await run(MASTER_BIN, [RANGE, 'n=300', 'table=users', ...masterArgs(box, 'early'), ...spawnArgs(2), '--quiet'], {
      env: box.env,
    })
    expectUsageError(
      other,
      /^tm-master: Run 'early' was started with arguments n=300 table=posts but is now given n=300 table=users; use --reset/,
    )
    expect(recordedKeys(box.records)).toEqual([])

    const same = await run(MASTER_BIN, [RANGE, 'table=posts', 'n=300', ...masterArgs(box, 'early'), ...spawnArgs(2), '--quiet'], {
      env: box.env,
    })
    expect(same.exit, same.stderr).toEqual(EXIT_OK)
    expect(same.stdout).toMatch(/^Run 'early' complete: 300 jobs \(300 done, 0 failed\)/m)
    expect(
      recordedKeys(box.records)
        .map(Number)
        .sort((a, b) => a - b),
    ).toEqual(Array.from({ length: 300 }, (_, i) => i))
  })
})

describe('the state dir deleted while the run is live', () => {
  /** Starts run `key` of n slow jobs on 2 local slaves and waits for a checkpoint with jobs done in it. */
  async function startLive(box: Sandbox, key: string, n: number) {
    const { master } = await startMaster([RANGE, `n=${n}`, ...masterArgs(box, key), ...spawnArgs(2), '--quiet'], { env: box.env })
    await until('a checkpoint with jobs done', () => {
      const cp = readCheckpoint(box, key)
      return cp.counts.done > 0 && !cp.complete
    })
    return master
  }

  it('is written again from memory with a warning; the run completes with a correct checkpoint, and a restart finds it complete', async () => {
    const N = 3000
    const box = sandbox({ TM_RECORD_DELAY_MS: '2' })
    const master = await startLive(box, 'gone', N)
    // rm -rf, with the dir leaving its path in one step.
    const trash = `${box.stateDir}.trash`
    renameSync(box.stateDir, trash)
    rmSync(trash, { recursive: true })

    expect(await master.exited, master.stderr).toEqual(EXIT_OK)
    expect(master.stdout).toMatch(new RegExp(`^Run 'gone' complete: ${N} jobs \\(${N} done, 0 failed\\)`, 'm'))
    expect(linesMatching(master.stderr, /deleted/)).toEqual([
      expect.stringMatching(
        new RegExp(
          `^The state of run 'gone' was deleted while the run was live \\(the state dir '${escape(box.stateDir)}' was removed\\); rewritten from memory \\(position \\d+, \\d+ done, 0 failed\\)\\. Anything else kept there \\(a failed-jobs log\\) is gone$`,
        ),
      ),
    ])
    expectEachKeyRan(box.records, N)
    expect(readCheckpoint(box, 'gone')).toMatchObject({
      key: 'gone',
      args: { n: String(N) },
      complete: true,
      position: N,
      last: N - 1,
      finished: [],
      counts: { done: N, failed: 0 },
    })
    expect(existsSync(join(box.stateDir, 'gone.lock'))).toBe(false)
    expect(existsSync(join(box.stateDir, 'gone.journal'))).toBe(false)

    const again = await runToEnd(box, 'gone', N)
    expect(again.exit, again.stderr).toEqual(EXIT_OK)
    expect(again.stdout).toMatch(/^Run 'gone' is already complete \(3000 jobs done, 0 failed\)/m)
    expectEachKeyRan(box.records, N)
  })

  it('that cannot be written again stops the run with exit 1 and says the state is gone and what a restart would do', async () => {
    const box = sandbox({ TM_RECORD_DELAY_MS: '5' })
    const master = await startLive(box, 'nowhere', 100_000)
    // A file where the state dir was: it cannot be made again, even by root. (The master
    // may make the dir again between the two steps: then again.)
    let round = 0
    await until('a file in place of the state dir', () => {
      const trash = `${box.stateDir}.trash${round++}`
      try {
        renameSync(box.stateDir, trash)
      } catch {
        // Gone already: the file goes in its place.
      }
      rmSync(trash, { recursive: true, force: true })
      try {
        writeFileSync(box.stateDir, '', { flag: 'wx' })
        return true
      } catch {
        return false
      }
    })

    expect(await master.exited, master.stderr).toEqual({ code: 1, signal: null })
    expect(linesMatching(master.stderr, /^tm-master: /)).toEqual([
      `tm-master: The state of run 'nowhere' was deleted while the run was live (the state dir '${box.stateDir}' was removed) and cannot be written again: EEXIST: file already exists, mkdir '${box.stateDir}'. Nothing of the run is saved: started again with --key nowhere, it would run every job from the beginning`,
    ])
    expect(master.stderr).not.toContain('intact')
  })
})
