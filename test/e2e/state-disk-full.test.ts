import { readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { EXIT_OK, MASTER_BIN, fixture, run, sandbox, spawnArgs } from '../helpers/proc.js'
import { expectEachKeyAtLeastOnce, tearDown } from '../helpers/reliability.js'
import { TMPFS_MISSING, tmpfsForFile } from '../helpers/tmpfs.js'

// The state dir on a disk that fills up while failed jobs are logged: the master stops
// with one line (it does not wait for ever for jobs it could never record), the
// failed-jobs log keeps whole lines only, and once there is room again the run resumes
// and --retry-failed reads the log.

afterEach(tearDown)

const FAIL_TENTH = fixture('fail-tenth.mjs')

describe.skipIf(TMPFS_MISSING !== undefined)(
  `the state dir on a disk that fills up${TMPFS_MISSING === undefined ? '' : ` (skipped: ${TMPFS_MISSING})`}`,
  () => {
    const disk = tmpfsForFile('512k')

    it('stops the master with one line, leaves whole lines in the failed-jobs log, and the run resumes and retries once there is room', async () => {
      const box = sandbox()
      const stateDir = join(disk.dir, 'state')
      const filler = join(disk.dir, 'filler')
      writeFileSync(filler, Buffer.alloc(480 * 1024))
      const common = [
        '--key',
        'full',
        '--state-dir',
        stateDir,
        '--host',
        '127.0.0.1:0',
        '--retries',
        '0',
        '--quiet',
        ...spawnArgs(2, FAIL_TENTH),
        '--concurrency',
        '8',
      ]
      const args = [fixture('range.mjs'), 'n=3000', ...common]
      const first = await run(MASTER_BIN, args, { env: box.env })
      expect(first.exit, first.stderr).toEqual({ code: 1, signal: null })
      expect(first.stderr).toMatch(/^Cannot write the (failed-jobs log|journal|checkpoint).*ENOSPC/m)
      expect(first.stdout + first.stderr).not.toMatch(/^\s+at /m)
      // Whole lines only: every line of the log is a job's entry.
      const log = readFileSync(join(stateDir, 'full.failed.jsonl'), 'utf8')
      expect(log === '' || log.endsWith('\n')).toBe(true)
      for (const line of log.split('\n').filter((text) => text !== '')) expect((JSON.parse(line) as { key: number }).key % 10).toBe(3)

      rmSync(filler)
      const second = await run(MASTER_BIN, args, { env: box.env })
      expect(second.exit, second.stderr).toEqual({ code: 1, signal: null })
      expect(second.stdout).toMatch(/^Run 'full' complete: \d+ jobs \(\d+ done, \d+ failed/m)
      // Every job of both masters counted once: the failures the first could not log ran again.
      expect(second.stdout).toMatch(/^Whole run 'full': 3,000 jobs \(2,700 done, 300 failed\)/m)
      const retry = await run(MASTER_BIN, [fixture('range.mjs'), ...common, '--retry-failed'], { env: { ...box.env, TM_FIXED: '1' } })
      expect(retry.exit, retry.stderr).toEqual(EXIT_OK)
      expect(retry.stdout).toMatch(/^Run 'full\.retry' complete: 300 jobs \(300 done, 0 failed\)/m)
      expectEachKeyAtLeastOnce(box.records, 3000)
    }, 120_000)
  },
)
