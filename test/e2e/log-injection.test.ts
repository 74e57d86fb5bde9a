import { afterEach, describe, expect, it } from 'vitest'
import { CTL_BIN, EXIT_OK, cleanUp, fixture, masterArgs, run, sandbox, spawnArgs, startMaster } from '../helpers/proc.js'
import type { RunStatus } from '../../src/index.js'
import { statusReader } from '../helpers/poll.js'
import { hello, rawExchange } from '../helpers/reliability.js'

// User-supplied strings (a slave's host name, a throttle's reason, a job's key, a
// handler's error) never forge a line or a terminal escape in what the master and tm-ctl
// print: their control characters are printed escaped (\n, \x1b).

afterEach(cleanUp)

const FORGED = "\nRun 'x' complete\x1b[2J\x1b[31m\r\u009b"
/** FORGED as it is printed. */
const ESCAPED = "\\nRun 'x' complete\\u001b[2J\\u001b[31m\\r\\u009b"

/** Asserts `text` has no forged line and no control character but its line ends. */
function expectNoForgery(text: string): void {
  expect(text.split('\n').filter((line) => line.startsWith("Run 'x'"))).toEqual([])
  expect(text).not.toMatch(/[\x00-\x09\x0b-\x1f\x7f-\x9f]/)
}

describe('log lines', () => {
  it("escape the control characters of a slave's host name, a throttle's reason, a job's key and its error", async () => {
    const box = sandbox()
    const forged = fixture('forged.mjs')
    const { master, host } = await startMaster(
      [forged, 'n=10', ...masterArgs(box, 'forged'), ...spawnArgs(1, forged), '--throttle', forged, '--retries', '0', '--paused'],
      { env: box.env },
    )
    await master.waitFor('Controls: throttled: busy')
    // A raw client names itself with the forged text; tm-ctl shows it while it is connected.
    let shown!: () => void
    const raw = rawExchange(`ws://${host}`, (ws) => {
      ws.send(hello({ slave: { id: 'raw', hostname: `evil${FORGED}`, pid: 1, concurrency: 1 } }))
      shown = () => ws.close()
    })
    await statusReader().statusWhere(host, 'the raw client in the slaves', (doc) =>
      doc.slaves.some((slave) => slave.hostname.startsWith('evil')),
    )
    const status = await run(CTL_BIN, ['status', '--host', host])
    expect(status.exit, status.stderr).toEqual(EXIT_OK)
    expectNoForgery(status.stdout)
    expect(status.stdout).toContain(`evil${ESCAPED}:1`)
    const json = await run(CTL_BIN, ['status', '--host', host, '--json'])
    expectNoForgery(json.stdout)
    expect((JSON.parse(json.stdout) as RunStatus).slaves.map((slave) => slave.hostname)).toContain(`evil${FORGED}`)
    shown()
    await raw
    await fetch(`http://${host}/resume`, { method: 'POST' })
    expect(await master.exited, master.stderr).toEqual({ code: 1, signal: null })
    // A throttle's reason and a thrown error are one line at the user-code boundary (their first
    // line, control characters as spaces): what follows the newline is not printed at all.
    expect(master.stderr).toContain(`Controls: throttled: busy\n`)
    expect(master.stderr).toContain(`slave evil${ESCAPED}:1 (127.0.0.1:`)
    expect(master.stderr).toContain(`Job key${ESCAPED} failed after 1 attempts: broken\n`)
    expect(master.stdout).toMatch(/^Run 'forged' complete: 11 jobs \(10 done, 1 failed\)/m)
    expectNoForgery(master.stdout)
    expectNoForgery(master.stderr)
  })
})
