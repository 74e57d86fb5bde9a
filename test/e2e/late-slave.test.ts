// A slave that arrives after its run is over. It cannot tell "no master yet" from "the
// run is over", so whoever starts slaves that may outlive the run (the chaos test's
// replacements, the benchmark's second slave on a busy machine) starts them long-lived
// (--reconnect 0) and stops them with SIGTERM once the master has exited: every slave
// then exits 0, however late it came. One with a --reconnect deadline that no master
// answered exits 4 and says the run may simply be over: not 1, which reads as a failure;
// one whose master went away mid-run exits 4 too, saying to start the master again.
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { EXIT_OK, expectEachKeyRan, fixture, masterArgs, sandbox, startMaster, startSlave } from '../helpers/proc.js'
import { RANGE, RECORD, expectRunEndsThenStop, killHard, stopLongLived, tearDown } from '../helpers/reliability.js'

/** The one line of a slave that no master answered at `host` for `seconds`. */
const noMasterLine = (host: string, seconds: number): RegExp =>
  new RegExp(
    `^tm-slave: No master answered at ws://${host} for ${seconds} s \\(--reconnect; last try: ECONNREFUSED [^)]*\\); the run may simply be over \\(exit 4\\)$`,
  )

/** Asserts the slave exited 4 with its last stderr line {@link noMasterLine}, and no stack. */
function expectNoMaster(stderr: string, host: string, seconds: number): void {
  const lines = stderr.split('\n').filter((line) => line !== '')
  expect(lines.at(-1)).toMatch(noMasterLine(host, seconds))
  expect(stderr).not.toContain('    at ')
}

afterEach(tearDown)

describe('a slave started after the run is over', () => {
  it('is stopped by SIGTERM once the master has exited, and exits 0 like the one that did the work', async () => {
    const box = sandbox()
    const { master, host } = await startMaster([RANGE, 'n=30', ...masterArgs(box, 'late'), '--quiet'], { env: box.env })
    const worker = startSlave([RECORD, '--host', host, '--reconnect', '0'], { env: box.env })
    expect(await master.exited, master.stderr).toEqual(EXIT_OK)
    const late = startSlave([RECORD, '--host', host, '--reconnect', '0'], { env: box.env })
    await expectRunEndsThenStop(master, [worker, late])
    expect(worker.stderr).toContain('The run is complete; waiting for the next master\n')
    expect(late.stderr).toMatch(
      new RegExp(`^tm-slave\\[\\d+\\]: No master at ws://${host} yet \\(ECONNREFUSED .*\\); waiting for one \\(--reconnect 0\\)$`, 'm'),
    )
    expectEachKeyRan(box.records, 30)
  })

  it('exits 0 when stopped as soon as it is started (the SIGTERM waits until it can take it)', async () => {
    const box = sandbox()
    const { master, host } = await startMaster([RANGE, 'n=1', ...masterArgs(box, 'instant'), '--quiet'], { env: box.env })
    master.kill('SIGTERM')
    await master.exited
    const slave = startSlave([RECORD, '--host', host, '--reconnect', '0'], { env: box.env })
    expect(await stopLongLived(slave), slave.stderr).toEqual(EXIT_OK)
  })

  it('with a --reconnect deadline, exits 4 saying no master answered and the run may simply be over', async () => {
    const box = sandbox()
    const { master, host } = await startMaster([RANGE, 'n=1', ...masterArgs(box, 'over'), '--quiet'], { env: box.env })
    master.kill('SIGTERM')
    await master.exited
    const slave = startSlave([RECORD, '--host', host, '--reconnect', '1', '--quiet'], { env: box.env })
    expect(await slave.exited, slave.stderr).toEqual({ code: 4, signal: null })
    // --quiet: the one line is all it says.
    expect(slave.stderr.split('\n').filter((line) => line !== '')).toHaveLength(1)
    expectNoMaster(slave.stderr, host, 1)
  })
})

describe('a slave whose master went away mid-run and never came back', () => {
  it('exits 4 once --reconnect has passed since the loss, saying the run is not over: its master is to be started again', async () => {
    const box = sandbox()
    const { master, host } = await startMaster([RANGE, 'n=5', ...masterArgs(box, 'gone'), '--quiet'], { env: box.env })
    const slave = startSlave([fixture('gate-record.mjs'), '--host', host, '--reconnect', '1'], { env: box.env })
    await slave.waitFor(/Connected to the master at/)
    await killHard(master)
    writeFileSync(join(box.records, 'go'), '')
    expect(await slave.exited, slave.stderr).toEqual({ code: 4, signal: null })
    expect(slave.stderr).toMatch(/^tm-slave\[\d+\]: Lost the master \(.+\); reconnecting for up to 1 s$/m)
    // Not "the run may simply be over": it served this run, and the master never said it was.
    const lines = slave.stderr.split('\n').filter((line) => line !== '')
    expect(lines.at(-1)).toMatch(
      new RegExp(
        `^tm-slave: The master at ws://${host} went away mid-run \\(.+\\) and none answered for 1 s \\(--reconnect; last try: ECONNREFUSED [^)]*\\); start the master again to resume the run \\(exit 4\\)$`,
      ),
    )
    expect(slave.stderr).not.toContain('    at ')
  })
})
