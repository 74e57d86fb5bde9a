// The run's lock under contention: processes that find the same stale lock (its master
// was killed) at the same moment must not both take it over.
import { readFileSync, writeFileSync } from 'node:fs'
import { hostname } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { MASTER_BIN, Proc, fixture, masterArgs, sandbox, tempDir } from '../helpers/proc.js'
import { RANGE, tearDown } from '../helpers/reliability.js'
import { deadPid } from '../unit/support.js'

afterEach(tearDown)

const RACER = fixture('lock-racer.mjs')
const MASTER_AT = fixture('master-at.mjs')
const inUse = (key: string, pid: number, path: string): string =>
  `Run '${key}' is in use by master pid ${pid} on ${hostname()} (lock file '${path}'); stop it first, or delete the lock file if that master is gone`

describe('a stale lock found by several processes at once', () => {
  it('is taken over by exactly one of them in every round; the others are told who holds it', async () => {
    const RACERS = 3
    const ROUNDS = 60
    const dir = tempDir()
    const dead = deadPid()
    for (let r = 0; r < ROUNDS; r++)
      writeFileSync(
        join(dir, `round-${r}.lock`),
        JSON.stringify({ pid: dead, hostname: hostname(), since: '2024-01-01T00:00:00.000Z' }) + '\n',
      )
    // Every racer leaves the barrier of round r at the same instant.
    const startAt = Date.now() + 4000
    const racers = Array.from({ length: RACERS }, () => new Proc(RACER, [dir, String(ROUNDS), String(startAt), '25']))
    await Promise.all(racers.map((racer) => racer.waitFor(/^done$/m, 'stdout')))

    const wrong: string[] = []
    for (let r = 0; r < ROUNDS; r++) {
      const path = join(dir, `round-${r}.lock`)
      const outcomes = racers.map((racer) => racer.stdout.split('\n').find((line) => line.startsWith(`${r} `))!)
      const winners = racers.filter((_, i) => outcomes[i] === `${r} won`)
      if (winners.length !== 1) {
        wrong.push(`round ${r}: ${winners.length} winners`)
        continue
      }
      const winner = winners[0].child.pid!
      const holder = JSON.parse(readFileSync(path, 'utf8')) as { pid: number }
      if (holder.pid !== winner) wrong.push(`round ${r}: the lock names pid ${holder.pid}, the winner is ${winner}`)
      for (const outcome of outcomes)
        if (outcome !== `${r} won` && outcome !== `${r} lost: ${inUse(`round-${r}`, winner, path)}`) wrong.push(`round ${r}: ${outcome}`)
    }
    expect(wrong).toEqual([])
  })
})

describe('two masters started at once on a key whose lock is stale', () => {
  it('exactly one listens; the other exits 2 naming it', async () => {
    const ROUNDS = 5
    for (let round = 0; round < ROUNDS; round++) {
      const box = sandbox()
      const key = `stale-${round}`
      const lock = join(box.stateDir, `${key}.lock`)
      // A master killed with -9 left its lock behind.
      const first = new Proc(MASTER_BIN, [RANGE, 'n=10', ...masterArgs(box, key), '--quiet'])
      await first.waitFor("Taskmaster server running on '")
      first.kill('SIGKILL')
      await first.exited

      // Both load everything first, then reach the lock in the same millisecond.
      const startAt = String(Date.now() + 3000)
      const masters = [0, 1].map(() => new Proc(MASTER_AT, [startAt, RANGE, 'n=10', ...masterArgs(box, key), '--quiet']))
      // Each master either listens (and runs until stopped) or exits on its own.
      const outcomes = await Promise.all(
        masters.map((master) =>
          Promise.race([
            master.waitFor("Taskmaster server running on '").then(
              () => 'listens',
              () => 'exits',
            ),
            master.exited.then(() => 'exits'),
          ]),
        ),
      )
      expect(outcomes.sort(), `round ${round}`).toEqual(['exits', 'listens'])
      const loser = masters.findIndex((master) => !master.stdout.includes('Taskmaster server running'))
      const winner = masters[1 - loser]
      expect(masters[loser].stdout).not.toContain('Taskmaster server running')
      expect(await masters[loser].exited).toEqual({ code: 2, signal: null })
      expect(masters[loser].stderr).toBe(`tm-master: ${inUse(key, winner.child.pid!, lock)}\n`)
      expect((JSON.parse(readFileSync(lock, 'utf8')) as { pid: number }).pid).toBe(winner.child.pid)
      winner.kill('SIGTERM')
      expect(await winner.exited).toEqual({ code: 143, signal: null })
    }
  })
})
