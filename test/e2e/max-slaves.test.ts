// --max-slaves: a slave beyond the cap is refused with its own error code (TM_ERR_FULL,
// so a slave can tell "try again later" from a wrong token), the master says so once per
// burst, and the run goes on with the slaves it has.
import { writeFileSync } from 'node:fs'
import { hostname } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { CLOSE_CODE } from '../../src/protocol/constants.js'
import { EXIT_OK, cleanUp, expectEachKeyRan, fixture, masterArgs, sandbox, startMaster, startSlave } from '../helpers/proc.js'
import { RANGE, hello, linesMatching, rawExchange } from '../helpers/reliability.js'

afterEach(cleanUp)

const GATE = fixture('gate-record.mjs')
const N = 50

describe('--max-slaves', () => {
  it('refuses a slave beyond the cap with TM_ERR_FULL, says so once, and the first slave completes the run', async () => {
    const box = sandbox()
    const { master, host } = await startMaster([RANGE, `n=${N}`, ...masterArgs(box, 'full'), '--max-slaves', '1', '--quiet'], {
      env: box.env,
    })
    const first = startSlave([GATE, '--host', host], { env: box.env })
    await master.waitFor(
      new RegExp(`^slave ${hostname()}:${first.child.pid} \\(127\\.0\\.0\\.1:\\d+\\) connected \\(concurrency 1\\)$`, 'm'),
    )

    // Long-lived, so it outlives the run and is stopped by SIGTERM (exit 0) at the end.
    const second = startSlave([GATE, '--host', host, '--reconnect', '0'], { env: box.env })
    const refused = `^Refused slave ${hostname()}:${second.child.pid} \\(127\\.0\\.0\\.1:\\d+\\): the master already serves 1 slaves \\(--max-slaves 1\\); said once until a slave leaves, the run goes on$`
    await master.waitFor(new RegExp(refused, 'm'))

    // What a refused slave hears: an error with its own code, then a policy close.
    const raw = await rawExchange(`ws://${host}`, (ws) => ws.send(hello()))
    const message = 'The master is full: it serves at most 1 slaves (--max-slaves 1); try again later'
    expect(raw.messages).toEqual([{ type: 'error', code: 'TM_ERR_FULL', message }])
    expect(raw.code).toBe(CLOSE_CODE.policy)
    expect(raw.reason).toBe(message)

    // A master answered, if only "full": giving up after --reconnect is a failure (exit 1),
    // not "no master answered" (exit 4, the run may be over).
    const impatient = startSlave([GATE, '--host', host, '--reconnect', '1', '--quiet'], { env: box.env })
    expect(await impatient.exited, impatient.stderr).toEqual({ code: 1, signal: null })
    expect(impatient.stderr).toMatch(
      new RegExp(`^tm-slave: Cannot reach the master at ws://${host} for 1 s \\(--reconnect\\): ${message.replace(/[()]/g, '\\$&')}$`, 'm'),
    )

    writeFileSync(join(box.records, 'go'), '')
    expect(await master.exited).toEqual(EXIT_OK)
    expect(await first.exited).toEqual(EXIT_OK)
    expectEachKeyRan(box.records, N)
    // One line for the burst (the second slave and the raw one, and any retries).
    expect(linesMatching(master.stderr, /^Refused slave /)).toHaveLength(1)
    expect(master.stdout).toMatch(new RegExp(`^Run 'full' complete: ${N} jobs \\(${N} done, 0 failed\\)`, 'm'))
    // The refused slave is not refused for good: it says so once and keeps trying quietly.
    await second.waitFor(/The master is full/)
    second.kill('SIGTERM')
    expect(await second.exited, second.stderr).toEqual(EXIT_OK)
    expect(linesMatching(second.stderr, /full/)).toEqual([`tm-slave[${second.child.pid}]: ${message} (trying again quietly)`])
  })
})
