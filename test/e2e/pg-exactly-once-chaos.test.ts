// Exactly-once writes (taskmaster-run/pg's exactlyOnce) through chaos, bounded and
// reproducible: a table whose handler adds 1 to `touched` of each row it is given (a counter
// counts every run of a row, where an idempotent UPDATE would hide them), while the master
// and the slaves are killed -9 and PostgreSQL is restarted (a crash, and a clean shutdown),
// in an order and at points of progress drawn from a seeded generator, every process started
// again after. Each state store: files, and PostgreSQL (the same server: its restart takes the
// master's store down too, and the master is started again). At the end every row is touched
// exactly once and the claims are gone. At least once alone (the same handler without
// exactlyOnce, TM_PLAIN=1) touched rows twice here: see the report of the change.
import { afterEach, describe, expect, it } from 'vitest'
import { POSTGRES_MISSING, usePostgres } from '../helpers/postgres.js'
import type { Postgres } from '../helpers/postgres.js'
import { MASTER_BIN, Proc, sandbox, startSlave } from '../helpers/proc.js'
import { TOUCH, TOUCH_JOBS, expectEachOnce, touchTable, touchedRows } from '../helpers/touch.js'
import { killHard, portForLater, seeded, shuffle, stopLongLived, tearDown, until } from '../helpers/reliability.js'

// In CI PostgreSQL must be there (.ci/run installs it): fail loudly rather than skip.
if (POSTGRES_MISSING !== undefined && process.env.CI) {
  it('PostgreSQL is installed', () => {
    throw new Error(POSTGRES_MISSING)
  })
}

const N = 40_000
const SLAVES = 2
const BATCH = 50
/** Each batch's transaction stays open this long after its UPDATE: kills land inside transactions. */
const HOLD_MS = 20
const SEED = 0x0ce

type Event = 'kill master' | 'kill slave' | 'restart postgres (crash)' | 'restart postgres (fast)'
const EVENTS: Event[] = [
  'kill master',
  'kill master',
  'kill master',
  'kill slave',
  'kill slave',
  'kill slave',
  'restart postgres (crash)',
  'restart postgres (fast)',
]

/** The events in a seeded order, one in each of equal slices of rows 8 %..80 %, at a random point of it. */
function plan(random: () => number): { at: number; event: Event }[] {
  const events = shuffle([...EVENTS], random)
  const slice = (0.72 * N) / events.length
  return events.map((event, i) => ({ at: Math.round(0.08 * N + i * slice + random() * slice * 0.6), event }))
}

describe.skipIf(POSTGRES_MISSING !== undefined)(
  `exactly-once writes through chaos${POSTGRES_MISSING ? ` (skipped: ${POSTGRES_MISSING})` : ''}`,
  () => {
    const postgres = usePostgres()

    afterEach(tearDown)

    async function chaos(server: Postgres, store: 'files' | 'postgres', key: string): Promise<void> {
      const url = server.url
      await touchTable(url, 'touch', N)
      const box = sandbox({ TM_PG_TABLE: 'touch', TM_TOUCH_DELAY_MS: String(HOLD_MS) })
      const host = `127.0.0.1:${await portForLater()}`
      const stateArgs = store === 'files' ? ['--state-dir', box.stateDir] : ['--state-store', url]
      const startMaster = (): Proc =>
        new Proc(MASTER_BIN, [TOUCH_JOBS, `db=${url}`, '--key', key, ...stateArgs, '--host', host, '--heartbeat', '0.5', '--quiet'], {
          env: box.env,
        })
      const startOne = (): Proc =>
        startSlave([TOUCH, '--host', host, '--concurrency', '2', '--batch', String(BATCH), '--reconnect', '0'], {
          env: box.env,
        })
      let master = startMaster()
      const slaves = Array.from({ length: SLAVES }, startOne)
      const exits: string[] = []
      /** What happened when, for a failure's message. */
      const started = Date.now()
      const timeline: string[] = []
      const note = (what: string): void => void timeline.push(`${((Date.now() - started) / 1000).toFixed(1)} s ${what}`)
      /** The master, started again if it ended before the run is complete (its store or source lost with the server). */
      const alive = (): void => {
        const code = master.child.exitCode
        if (code === null || (code === 0 && master.stdout.includes(`Run '${key}' complete`))) return
        exits.push(`${code}: ${master.stderr.trim().split('\n').at(-1)}`)
        note(`master ended (${exits.at(-1)}); started again`)
        master = startMaster()
      }
      const random = seeded(SEED)
      const done: string[] = []
      for (const { at, event } of plan(random)) {
        const reached = await until(
          () => `${at} rows touched before "${event}" (${timeline.join('; ')}; master: ${master.stderr.slice(-500)})`,
          async () => {
            alive()
            const n = await touchedRows(url, 'touch')
            return (n !== undefined && n >= at) || (master.child.exitCode === 0 && 'complete')
          },
          120_000,
          50,
        )
        if (reached === 'complete') break
        if (event === 'kill master') {
          expect(await killHard(master)).toEqual({ code: null, signal: 'SIGKILL' })
          master = startMaster()
        } else if (event === 'kill slave') {
          const i = Math.floor(random() * SLAVES)
          await killHard(slaves[i])
          slaves[i] = startOne()
        } else server.restart(event === 'restart postgres (crash)' ? 'immediate' : 'fast')
        done.push(event)
        note(`${event} at ${at} rows`)
      }
      // To the end, the master started again whenever it ended short of it.
      await until(
        () => `the run to complete (${timeline.join('; ')}; master: ${master.stderr.slice(-500)})`,
        () => {
          alive()
          return master.child.exitCode === 0
        },
        180_000,
        50,
      )
      expect(master.stdout).toMatch(new RegExp(`^Run '${key}' complete: \\d+ jobs \\(\\d+ done, 0 failed`, 'm'))
      for (const slave of slaves) await stopLongLived(slave)
      // Every event happened, before the run completed.
      expect(done, timeline.join('; ')).toHaveLength(EVENTS.length)
      // And the claims of the complete run are gone.
      await expectEachOnce(url, 'touch', N, undefined, timeline.join('; '))
    }

    it(`every row of ${N} touched exactly once through kills (-9) of the master and the slaves and two PostgreSQL restarts (state in files)`, async () => {
      await chaos(postgres.server, 'files', 'once-chaos-files')
    }, 300_000)

    it(`every row of ${N} touched exactly once through the same, the state in the PostgreSQL that restarts`, async () => {
      await chaos(postgres.server, 'postgres', 'once-chaos-pg')
    }, 300_000)
  },
)
