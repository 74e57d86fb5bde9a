import { closeSync, openSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import {
  EXIT_OK,
  MASTER_BIN,
  Proc,
  cleanUp,
  expectEachKeyRan,
  expectUsageError,
  fixture,
  masterArgs,
  readCheckpoint,
  run,
  sandbox,
  spawnArgs,
  startMaster,
  startSlave,
} from '../helpers/proc.js'
import { TMPFS_MISSING, tmpfsForFile } from '../helpers/tmpfs.js'

// Optional outputs (the --stats stream, stdout and stderr of the master and the slave)
// never stop a run when they fail: the failure is said once, in one line, the output
// stops, and the run and its checkpoint go on. Real failures: a full tmpfs, /dev/full, a
// pipe whose reader went away, a read-only mount.

afterEach(cleanUp)

/** Jobs from TM_HOLD_FROM on wait for the file `go` in the records dir: the run is held open until the test has seen the failure. */
const HOLD = fixture('hold-record.mjs')

/** Lines of `text` that mention `word`. */
const linesWith = (text: string, word: string): string[] => text.split('\n').filter((line) => line.includes(word))

/** Asserts the run `key` of `box` ended complete: exit 0, every job of n run once, the checkpoint complete. */
function expectComplete(
  proc: Proc,
  exit: { code: number | null; signal: NodeJS.Signals | null },
  box: ReturnType<typeof sandbox>,
  key: string,
  n: number,
): void {
  expect(exit, proc.stderr).toEqual(EXIT_OK)
  expectEachKeyRan(box.records, n)
  expect(readCheckpoint(box, key)).toMatchObject({ complete: true, counts: { done: n, failed: 0 } })
  expect(proc.stdout + proc.stderr).not.toContain('    at ')
}

describe.skipIf(TMPFS_MISSING !== undefined)(
  `--stats on a disk that fills up${TMPFS_MISSING === undefined ? '' : ` (skipped: ${TMPFS_MISSING})`}`,
  () => {
    const disk = tmpfsForFile('64k')

    it('says so once, stops the stream at a whole line, and the run, its controls and its checkpoint go on', async () => {
      const box = sandbox({ TM_HOLD_FROM: '200' })
      // Most of the disk is taken: the stream fills the rest within a few documents.
      writeFileSync(join(disk.dir, 'filler'), Buffer.alloc(48 * 1024))
      const stats = join(disk.dir, 'stats.jsonl')
      const { master, host } = await startMaster(
        [
          fixture('range-total.mjs'),
          'n=400',
          ...masterArgs(box, 'full'),
          ...spawnArgs(1, HOLD),
          '--stats',
          stats,
          '--stats-interval',
          '0.01',
          '--status-interval',
          '0.05',
        ],
        { env: box.env },
      )
      await master.waitFor(/no space left on device/)
      // A change of the controls after the failure: its line has nowhere to go, the change is made.
      const rate = await fetch(`http://${host}/rate`, { method: 'POST', body: '{"value": 100000}' })
      expect(rate.status).toBe(200)
      writeFileSync(join(box.records, 'go'), '')
      const exit = await master.exited
      expectComplete(master, exit, box, 'full', 400)
      expect(linesWith(master.stderr + master.stdout, '--stats')).toEqual([
        `--stats '${stats}' failed (ENOSPC: no space left on device, write): nothing more is written to it; the run goes on`,
      ])
      // Whole lines only: the line that did not fit is not left half written.
      const text = readFileSync(stats, 'utf8')
      expect(text.endsWith('\n')).toBe(true)
      const docs = text
        .split('\n')
        .filter((line) => line !== '')
        .map((line) => JSON.parse(line) as { run?: { key: string } })
      expect(docs.length).toBeGreaterThan(0)
    })
  },
)

describe.skipIf(TMPFS_MISSING !== undefined)(
  `--stats on a read-only disk${TMPFS_MISSING === undefined ? '' : ` (skipped: ${TMPFS_MISSING})`}`,
  () => {
    const disk = tmpfsForFile('16k', true)

    it('is refused in one line before the run starts', async () => {
      const box = sandbox()
      const stats = join(disk.dir, 'stats.jsonl')
      const proc = await run(MASTER_BIN, [fixture('range-total.mjs'), 'n=10', ...masterArgs(box, 'ro'), '--stats', stats], { env: box.env })
      expectUsageError(proc, new RegExp(`^tm-master: Cannot open --stats '${stats}': EROFS: read-only file system`))
    })
  },
)

describe('stdout and stderr that fail', () => {
  it("the master's stdout on a full disk (/dev/full): said once on stderr, the run goes on to its end", async () => {
    const box = sandbox()
    const full = openSync('/dev/full', 'w')
    const master = new Proc(
      MASTER_BIN,
      [fixture('range-total.mjs'), 'n=300', ...masterArgs(box, 'out-full'), ...spawnArgs(1), '--status-interval', '0.01'],
      { env: box.env, stdout: full },
    )
    closeSync(full)
    const exit = await master.exited
    expectComplete(master, exit, box, 'out-full', 300)
    expect(linesWith(master.stderr, 'stdout')).toEqual([
      'tm-master: stdout failed (ENOSPC: no space left on device, write): nothing more is written to it; the run goes on',
    ])
  })

  it("the master's stderr on a full disk: said once on stdout, the run goes on to its end", async () => {
    const box = sandbox()
    const full = openSync('/dev/full', 'w')
    const master = new Proc(MASTER_BIN, [fixture('range-total.mjs'), 'n=300', ...masterArgs(box, 'err-full'), ...spawnArgs(1)], {
      env: box.env,
      stderr: full,
    })
    closeSync(full)
    const exit = await master.exited
    expectComplete(master, exit, box, 'err-full', 300)
    expect(linesWith(master.stdout, 'stderr')).toEqual([
      'tm-master: stderr failed (ENOSPC: no space left on device, write): nothing more is written to it; the run goes on',
    ])
    expect(master.stdout).toMatch(/^Run 'err-full' complete: 300 jobs/m)
  })

  it('--stats - into a pipe whose reader went away (EPIPE): said once on stderr, the run goes on', async () => {
    const box = sandbox({ TM_HOLD_FROM: '100' })
    const master = new Proc(
      MASTER_BIN,
      [fixture('range-total.mjs'), 'n=200', ...masterArgs(box, 'epipe'), ...spawnArgs(1, HOLD), '--stats', '-', '--stats-interval', '0.01'],
      { env: box.env },
    )
    await master.waitFor(/^\{"time"/m, 'stdout')
    master.child.stdout!.destroy()
    await master.waitFor(/stdout failed/, 'stderr')
    writeFileSync(join(box.records, 'go'), '')
    const exit = await master.exited
    expectComplete(master, exit, box, 'epipe', 200)
    expect(linesWith(master.stderr, 'stdout')).toEqual([
      'tm-master: stdout failed (write EPIPE): nothing more is written to it; the run goes on',
    ])
  })

  it("a slave's stdout and stderr on a full disk: it works through the run all the same", async () => {
    const box = sandbox()
    const { master, host } = await startMaster([fixture('range-total.mjs'), 'n=200', ...masterArgs(box, 'slave-full'), '--quiet'], {
      env: box.env,
    })
    const full = openSync('/dev/full', 'w')
    const slave = startSlave([fixture('record.mjs'), '--host', host], { env: box.env, stdout: full, stderr: full })
    closeSync(full)
    // The slave first: one that died would leave the master waiting.
    expect(await slave.exited).toEqual(EXIT_OK)
    expectComplete(master, await master.exited, box, 'slave-full', 200)
  })
})
