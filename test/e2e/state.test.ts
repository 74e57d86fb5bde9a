// The run's state on disk under stress: a damaged journal, a run killed before its
// first checkpoint, a state dir deleted while the run is live.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { writeCheckpoint } from '../../src/master/checkpoint.js'
import { Journal } from '../../src/master/journal.js'
import type { Sandbox } from '../helpers/proc.js'
import { EXIT_OK, MASTER_BIN, expectUsageError, fixture, masterArgs, readCheckpoint, recordedKeys, run, sandbox, spawnArgs, startMaster } from '../helpers/proc.js'
import { killHard, linesMatching, tearDown } from '../helpers/reliability.js'
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
    writeCheckpoint(join(box.stateDir, 'dam.json'), checkpoint({ key: 'dam', args: { n: String(N) }, position: 10, last: 9, counts: { done: 10, failed: 0 } }))
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
      new RegExp(`^tm-master: Journal '${escape(path)}' is damaged at byte 0 \\(checksum mismatch\\): what it records from there on is unknown\\. Start over with --reset, or resume without it with --accept-journal-loss \\(those jobs run again\\)$`),
    )
    expect(recordedKeys(box.records)).toEqual([])
    expect(readFileSync(path)).toEqual(data)

    const accepted = await runToEnd(box, 'dam', N, '--accept-journal-loss')
    expect(accepted.exit, accepted.stderr).toEqual(EXIT_OK)
    expect(linesMatching(accepted.stderr, /damaged/)).toEqual([
      `Journal '${path}' is damaged at byte 0 (checksum mismatch); --accept-journal-loss: the ${data.length} bytes from there on are dropped, and the jobs they recorded run again`,
    ])
    expect(accepted.stdout).toMatch(/^Run 'dam' complete: 90 jobs \(90 done, 0 failed\)/m)
    expect(recordedKeys(box.records).map(Number).sort((a, b) => a - b)).toEqual(Array.from({ length: N - 10 }, (_, i) => 10 + i))
    expect(readCheckpoint(box, 'dam')).toMatchObject({ complete: true, position: N, last: N - 1, counts: { done: N, failed: 0 } })
  })
})

describe('a master killed before its first checkpoint', () => {
  it('left its arguments on disk: a restart with other arguments is refused, with the same ones it runs every job', async () => {
    const box = sandbox()
    const { master } = await startMaster([RANGE, 'n=300', 'table=posts', ...masterArgs(box, 'early')], { env: box.env })
    // Listening: the run's identity is already durable.
    expect(readCheckpoint(box, 'early')).toMatchObject({ key: 'early', args: { n: '300', table: 'posts' }, complete: false, position: 0, last: null, finished: [], counts: { done: 0, failed: 0 } })
    expect(await killHard(master)).toEqual({ code: null, signal: 'SIGKILL' })

    const other = await run(MASTER_BIN, [RANGE, 'n=300', 'table=users', ...masterArgs(box, 'early'), ...spawnArgs(2), '--quiet'], { env: box.env })
    expectUsageError(other, /^tm-master: Run 'early' was started with arguments n=300 table=posts but is now given n=300 table=users; use --reset/)
    expect(recordedKeys(box.records)).toEqual([])

    const same = await run(MASTER_BIN, [RANGE, 'table=posts', 'n=300', ...masterArgs(box, 'early'), ...spawnArgs(2), '--quiet'], { env: box.env })
    expect(same.exit, same.stderr).toEqual(EXIT_OK)
    expect(same.stdout).toMatch(/^Run 'early' complete: 300 jobs \(300 done, 0 failed\)/m)
    expect(recordedKeys(box.records).map(Number).sort((a, b) => a - b)).toEqual(Array.from({ length: 300 }, (_, i) => i))
  })
})
