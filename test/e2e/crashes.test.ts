// Processes that hang, die or restart: a silent slave is dropped by heartbeat and its
// jobs go to another; slaves ride out a master restart; a checkpoint that cannot be
// written stops the master without touching the previous one.
import { existsSync, mkdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { Journal } from '../../src/master/state/file/journal.js'
import type { Proc, Sandbox } from '../helpers/proc.js'
import { expectEachKeyRan, fixture, masterArgs, readCheckpoint, sandbox, startMaster, startSlave } from '../helpers/proc.js'
import {
  FAULTY,
  RANGE,
  RECORD,
  attemptsByJob,
  expectEachKeyAtLeastOnce,
  expectRunEnds,
  freeze,
  killHard,
  linesMatching,
  recordedCount,
  tearDown,
  until,
} from '../helpers/reliability.js'

afterEach(tearDown)

/** Seconds between the master's pings in the heartbeat tests. */
const HEARTBEAT = 0.5
/** The master's log line for a slave it dropped for want of pongs (two heartbeats). */
const droppedLine = (slave: Proc): RegExp =>
  new RegExp(`^Dropped slave [^:\\s]+:${slave.child.pid} \\(127\\.0\\.0\\.1:\\d+\\): no heartbeat for ${2 * HEARTBEAT} s$`, 'm')
/** The master's log line for a slave gone with `jobs` of its jobs in flight. */
const requeuedLine = (slave: Proc, jobs: string): RegExp =>
  new RegExp(
    `^slave [^:\\s]+:${slave.child.pid} \\(127\\.0\\.0\\.1:\\d+\\) disconnected \\(code 1006\\); ${jobs} jobs in flight go back to the buffer$`,
    'm',
  )

describe('heartbeats', () => {
  it('drop a slave that stops answering (SIGSTOP) while it holds jobs; another slave finishes every job', async () => {
    const N = 300
    const box = sandbox()
    const { master, host } = await startMaster(
      [RANGE, `n=${N}`, ...masterArgs(box, 'frozen'), '--heartbeat', String(HEARTBEAT), '--quiet'],
      { env: box.env },
    )
    // Concurrency 2, prefetch 2: it holds up to 4 jobs; at 50 ms a job, it is never idle.
    const frozen = startSlave([RECORD, '--host', host, '--concurrency', '2', '--prefetch', '2'], {
      env: { ...box.env, TM_RECORD_DELAY_MS: '50' },
    })
    await until('the first slave to record 3 jobs', () => recordedCount(box.records) >= 3, 10_000)
    freeze(frozen)

    await master.waitFor(droppedLine(frozen))
    await master.waitFor(requeuedLine(frozen, '[1-4]'))
    const helper = startSlave([RECORD, '--host', host, '--concurrency', '4'], { env: box.env })

    await expectRunEnds(master, [helper])
    expect(master.stdout).toMatch(new RegExp(`^Run 'frozen' complete: ${N} jobs \\(${N} done, 0 failed\\)`, 'm'))
    // Nothing lost; repeated at most: the jobs the frozen slave ran but had not reported.
    expect(expectEachKeyAtLeastOnce(box.records, N)).toBeLessThanOrEqual(4)
    expect(await killHard(frozen)).toEqual({ code: null, signal: 'SIGKILL' })
  })

  it('keep a slave whose slow sync jobs hold its event loop: it answers the pings between jobs', async () => {
    // 300 jobs of 15 ms held at once: a slave that ran them back to back without serving
    // its socket would be silent for 4.5 s, past the 2 s (two heartbeats of 1 s) the master
    // allows; one that yields between jobs answers with a margin a loaded machine keeps.
    const N = 300
    const box = sandbox()
    const { master, host } = await startMaster([RANGE, `n=${N}`, ...masterArgs(box, 'busy'), '--heartbeat', '1', '--quiet'], {
      env: box.env,
    })
    const slave = startSlave([fixture('sync-busy.mjs'), '--host', host, '--concurrency', '1', '--prefetch', String(N)], { env: box.env })
    await expectRunEnds(master, [slave])
    expect(master.stderr).not.toContain('Dropped')
    expect(master.stdout).toMatch(new RegExp(`^Run 'busy' complete: ${N} jobs \\(${N} done, 0 failed\\)`, 'm'))
    expectEachKeyRan(box.records, N)
  })

  it('drop a slave whose handler blocks its event loop forever; that job counts an attempt and runs on another slave', async () => {
    const N = 20
    const SPIN = 5
    const box = sandbox()
    const { master, host } = await startMaster([RANGE, `n=${N}`, ...masterArgs(box, 'spin'), '--heartbeat', String(HEARTBEAT), '--quiet'], {
      env: box.env,
    })
    // No prefetch: job 5 is the only job it holds when it gets stuck.
    const stuck = startSlave([FAULTY, '--host', host, '--prefetch', '0'], { env: { ...box.env, TM_SPIN_IDS: String(SPIN) } })
    await until('the stuck slave to start job 5', () => attemptsByJob(box.records).has(SPIN), 10_000)

    await master.waitFor(droppedLine(stuck))
    await master.waitFor(requeuedLine(stuck, '1'))
    const helper = startSlave([FAULTY, '--host', host], { env: box.env })

    await expectRunEnds(master, [helper])
    expect(attemptsByJob(box.records).get(SPIN)).toEqual([1, 2])
    expectEachKeyRan(box.records, N)
    expect(await killHard(stuck)).toEqual({ code: null, signal: 'SIGKILL' })
  })
})

describe('a master restart', () => {
  const N = 4000
  const C = 4

  /**
   * Two slaves (concurrency C, prefetch C) working for a master; once a quarter of the
   * jobs is recorded the master gets `signal`, then it is started again with the same key
   * and port and the run goes to its end.
   */
  async function restartMidRun(box: Sandbox, key: string, signal: NodeJS.Signals) {
    const argsAt = (host: string): string[] => [RANGE, `n=${N}`, '--key', key, '--state-dir', box.stateDir, '--host', host, '--quiet']
    // The first master binds port 0; the second reuses the port it printed, where the slaves look for it.
    const { master: first, host: address } = await startMaster(argsAt('127.0.0.1:0'), { env: box.env })
    const args = argsAt(address)
    const slaves = [1, 2].map(() =>
      startSlave([RECORD, '--host', address, '--concurrency', String(C), '--prefetch', String(C)], { env: box.env }),
    )
    await until('a quarter of the jobs to be recorded', () => recordedCount(box.records) >= N / 4)
    first.kill(signal)
    const firstExit = await first.exited
    await Promise.all(
      slaves.map((slave) =>
        slave.waitFor(
          /^tm-slave\[\d+\]: (Lost the master \(.+\); reconnecting|The master stopped; waiting for it to come back)/m,
          'stderr',
        ),
      ),
    )

    const second = (await startMaster(args, { env: box.env })).master
    await expectRunEnds(second, slaves)
    expect(second.stdout).toMatch(
      new RegExp(`^Run '${key}' complete: \\d+ jobs \\(\\d+ done, 0 failed(, \\d+ skipped as already done)?\\)`, 'm'),
    )
    expect(readCheckpoint(box, key)).toMatchObject({ complete: true, position: N, counts: { failed: 0 } })
    // The same slave processes worked for both incarnations.
    for (const slave of slaves) {
      expect(slave.stderr).toContain('The master restarted; working for its new incarnation\n')
      expect(linesMatching(slave.stderr, /Connected to the master at ws:\/\//)).toHaveLength(2)
      expect(second.stderr).toMatch(
        new RegExp(`^slave [^:\\s]+:${slave.child.pid} \\(127\\.0\\.0\\.1:\\d+\\) connected \\(concurrency ${C}\\)$`, 'm'),
      )
    }
    return { first, firstExit, slaves }
  }

  it('kill -9: the slaves reconnect to the new master, nothing is lost, repeats only jobs in flight', async () => {
    const box = sandbox({ TM_RECORD_DELAY_MS: '2' })
    const { firstExit, slaves } = await restartMidRun(box, 'killed', 'SIGKILL')

    expect(firstExit).toEqual({ code: null, signal: 'SIGKILL' })
    for (const slave of slaves) expect(slave.stderr).toMatch(/Lost the master \(code 1006\)/)
    expect(expectEachKeyAtLeastOnce(box.records, N)).toBeLessThanOrEqual(2 * (C + C))
  })

  it('SIGINT: the master drains, the slaves reconnect to the new one, and no job runs twice', async () => {
    const box = sandbox({ TM_RECORD_DELAY_MS: '2' })
    const { first, firstExit, slaves } = await restartMidRun(box, 'interrupted', 'SIGINT')

    expect(firstExit, first.stderr).toEqual({ code: 130, signal: null })
    expect(first.stdout).toMatch(/^Run 'interrupted' stopped: /m)
    for (const slave of slaves) expect(slave.stderr).toContain('The master stopped; waiting for it to come back (up to 60 s)\n')
    expectEachKeyRan(box.records, N)
  })
})

describe('a master killed -9 while a job holds the watermark back', () => {
  it('resumes at the watermark, skips exactly the jobs finished beyond it, and runs the held job again', async () => {
    const N = 50
    const HELD = 5
    const box = sandbox({ TM_HANG_IDS: String(HELD) })
    const argsAt = (host: string): string[] => [RANGE, `n=${N}`, '--key', 'held', '--state-dir', box.stateDir, '--host', host, '--quiet']
    // The first master binds port 0; the second reuses the port it printed (the same address as before the kill).
    const { master: first, host: address } = await startMaster(argsAt('127.0.0.1:0'), { env: box.env })
    const args = argsAt(address)
    // Two lanes, no prefetch: one hangs on job 5, the other runs every other job.
    const stuck = startSlave([FAULTY, '--host', address, '--concurrency', '2', '--prefetch', '0'], { env: box.env })
    // The finished jobs beyond the watermark are durable once the journal or a checkpoint lists them.
    const beyond = (): number[] => {
      const checkpoint = existsSync(join(box.stateDir, 'held.json'))
        ? (readCheckpoint(box, 'held').finished as [number, number][]).map(([seq]) => seq)
        : []
      return [...new Set([...checkpoint, ...Journal.read(join(box.stateDir, 'held.journal')).seqs])]
        .filter((seq) => seq > HELD)
        .sort((a, b) => a - b)
    }
    await until('every job but the held one to be finished and recorded', () => beyond().length === N - HELD - 1, 20_000)
    expect(beyond()).toEqual(Array.from({ length: N - HELD - 1 }, (_, i) => HELD + 1 + i))
    expect(await killHard(first)).toEqual({ code: null, signal: 'SIGKILL' })
    expect(await killHard(stuck)).toEqual({ code: null, signal: 'SIGKILL' })

    const second = (await startMaster(args, { env: box.env })).master
    const helper = startSlave([FAULTY, '--host', address], { env: { ...box.env, TM_HANG_IDS: '' } })
    await expectRunEnds(second, [helper])
    expect(second.stdout).toMatch(
      new RegExp(`^Run 'held' complete: 1 jobs \\(1 done, 0 failed, ${N - HELD - 1} skipped as already done\\)`, 'm'),
    )
    expect(readCheckpoint(box, 'held')).toMatchObject({
      complete: true,
      position: N,
      last: N - 1,
      finished: [],
      counts: { done: N, failed: 0 },
    })
    expect(attemptsByJob(box.records).get(HELD)).toEqual([1, 1])
    expectEachKeyRan(box.records, N)
  })
})

describe('an unwritable state dir', () => {
  it('stops the master with exit 1 and a message, and leaves the previous checkpoint intact', async () => {
    const box = sandbox({ TM_RECORD_DELAY_MS: '5' })
    const { master, host } = await startMaster([RANGE, 'n=5000', ...masterArgs(box, 'unwritable'), '--quiet'], { env: box.env })
    startSlave([RECORD, '--host', host, '--concurrency', '2'], { env: box.env })
    const checkpoint = join(box.stateDir, 'unwritable.json')
    await until('the first checkpoint', () => existsSync(checkpoint))

    // A directory where the checkpoint's temp file goes: the atomic write fails, even as
    // root. Once it is made, no write of the checkpoint is under way (one holds the path).
    await until('the temp path to be free for a directory', () => {
      try {
        mkdirSync(`${checkpoint}.tmp`)
        return true
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false
        throw error
      }
    })
    const previous = readFileSync(checkpoint, 'utf8')

    const exit = await master.exited
    expect(exit, master.stderr).toEqual({ code: 1, signal: null })
    const escaped = checkpoint.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
    expect(linesMatching(master.stderr, /^tm-master: /)).toEqual([
      expect.stringMatching(new RegExp(`^tm-master: Cannot write checkpoint '${escaped}': EISDIR: .*; the previous checkpoint is intact$`)),
    ])
    expect(readFileSync(checkpoint, 'utf8')).toBe(previous)
    expect(JSON.parse(previous)).toMatchObject({ key: 'unwritable', complete: false })
  })
})
