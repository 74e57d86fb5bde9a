// A handler module's setup / teardown and the run's arguments on the slave side:
// setup once per run before the first job (args from the master, concurrency, batch),
// its state in every call, teardown at the end of the run and on a graceful stop; a
// setup that throws ends the slave with exit 2 and one line, before any job.
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import {
  EXIT_OK,
  MASTER_BIN,
  expectEachKeyRan,
  fixture,
  masterArgs,
  run,
  sandbox,
  spawnArgs,
  startMaster,
  startSlave,
} from '../helpers/proc.js'
import { RANGE, portForLater, tearDown, until } from '../helpers/reliability.js'

afterEach(tearDown)

const LIFE = fixture('lifecycle-record.mjs')

/** The lines of the files named `<prefix>-*.txt` in `dir`, per file. */
function linesOf(dir: string, prefix: string): string[][] {
  return readdirSync(dir)
    .filter((file) => file.startsWith(`${prefix}-`))
    .map((file) =>
      readFileSync(join(dir, file), 'utf8')
        .split('\n')
        .filter((line) => line !== ''),
    )
}

describe('setup and teardown', () => {
  it("setup runs once with the master's args, its state reaches every call, teardown runs at the end of the run", async () => {
    const box = sandbox()
    const result = await run(
      MASTER_BIN,
      [RANGE, 'n=50', 'table=posts', ...masterArgs(box, 'life'), ...spawnArgs(1, LIFE), '--concurrency', '3', '--quiet'],
      { env: box.env },
    )
    expect(result.exit, result.stderr).toEqual(EXIT_OK)
    expect(linesOf(box.records, 'lifecycle')).toEqual([['setup {"n":"50","table":"posts"} concurrency=3 batch=1', 'teardown state1']])
    const seen = linesOf(box.records, 'seen').flat()
    expect(seen).toHaveLength(50)
    expect(seen.every((line) => line.endsWith(' state1 50'))).toBe(true)
    expectEachKeyRan(box.records, 50)
  })

  it('teardown runs on a graceful stop of the slave (SIGINT)', async () => {
    const box = sandbox({ TM_RECORD_DELAY_MS: '5' })
    const { host } = await startMaster([RANGE, 'n=100000', ...masterArgs(box, 'stop')], { env: box.env })
    const slave = startSlave([LIFE, '--host', host, '--batch', '10'], { env: box.env })
    await slave.waitFor(/Connected to the master/, 'stderr')
    await until('the slave to run a job', () => linesOf(box.records, 'seen').flat().length > 0)
    slave.kill('SIGINT')
    expect(await slave.exited, slave.stderr).toEqual({ code: 130, signal: null })
    expect(linesOf(box.records, 'lifecycle')).toEqual([['setup {"n":"100000"} concurrency=1 batch=1', 'teardown state1']])
  })

  it('a setup that throws: the slave exits 2 with one line and takes no job', async () => {
    const box = sandbox({ TM_SETUP_THROW: 'cannot reach the database\nat some place' })
    const { master, host } = await startMaster([RANGE, 'n=10', ...masterArgs(box, 'nosetup'), '--status-interval', '0.2'], { env: box.env })
    const slave = startSlave([LIFE, '--host', host, '--quiet'], { env: box.env })
    expect(await slave.exited).toEqual({ code: 2, signal: null })
    // One line: the first of the message, and where the setup threw.
    expect(slave.stderr).toMatch(
      /^tm-slave: The handler's setup failed: cannot reach the database \(at test\/fixtures\/lifecycle-record\.mjs:\d+\)\n$/,
    )
    expect(linesOf(box.records, 'seen')).toEqual([])
    await master.waitFor(/(?:^|\| )done 0\b/m, 'stdout')
    expect(master.stdout).not.toMatch(/(?:^|\| )done [1-9]/m)
  })

  it('a long-lived slave (--reconnect 0) sets up each run with its args and tears each down at its end', async () => {
    const box = sandbox()
    const host = `127.0.0.1:${await portForLater()}`
    const slave = startSlave([LIFE, '--host', host, '--reconnect', '0'], { env: box.env })
    const master = (key: string, n: number) =>
      run(MASTER_BIN, [RANGE, `n=${n}`, '--key', key, '--state-dir', box.stateDir, '--host', host, '--quiet'], { env: box.env })
    expect((await master('first', 30)).exit).toEqual(EXIT_OK)
    await slave.waitFor(/The run is complete; waiting for the next master/, 'stderr')
    expect((await master('second', 20)).exit).toEqual(EXIT_OK)
    await slave.waitFor(/The run is complete; waiting for the next master[^]*The run is complete; waiting for the next master/, 'stderr')
    slave.kill('SIGTERM')
    expect(await slave.exited).toEqual(EXIT_OK)
    expect(linesOf(box.records, 'lifecycle')).toEqual([
      ['setup {"n":"30"} concurrency=1 batch=1', 'teardown state1', 'setup {"n":"20"} concurrency=1 batch=1', 'teardown state2'],
    ])
    const seen = linesOf(box.records, 'seen').flat()
    expect(seen.filter((line) => line.endsWith(' state1 30'))).toHaveLength(30)
    expect(seen.filter((line) => line.endsWith(' state2 20'))).toHaveLength(20)
  })
})
