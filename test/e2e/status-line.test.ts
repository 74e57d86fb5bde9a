import { afterEach, describe, expect, it } from 'vitest'
import { formatDuration } from '../../src/cli/format.js'
import { EXIT_OK, cleanUp, fixture, masterArgs, readCheckpoint, sandbox, spawnArgs, startMaster } from '../helpers/proc.js'

// The master's status lines off a terminal (a pipe, as in CI or under systemd), a resumed
// run's first words and last lines, with the real bins.

afterEach(cleanUp)

const RANGE_TOTAL = fixture('range-total.mjs')
const N = 3000

/** A status line of the run of N jobs, with its figures. */
const LINE = new RegExp(
  `^(\\d+\\.\\d) % ETA (\\d+:\\d\\d:\\d\\d|-) \\| done ([\\d,]+) of 3,000 \\| [\\d.,]+/s \\| elapsed \\d+:\\d\\d:\\d\\d \\| failed 0 \\| finished through #[\\d,]+(?:, key \\d+)? \\| in flight \\d+ \\| queued [\\d,]+ \\| slaves [0-2]( \\| this master: [\\d,]+ done in \\d+:\\d\\d:\\d\\d)? \\| master cpu \\d+ %, rss [\\d.]+ (?:B|KiB|MiB|GiB), net in [\\d.]+ (?:B|KiB|MiB|GiB), net out [\\d.]+ (?:B|KiB|MiB|GiB)$`,
)

function statusLines(stdout: string): RegExpMatchArray[] {
  return stdout
    .split('\n')
    .map((line) => line.match(LINE))
    .filter((m): m is RegExpMatchArray => m !== null)
}

describe('status lines off a terminal', () => {
  it('every --status-interval: percent, ETA, done of the total; a resumed run says where it resumes and ends with the whole run', async () => {
    const box = sandbox({ TM_RECORD_DELAY_MS: '2' })
    const { master } = await startMaster(
      [RANGE_TOTAL, `n=${N}`, ...masterArgs(box, 'lines'), ...spawnArgs(2), '--status-interval', '0.2'],
      { env: box.env },
    )
    // Two lines with jobs done, so the rate (and the ETA) are known by the second.
    await master.waitFor(/^\d+\.\d % ETA \d+:\d\d:\d\d \| done [1-9]/m, 'stdout')
    master.kill('SIGINT')
    expect(await master.exited).toEqual({ code: 130, signal: null })
    const lines = statusLines(master.stdout)
    expect(lines.length).toBeGreaterThanOrEqual(2)
    for (const m of lines) {
      const done = Number(m[3].replace(/,/g, ''))
      // The percent is of the jobs finished (none failed), to one decimal, rounded down.
      expect(m[1]).toBe((Math.floor((done * 1000) / N) / 10).toFixed(1))
    }
    expect(master.stdout).not.toContain('Resuming')

    const cp = readCheckpoint(box, 'lines') as ReturnType<typeof readCheckpoint> & { position: number; last: number; elapsed: number }
    expect(cp.position).toBeGreaterThan(0)
    expect(cp.position).toBeLessThan(N)
    const second = await startMaster([RANGE_TOTAL, `n=${N}`, ...masterArgs(box, 'lines'), ...spawnArgs(2), '--status-interval', '0.2'], {
      env: { ...box.env, TM_RECORD_DELAY_MS: '0' },
    })
    // The percent is of the jobs finished (done and failed, those beyond the watermark too),
    // as every later line counts them: not of the watermark's position.
    const percent = (Math.floor(((cp.counts.done + cp.counts.failed) * 1000) / N) / 10).toFixed(1)
    const position = cp.position.toLocaleString('en-US')
    await second.master.waitFor(
      `Resuming 'lines' at ${position} of 3,000, ${percent} % (after key ${cp.last}): ${cp.counts.done.toLocaleString('en-US')} done and 0 failed so far in ${formatDuration(cp.elapsed)}\n`,
    )
    expect(await second.master.exited).toEqual(EXIT_OK)
    const out = second.master.stdout.split('\n')
    const end = out.findIndex((line) => line.startsWith("Run 'lines' complete: "))
    // The last status line, then this master's summary, then the whole run's.
    expect(out[end - 1]).toMatch(
      /^100\.0 % ETA 0:00:00 \| done 3,000 of 3,000 \| [\d.,]+\/s \| elapsed \d+:\d\d:\d\d \| failed 0 \| finished through #3,000, key 2999 \| in flight 0 \| queued 0 \| slaves 0 \| this master: [\d,]+ done in \d+:\d\d:\d\d \| master cpu \d+ %, rss [\d.]+ (B|KiB|MiB|GiB), net in [\d.]+ (B|KiB|MiB|GiB), net out [\d.]+ (B|KiB|MiB|GiB)$/,
    )
    expect(out[end + 1]).toMatch(/^Whole run 'lines': 3,000 jobs \(3,000 done, 0 failed\) in \d+:\d\d:\d\d$/)
    expect(second.master.stdout + second.master.stderr).not.toContain('\x1b')
  })
})
