// A slave that arrives after its run is over. It cannot tell "no master yet" from "the
// run is over", so whoever starts slaves that may outlive the run (the chaos test's
// replacements, the benchmark's second slave on a busy machine) starts them long-lived
// (--reconnect 0) and stops them with SIGTERM once the master has exited: every slave
// then exits 0, however late it came.
import { afterEach, describe, expect, it } from 'vitest'
import { EXIT_OK, expectEachKeyRan, masterArgs, sandbox, startMaster, startSlave } from '../helpers/proc.js'
import { RANGE, RECORD, expectRunEndsThenStop, stopLongLived, tearDown } from '../helpers/reliability.js'

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
})
