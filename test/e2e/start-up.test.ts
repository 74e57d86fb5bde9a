// What a master's start does beside itself: with cores to spare, local slaves of --spawn
// start with it (their Node, tsx and handler load while the master loads its modules and
// opens its run), and
// TypeScript modules load through one registration of tsx's hooks, sharing the process's
// modules. How long a start takes is the benchmark's business (bench/run.js, start-*), never
// asserted here.
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import {
  EXIT_OK,
  ROOT,
  cleanUp,
  expectEachKeyRan,
  fixture,
  masterArgs,
  run,
  sandbox,
  spawnArgs,
  startMaster,
  tempDir,
} from '../helpers/proc.js'
import { killHard, until } from '../helpers/reliability.js'

/** Whether process `pid` is still there (a zombie not yet reaped counts as gone). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
  } catch {
    return false
  }
  try {
    return !/^\S+ \(.*\) Z /.test(readFileSync(`/proc/${pid}/stat`, 'utf8'))
  } catch {
    return false
  }
}

afterEach(cleanUp)

describe("a master's start", () => {
  it('starts local slaves of --spawn before its jobs module has loaded, with a core to spare; they connect once it listens', async () => {
    // As on 4 cores: both start with the master (see earlySlaves), and its jobs module waits
    // for both to have loaded their handler. Jobs of 50 ms: the run lasts until both connect.
    const box = sandbox({
      TM_SLAVE_LOADED: tempDir(),
      TM_SLAVES: '2',
      TM_RECORD_DELAY_MS: '50',
      TM_CORES: '4',
      NODE_OPTIONS: `--import ${fixture('cores.mjs')}`,
    })
    const master = await run(
      join(ROOT, 'bin/tm-master.js'),
      [fixture('waits-for-slave.mjs'), 'n=20', ...masterArgs(box, 'early'), ...spawnArgs(2, fixture('slave-loaded.mjs')), '--quiet'],
      { env: box.env },
    )
    expect(master.exit, master.stderr).toEqual(EXIT_OK)
    expect(master.stdout).toMatch(/^Run 'early' complete: 20 jobs \(20 done, 0 failed\) in .* \(started in \d+\.\d\d s\)$/m)
    // Handed the master's address, the slaves connected at once: no retry, no warning.
    expect(master.stderr).not.toMatch(/No master|Cannot reach|went away/)
    expect(master.stderr.match(/^\[slave \d\] tm-slave\[\d+\]: Connected to the master at ws:\/\/127\.0\.0\.1:\d+ /gm)).toHaveLength(2)
    expectEachKeyRan(box.records, 20)
  })

  it('local slaves of --spawn end with their master: a master killed -9 leaves no slave behind', async () => {
    // Jobs of 50 ms: the run is under way at the kill. The slaves stay up between runs
    // (--spawn's slaves reconnect for good), so only their master's end can end them.
    const box = sandbox({ TM_RECORD_DELAY_MS: '50' })
    const { master } = await startMaster([fixture('range.mjs'), 'n=100000', ...masterArgs(box, 'orphans'), ...spawnArgs(2)], {
      env: box.env,
    })
    const pids = await Promise.all(
      [1, 2].map(async (n) => Number((await master.waitFor(new RegExp(`^\\[slave ${n}\\] tm-slave\\[(\\d+)\\]: Connected`, 'm')))[1])),
    )
    expect(pids.every(alive)).toBe(true)
    expect(await killHard(master)).toEqual({ code: null, signal: 'SIGKILL' })
    await until('both local slaves gone', () => !pids.some(alive))
  })

  it('loads TypeScript modules through one registration of tsx: what they import of this package is the instance already loaded', async () => {
    const loaded = await run(fixture('shares-package.mjs'), [fixture('package-keyset.ts'), fixture('slow-range.ts')], { cwd: ROOT })
    expect(loaded.exit, loaded.stderr).toEqual(EXIT_OK)
    expect(loaded.stdout).toBe('true function\n')
  })
})
