// Whole runs through the real commands: every job of the generator runs exactly once,
// whatever the number and kind of slaves, and the master reports it.
import { afterEach, describe, expect, it } from 'vitest'
import {
  EXIT_OK,
  MASTER_BIN,
  cleanUp,
  expectEachKeyRan,
  fixture,
  masterArgs,
  readCheckpoint,
  recordFiles,
  run,
  sandbox,
  spawnArgs,
  startMaster,
  startSlave,
} from '../helpers/proc.js'

const RANGE = fixture('range.mjs')
const RECORD = fixture('record.mjs')
const BARRIER_RECORD = fixture('barrier-record.mjs')

afterEach(cleanUp)

describe('a run', () => {
  it('runs 100,000 jobs across 3 tm-slave processes, each exactly once', async () => {
    // The barrier makes each slave hold its first job until all 3 have one.
    const box = sandbox({ TM_BARRIER: '3' })
    const { master, host } = await startMaster([RANGE, 'n=100000', ...masterArgs(box, 'big'), '--quiet'], { env: box.env })
    const slaves = [1, 2, 3].map(() => startSlave([BARRIER_RECORD, '--host', host], { env: box.env }))

    const [masterExit, ...slaveExits] = await Promise.all([master.exited, ...slaves.map((slave) => slave.exited)])
    expect(masterExit, master.stderr).toEqual(EXIT_OK)
    expect(slaveExits).toEqual([EXIT_OK, EXIT_OK, EXIT_OK])
    expect(master.stdout).toMatch(/^Run 'big' complete: 100000 jobs \(100000 done, 0 failed\)/m)
    expect(recordFiles(box.records)).toHaveLength(3)
    expectEachKeyRan(box.records, 100_000)
    expect(readCheckpoint(box, 'big')).toMatchObject({ complete: true, position: 100_000, last: 99_999, finished: [] })
  })

  it('runs with local slaves in one command (--spawn 2 --handler)', async () => {
    const box = sandbox({ TM_BARRIER: '2' })
    const master = await run(MASTER_BIN, [RANGE, 'n=2000', ...masterArgs(box, 'spawned'), ...spawnArgs(2, BARRIER_RECORD), '--quiet'], {
      env: box.env,
    })

    expect(master.exit, master.stderr).toEqual(EXIT_OK)
    expect(master.stdout).toMatch(/^Run 'spawned' complete: 2000 jobs \(2000 done, 0 failed\)/m)
    expect(recordFiles(box.records)).toHaveLength(2)
    expectEachKeyRan(box.records, 2000)
  })

  it('loads a TypeScript jobs module and hands it the name=value arguments', async () => {
    const box = sandbox()
    // slow-range.ts yields n jobs, 100 without n.
    const master = await run(MASTER_BIN, [fixture('slow-range.ts'), 'n=7', ...masterArgs(box, 'ts'), ...spawnArgs(1), '--quiet'], {
      env: box.env,
    })

    expect(master.exit, master.stderr).toEqual(EXIT_OK)
    expect(master.stdout).toMatch(/^Run 'ts' complete: 7 jobs \(7 done, 0 failed\)/m)
    expectEachKeyRan(box.records, 7)
    expect(readCheckpoint(box, 'ts')).toMatchObject({ complete: true, position: 7, last: 6, args: { n: '7' } })
  })

  it('tm-slave --procs 2 starts two slave processes that both take jobs', async () => {
    const box = sandbox({ TM_BARRIER: '2' })
    const { master, host } = await startMaster([RANGE, 'n=2000', ...masterArgs(box, 'procs'), '--quiet'], { env: box.env })
    const slave = startSlave([BARRIER_RECORD, '--host', host, '--procs', '2'], { env: box.env })

    const [masterExit, slaveExit] = await Promise.all([master.exited, slave.exited])
    expect(masterExit, master.stderr).toEqual(EXIT_OK)
    expect(slaveExit, slave.stderr).toEqual(EXIT_OK)
    expect(recordFiles(box.records)).toHaveLength(2)
    expect(recordFiles(box.records)).not.toContain(`record-${slave.child.pid}.txt`)
    expectEachKeyRan(box.records, 2000)
  })

  it('prints plain status lines, without escape codes, when stdout is not a terminal', async () => {
    const box = sandbox()
    const { master, host } = await startMaster([RANGE, 'n=50', ...masterArgs(box, 'status'), '--status-interval', '0.2'], { env: box.env })
    // No slave yet, so the run cannot end before two status lines are out.
    await master.waitFor(/^done [^\n]*\n[\s\S]*^done [^\n]*\n/m, 'stdout')
    const slave = startSlave([RECORD, '--host', host], { env: box.env })

    const [masterExit, slaveExit] = await Promise.all([master.exited, slave.exited])
    expect(masterExit, master.stderr).toEqual(EXIT_OK)
    expect(slaveExit).toEqual(EXIT_OK)
    const lines = master.stdout.split('\n').filter((line) => line !== '')
    const status = lines.filter((line) => line.startsWith('done '))
    expect(status.length).toBeGreaterThanOrEqual(2)
    for (const line of status)
      expect(line).toMatch(
        /^done \d+ \| [\d.]+\/s \| elapsed \d+:\d\d:\d\d \| failed 0 \| finished through #\d+(, key \d+)? \| in flight \d+ \| queued \d+ \| slaves [01] \| master cpu \d+ %, rss [\d.]+ (B|KiB|MiB|GiB), net in [\d.]+ (B|KiB|MiB|GiB), net out [\d.]+ (B|KiB|MiB|GiB)$/,
      )
    expect(status.at(-1)).toMatch(
      /^done 50 \| [\d.]+\/s \| elapsed \d+:\d\d:\d\d \| failed 0 \| finished through #50, key 49 \| in flight 0 \| queued 0 \| slaves 0 \| master cpu \d+ %, rss [\d.]+ (B|KiB|MiB|GiB), net in [\d.]+ (B|KiB|MiB|GiB), net out [\d.]+ (B|KiB|MiB|GiB)$/,
    )
    expect(lines.filter((line) => !line.startsWith('done '))).toEqual([
      // The start, from launch to listening, said when it listens.
      expect.stringMatching(new RegExp(`^Taskmaster server running on '${host.replace(/\./g, '\\.')}' \\(started in \\d+\\.\\d\\d s\\)$`)),
      `Status page: http://${host}/`,
      expect.stringMatching(
        /^Run 'status' complete: 50 jobs \(50 done, 0 failed\) in \d+:\d\d:\d\d, [\d.]+ jobs\/s \(started in \d+\.\d\d s\)$/,
      ),
    ])
    expect(master.stdout + master.stderr).not.toContain('\x1b')
  })
})
