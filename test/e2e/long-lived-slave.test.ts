// A fleet that stays up between backfills: `tm-slave --reconnect 0` waits for a master
// forever, serves run after run, and stops cleanly on SIGTERM.
import { afterEach, describe, expect, it } from 'vitest'
import { EXIT_OK, MASTER_BIN, cleanUp, fixture, recordedKeys, run, sandbox, startSlave, tally } from '../helpers/proc.js'
import { portForLater } from '../helpers/reliability.js'

const RANGE = fixture('range.mjs')
const RECORD = fixture('record.mjs')

afterEach(cleanUp)

describe('a long-lived slave (--reconnect 0)', () => {
  it('waits for a master that is not there yet, serves two runs of two masters in turn, exits 0 on SIGTERM', async () => {
    const box = sandbox()
    const host = `127.0.0.1:${await portForLater()}`
    const slave = startSlave([RECORD, '--host', host, '--reconnect', '0'], { env: box.env })
    await slave.waitFor(`No master at ws://${host} yet`, 'stderr')

    const master = (key: string, n: number) =>
      run(MASTER_BIN, [RANGE, `n=${n}`, '--key', key, '--state-dir', box.stateDir, '--host', host, '--quiet'], { env: box.env })
    const first = await master('first', 300)
    expect(first.exit, first.stderr).toEqual(EXIT_OK)
    expect(first.stdout).toMatch(/^Run 'first' complete: 300 jobs \(300 done, 0 failed\)/m)
    await slave.waitFor(/The run is complete; waiting for the next master/, 'stderr')

    const second = await master('second', 200)
    expect(second.exit, second.stderr).toEqual(EXIT_OK)
    expect(second.stdout).toMatch(/^Run 'second' complete: 200 jobs \(200 done, 0 failed\)/m)
    await slave.waitFor(/The run is complete; waiting for the next master[^]*The run is complete; waiting for the next master/, 'stderr')

    slave.kill('SIGTERM')
    expect(await slave.exited).toEqual(EXIT_OK)

    // One slave did every job of both runs: 0-199 twice, 200-299 once.
    const counts = tally(recordedKeys(box.records))
    expect(counts.size).toBe(300)
    for (let id = 0; id < 300; id++) expect(counts.get(String(id)), `job ${id}`).toBe(id < 200 ? 2 : 1)
    // Said once that no master answered, then waited quietly; no warnings.
    const lines = slave.stderr.split('\n').filter((line) => line !== '')
    expect(lines.filter((line) => line.includes('No master at'))).toHaveLength(1)
    expect(lines.filter((line) => /Lost the master|Cannot reach/.test(line))).toEqual([])
  })

  it('without --reconnect 0 a slave still exits 0 when its run is complete', async () => {
    const box = sandbox()
    const host = `127.0.0.1:${await portForLater()}`
    const slave = startSlave([RECORD, '--host', host], { env: box.env })
    await slave.waitFor(`No master at ws://${host} yet`, 'stderr')
    const master = await run(MASTER_BIN, [RANGE, 'n=50', '--key', 'once', '--state-dir', box.stateDir, '--host', host, '--quiet'], {
      env: box.env,
    })
    expect(master.exit, master.stderr).toEqual(EXIT_OK)
    expect(await slave.exited).toEqual(EXIT_OK)
    expect(recordedKeys(box.records).sort((a, b) => Number(a) - Number(b))).toEqual(Array.from({ length: 50 }, (_, id) => String(id)))
  })
})
