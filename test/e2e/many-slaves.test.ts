// A thousand slave connections on one master: 4 processes of 250 library Slaves each
// (concurrency 1, a 50 ms handler), 20,000 jobs. Every job runs exactly once, every
// connection gets work, and the run completes. Rates belong in the bench (1000-slaves).
import { readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { EXIT_OK, Proc, cleanUp, expectEachKeyRan, fixture, masterArgs, sandbox, startMaster } from '../helpers/proc.js'

afterEach(cleanUp)

const PROCESSES = 4
const PER_PROCESS = 250
const N = 20_000

describe('many slaves', () => {
  it('serves 1,000 connections: every job exactly once, every connection gets work, the run completes', async () => {
    const box = sandbox()
    const gate = join(box.records, 'go')
    const { master, host } = await startMaster(
      [fixture('gated-range.mjs'), `n=${N}`, `gate=${gate}`, ...masterArgs(box, 'many'), '--quiet'],
      { env: box.env },
    )
    const fleet = Array.from(
      { length: PROCESSES },
      () => new Proc(fixture('many-slaves.mjs'), [host, String(PER_PROCESS)], { env: box.env }),
    )
    // The whole fleet is connected before the first job exists: none can miss the work.
    await Promise.all(fleet.map((proc) => proc.waitFor(`${PER_PROCESS} connections welcomed`, 'stdout')))
    writeFileSync(gate, '')

    expect(await master.exited, master.stderr).toEqual(EXIT_OK)
    for (const proc of fleet) {
      expect(await proc.exited, proc.stderr).toEqual(EXIT_OK)
      expect(proc.stdout).toContain('ended: complete\n')
    }
    expect(master.stdout).toMatch(/^Run 'many' complete: 20000 jobs \(20000 done, 0 failed\)/m)
    expect(master.stderr).not.toMatch(/Dropped|Refused|Too many connections|Cannot accept/)
    expectEachKeyRan(box.records, N)

    const counts = readdirSync(box.records)
      .filter((file) => file.startsWith('counts-'))
      .flatMap((file) => JSON.parse(readFileSync(join(box.records, file), 'utf8')) as number[])
    expect(counts).toHaveLength(PROCESSES * PER_PROCESS)
    expect(counts.reduce((a, b) => a + b, 0)).toBe(N)
    expect(
      counts.filter((jobs) => jobs === 0),
      'connections that got no job',
    ).toEqual([])
  }, 180_000)
})
