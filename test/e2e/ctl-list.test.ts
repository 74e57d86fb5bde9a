// tm-ctl list over a state dir and over a PostgreSQL state store, with the real bins: a
// complete run, one that ended with failed rows, one whose master was killed with -9, a
// running one and a paused one, each shown as what it is; secrets never shown; one-line errors.
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import pg from 'pg'
import { afterEach, describe, expect, it } from 'vitest'
import { listRuns } from '../../src/master/state/run-list.js'
import type { RunListing } from '../../src/master/state/run-list.js'
import { CTL_BIN, EXIT_OK, MASTER_BIN, fixture, readCheckpoint, run, sandbox, startMaster, startSlave, tempDir } from '../helpers/proc.js'
import type { Sandbox } from '../helpers/proc.js'
import { POSTGRES_MISSING, usePostgres } from '../helpers/postgres.js'
import { killHard, portForLater, tearDown, until } from '../helpers/reliability.js'

afterEach(tearDown)

const DB_URL = 'postgres://app:hunter22@db.example/app'
/** The secrets the killed run is given, in any form they could be printed. */
const SECRETS = /hunter22|s3cret|[=:"]abc\b/

/** tm-ctl without the environment's TM_TOKEN and TM_STATE_STORE. */
const ctl = (args: string[]) => run(CTL_BIN, args, { env: { TM_TOKEN: undefined, TM_STATE_STORE: undefined } })

/** How a test reaches a store: the flags of tm-master and of tm-ctl list, a run's checkpoint, and where a run's state is. */
interface Store {
  master: string[]
  list: string[]
  checkpoint: (key: string) => Promise<Record<string, unknown> | undefined>
  where: (key: string) => string
  /** Resolves once no master's session holds a lease (a no-op for files: a killed master's lock is known dead at once). */
  released: (live: number) => Promise<void>
}

/**
 * Lists `stateDir` or `stateStore` again and again while run `key`'s master writes as fast as
 * two no-op slaves let it: every listing reads it whole (never damaged), running, and its
 * done never goes back. At least `times` listings, and until it has done some jobs.
 */
async function listedWhileWritten(where: { stateDir?: string; stateStore?: string }, key: string, times: number): Promise<void> {
  let listings = 0
  let done = 0
  while (listings < times || done === 0) {
    const run = (await listRuns(where)).runs.find((r) => r.key === key)
    expect(run).toMatchObject({ state: 'running', problem: null })
    expect(run!.done).toBeGreaterThanOrEqual(done)
    done = run!.done!
    listings++
  }
}

/** An ISO time as tm-ctl list shows it. */
const shown = (iso: unknown): string => String(iso).slice(0, 19).replace('T', ' ')

/**
 * Makes five runs in `store` (complete, failed, stopped by a kill -9, running, paused), then
 * checks `tm-ctl list` and `--json` show each as it is (the live masters are stopped by tearDown).
 */
async function fiveRuns(box: Sandbox, store: Store): Promise<void> {
  const master = (key: string, ...args: string[]) => [...args, '--key', key, ...store.master, '--host', '127.0.0.1:0', '--quiet']
  const whole = await run(
    MASTER_BIN,
    master('whole', fixture('range-total.mjs'), 'n=20', '--spawn', '1', '--handler', fixture('record.mjs')),
    {
      env: box.env,
    },
  )
  expect(whole.exit, whole.stderr).toEqual(EXIT_OK)
  const rows = await run(
    MASTER_BIN,
    master('rows', fixture('range-total.mjs'), 'n=20', '--spawn', '1', '--handler', fixture('fail-tenth.mjs'), '--retries', '0'),
    { env: box.env },
  )
  expect(rows.exit, rows.stderr).toEqual({ code: 1, signal: null })

  // Killed with -9 at 100 done of 300 (the jobs from 100 on are held), once its checkpoint says so.
  const killedEnv = { ...box.env, TM_LIST_DB: DB_URL, TM_HOLD_FROM: '100' }
  const killed = await startMaster(
    master('killed', fixture('range-total.mjs'), 'n=300', 'db=env:TM_LIST_DB', 'dsn=postgres://u:s3cret@h/x', 'apiToken=abc'),
    { env: killedEnv },
  )
  const slave = startSlave([fixture('hold-record.mjs'), '--host', killed.host, '--reconnect', '1'], { env: killedEnv })
  await until('the killed run to save 100 done of 300', async () => {
    const cp = (await store.checkpoint('killed')) as { counts: { done: number }; total?: number } | undefined
    return cp?.counts.done === 100 && cp.total === 300
  })
  expect(await killHard(killed.master)).toEqual({ code: null, signal: 'SIGKILL' })
  await killHard(slave)
  await store.released(0)

  // Running without slaves, and paused: each once its checkpoint has its total.
  await startMaster(master('live', fixture('range-total.mjs'), 'n=300'), { env: box.env })
  await until('the live run to save its total', async () => (await store.checkpoint('live'))?.total === 300)
  await startMaster(master('idle', fixture('range-total.mjs'), 'n=50', '--paused'), { env: box.env })
  await until('the paused run to save its total and pause', async () => {
    const cp = await store.checkpoint('idle')
    return cp?.total === 50 && cp.paused === true
  })

  const json = await ctl(['list', ...store.list, '--json'])
  expect(json.exit, json.stderr).toEqual(EXIT_OK)
  expect(json.stdout).not.toMatch(SECRETS)
  const listed = JSON.parse(json.stdout) as RunListing[]
  const cps: Record<string, Record<string, unknown>> = {}
  for (const key of ['idle', 'live', 'killed', 'rows', 'whole']) cps[key] = (await store.checkpoint(key))!
  const times = (key: string) => ({ startedAt: cps[key].startedAt, updatedAt: cps[key].updatedAt })
  const none = { paused: false, problem: null, totalEstimated: false }
  expect(listed).toEqual([
    {
      key: 'idle',
      state: 'paused',
      done: 0,
      failed: 0,
      total: 50,
      ...none,
      paused: true,
      ...times('idle'),
      args: { n: '50' },
      where: store.where('idle'),
    },
    {
      key: 'live',
      state: 'running',
      done: 0,
      failed: 0,
      total: 300,
      ...none,
      ...times('live'),
      args: { n: '300' },
      where: store.where('live'),
    },
    {
      key: 'killed',
      state: 'stopped',
      done: 100,
      failed: 0,
      total: 300,
      ...none,
      ...times('killed'),
      args: { n: '300', db: 'env:TM_LIST_DB', dsn: 'postgres://u:***@h/x', apiToken: '***' },
      where: store.where('killed'),
    },
    {
      key: 'rows',
      state: 'failed',
      done: 18,
      failed: 2,
      total: 20,
      ...none,
      ...times('rows'),
      args: { n: '20' },
      where: store.where('rows'),
    },
    {
      key: 'whole',
      state: 'complete',
      done: 20,
      failed: 0,
      total: 20,
      ...none,
      ...times('whole'),
      args: { n: '20' },
      where: store.where('whole'),
    },
  ])

  const text = await ctl(['list', ...store.list])
  expect(text.exit, text.stderr).toEqual(EXIT_OK)
  expect(text.stdout).not.toMatch(SECRETS)
  const row = (key: string, rest: string, args: string) =>
    new RegExp(`^${key} +${rest} +${shown(cps[key].startedAt)} +${shown(cps[key].updatedAt)}${args === '' ? '' : `  ${args}`}$`)
  const lines = text.stdout.split('\n')
  expect(lines[0]).toMatch(/^key +state +done \/ total +failed +started \(UTC\) +updated \(UTC\) +arguments$/)
  expect(lines[1]).toMatch(row('idle', 'paused +0 / 50 +0', 'n=50'))
  expect(lines[2]).toMatch(row('live', 'running +0 / 300 +0', 'n=300'))
  expect(lines[3]).toMatch(
    row('killed', 'stopped +100 / 300 +0', 'n=300 db=env:TM_LIST_DB dsn=postgres://u:\\*\\*\\*@h/x apiToken=\\*\\*\\*'),
  )
  expect(lines[4]).toMatch(row('rows', 'failed +18 / 20 +2', 'n=20'))
  expect(lines[5]).toMatch(row('whole', 'complete +20 / 20 +0', 'n=20'))
  expect(lines.slice(6)).toEqual([''])
}

describe('tm-ctl list over a state dir', () => {
  it('shows a complete, a failed, a killed (stopped), a running and a paused run as they are, as a table and as JSON', async () => {
    const box = sandbox()
    await fiveRuns(box, {
      master: ['--state-dir', box.stateDir],
      list: ['--state-dir', box.stateDir],
      checkpoint: (key) => {
        try {
          return Promise.resolve(readCheckpoint(box, key))
        } catch {
          return Promise.resolve(undefined)
        }
      },
      where: (key) => join(box.stateDir, `${key}.json`),
      released: () => Promise.resolve(),
    })
  })

  it('reads a run whole while its master writes it: never damaged, its done never goes back', async () => {
    const box = sandbox()
    const busy = ['--key', 'busy', '--state-dir', box.stateDir, '--host', '127.0.0.1:0', '--spawn', '2', '--handler', fixture('noop.mjs')]
    await startMaster([fixture('range-total.mjs'), 'n=100000000', ...busy, '--quiet'], { env: box.env })
    await listedWhileWritten({ stateDir: box.stateDir }, 'busy', 200)
  })

  it('lists a damaged checkpoint as damaged, with why, beside the runs it can read; exit 0', async () => {
    const box = sandbox()
    const done = await run(
      MASTER_BIN,
      [
        fixture('range-total.mjs'),
        'n=5',
        '--key',
        'good',
        '--state-dir',
        box.stateDir,
        '--host',
        '127.0.0.1:0',
        '--spawn',
        '1',
        '--handler',
        fixture('record.mjs'),
        '--quiet',
      ],
      { env: box.env },
    )
    expect(done.exit, done.stderr).toEqual(EXIT_OK)
    writeFileSync(join(box.stateDir, 'torn.json'), '{"format": 1, "ke')
    const text = await ctl(['list', '--state-dir', box.stateDir])
    expect(text.exit, text.stderr).toEqual(EXIT_OK)
    expect(text.stderr).toBe('')
    const lines = text.stdout.split('\n')
    expect(lines[1]).toMatch(/^good +complete +5 \/ 5 +0 /)
    expect(lines[2]).toMatch(/^torn +damaged +- \/ - +- +- +- +-$/)
    expect(lines.slice(3)).toEqual([
      '',
      `torn: Checkpoint '${join(box.stateDir, 'torn.json')}' is not valid JSON; move it away or use --reset to start over`,
      '',
    ])
  })

  it('an empty state dir says so (JSON: []); a missing one, a file, a URL that is not postgres:// are one line, exit 2', async () => {
    const dir = tempDir()
    const empty = await ctl(['list', '--state-dir', dir])
    expect(empty.exit, empty.stderr).toEqual(EXIT_OK)
    expect(empty.stdout).toBe(`No runs in ${dir}\n`)
    expect((await ctl(['list', '--state-dir', dir, '--json'])).stdout).toBe('[]\n')

    const missing = await ctl(['list', '--state-dir', join(dir, 'nope')])
    expect(missing.exit.code).toBe(2)
    expect(missing.stdout).toBe('')
    expect(missing.stderr).toBe(
      `tm-ctl: There is no state dir '${join(dir, 'nope')}' (give the --state-dir the masters were given, or --state-store)\n`,
    )
    writeFileSync(join(dir, 'file'), '')
    const file = await ctl(['list', '--state-dir', join(dir, 'file')])
    expect(file.exit.code).toBe(2)
    expect(file.stderr).toBe(`tm-ctl: The state dir '${join(dir, 'file')}' is not a directory\n`)

    const mysql = await ctl(['list', '--state-store', 'mysql://u:pw-secret@h/x'])
    expect(mysql.exit.code).toBe(2)
    expect(mysql.stderr).toBe("tm-ctl: --state-store must be a postgres:// URL, got 'mysql://u:***@h/x'\n")
    for (const command of [['list'], ['status', '--key', 'x']]) {
      const port = await ctl([...command, '--state-store', 'postgres://u:pw-secret@127.0.0.1:99999/x'])
      expect(port.exit.code).toBe(2)
      expect(port.stderr).toBe(
        'tm-ctl: --state-store must be a URL that can be read: postgres://<user>:<password>@<host>:<port>/<database>, the port at most 65535, special characters of the password %-encoded\n',
      )
    }
    const down = await portForLater()
    const unreachable = await ctl(['list', '--state-store', `postgres://u:pw-secret@127.0.0.1:${down}/x`])
    expect(unreachable.exit.code).toBe(1)
    expect(unreachable.stderr).toBe(
      `tm-ctl: Cannot connect to the state store postgres://u:***@127.0.0.1:${down}/x: connect ECONNREFUSED 127.0.0.1:${down}\n`,
    )
  })
})

// In CI PostgreSQL must be there (.ci/run installs it): fail loudly rather than skip.
if (POSTGRES_MISSING !== undefined && process.env.CI) {
  it('PostgreSQL is installed', () => {
    throw new Error(POSTGRES_MISSING)
  })
}

describe.skipIf(POSTGRES_MISSING !== undefined)(
  `tm-ctl list --state-store postgres://${POSTGRES_MISSING ? ` (skipped: ${POSTGRES_MISSING})` : ''}`,
  () => {
    const postgres = usePostgres()
    const checkpoint = async (key: string): Promise<Record<string, unknown> | undefined> => {
      const made = (await postgres.db.query<{ made: boolean }>("SELECT to_regclass('taskmaster_checkpoint') IS NOT NULL AS made")).rows[0]
      if (!made.made) return undefined
      const row = (await postgres.db.query<{ checkpoint: string }>('SELECT checkpoint FROM taskmaster_checkpoint WHERE run = $1', [key]))
        .rows[0]
      return row === undefined ? undefined : (JSON.parse(row.checkpoint) as Record<string, unknown>)
    }
    const advisoryLocks = async (): Promise<number> =>
      (await postgres.db.query<{ n: number }>("SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory'")).rows[0].n

    it('shows a complete, a failed, a killed (stopped), a running and a paused run as they are, as a table and as JSON', async () => {
      const box = sandbox()
      await fiveRuns(box, {
        master: ['--state-store', postgres.server.url, '--state-dir', box.stateDir],
        list: ['--state-store', postgres.server.url],
        checkpoint,
        where: (key) => `table taskmaster_checkpoint (run '${key}') of ${postgres.server.url}`,
        // The server ends a killed master's session (and frees its lease's lock) a moment after.
        released: async (live) => {
          await until("the killed master's session to end", async () => (await advisoryLocks()) === live)
        },
      })
    })

    it('lists a damaged row as damaged (its key made printable) beside the others; a database that does not exist is one line, exit 2', async () => {
      await postgres.db.query(
        "INSERT INTO taskmaster_checkpoint (run, checkpoint) VALUES ('bad\u001b[31m', 'not json'), ('half', '{\"format\": 1, \"key\": \"half\"}')",
      )
      try {
        const json = await ctl(['list', '--state-store', postgres.server.url, '--json'])
        expect(json.exit, json.stderr).toEqual(EXIT_OK)
        const runs = JSON.parse(json.stdout) as RunListing[]
        expect(runs.find((r) => r.key === 'bad\u001b[31m')).toMatchObject({
          state: 'damaged',
          problem: `The checkpoint of run 'bad\u001b[31m' in the state store ${postgres.server.url} is not one this Taskmaster reads (format 1); finish the run with the version that started it, or use --reset`,
        })
        expect(runs.find((r) => r.key === 'half')).toMatchObject({
          state: 'damaged',
          problem: `The checkpoint of run 'half' in the state store ${postgres.server.url} is damaged (missing fields): it has no args, complete, position, last, finished, counts, elapsed, startedAt, updatedAt; use --reset to start over`,
        })
        const text = await ctl(['list', '--state-store', postgres.server.url])
        expect(text.exit, text.stderr).toEqual(EXIT_OK)
        expect(text.stdout).not.toContain('\u001b')
        expect(text.stdout.split('\n')).toContain(
          `bad\\u001b[31m: The checkpoint of run 'bad\\u001b[31m' in the state store ${postgres.server.url} is not one this Taskmaster reads (format 1); finish the run with the version that started it, or use --reset`,
        )
      } finally {
        await postgres.db.query("DELETE FROM taskmaster_checkpoint WHERE run IN ('bad\u001b[31m', 'half')")
      }
      const url = postgres.server.url.replace(/\/postgres$/, '/nope')
      const none = await ctl(['list', '--state-store', url])
      expect(none.exit.code).toBe(2)
      expect(none.stderr).toBe(`tm-ctl: The state store ${url} refused the connection: database "nope" does not exist\n`)
    })

    it('reads a run whole while its master writes it: never damaged, its done never goes back', async () => {
      const box = sandbox()
      const busy = ['--key', 'pg-busy', '--state-store', postgres.server.url, '--host', '127.0.0.1:0', '--spawn', '2']
      await startMaster([fixture('range-total.mjs'), 'n=100000000', ...busy, '--handler', fixture('noop.mjs'), '--quiet'], { env: box.env })
      await listedWhileWritten({ stateStore: postgres.server.url }, 'pg-busy', 30)
    })

    it('an empty database (no tables yet) has no runs and gets none; one an older version wrote (no lease table, fewer fields) lists', async () => {
      await postgres.db.query('CREATE DATABASE older_list')
      const url = postgres.server.url.replace(/\/postgres$/, '/older_list')
      const empty = await ctl(['list', '--state-store', url])
      expect(empty.exit, empty.stderr).toEqual(EXIT_OK)
      expect(empty.stdout).toBe(`No runs in ${url}\n`)
      const other = new pg.Client(url)
      await other.connect()
      try {
        expect((await other.query("SELECT count(*)::int AS n FROM pg_tables WHERE tablename LIKE 'taskmaster%'")).rows).toEqual([{ n: 0 }])
        // The tables of an older version: no lease table; a checkpoint without total, env or paused, its arguments in clear.
        await other.query('CREATE TABLE taskmaster_checkpoint (run text PRIMARY KEY, checkpoint text NOT NULL)')
        await other.query('CREATE TABLE taskmaster_journal (id bigserial PRIMARY KEY, run text NOT NULL, record text NOT NULL)')
        const old = {
          format: 1,
          key: 'old',
          args: { db: 'postgres://u:s3cret@h/x', apiToken: 'abc' },
          complete: false,
          position: 5,
          last: 4,
          finished: [],
          counts: { done: 5, failed: 0 },
          elapsed: 10,
          startedAt: '2024-01-01T00:00:00.000Z',
          updatedAt: '2024-01-01T00:00:01.000Z',
        }
        await other.query("INSERT INTO taskmaster_checkpoint VALUES ('old', $1)", [JSON.stringify(old)])
        await other.query("INSERT INTO taskmaster_journal (run, record) VALUES ('old', '[7,6,7,0,[],[]]')")
      } finally {
        await other.end()
      }
      const json = await ctl(['list', '--state-store', url, '--json'])
      expect(json.exit, json.stderr).toEqual(EXIT_OK)
      expect(JSON.parse(json.stdout)).toEqual([
        {
          key: 'old',
          state: 'stopped',
          done: 7,
          failed: 0,
          total: null,
          totalEstimated: false,
          paused: false,
          startedAt: '2024-01-01T00:00:00.000Z',
          updatedAt: '2024-01-01T00:00:01.000Z',
          args: { db: 'postgres://u:***@h/x', apiToken: '***' },
          where: `table taskmaster_checkpoint (run 'old') of ${url}`,
          problem: null,
        },
      ])
      const text = await ctl(['list', '--state-store', url])
      expect(text.stdout.split('\n')[1]).toBe(
        'old  stopped         7 / -       0  2024-01-01 00:00:00  2024-01-01 00:00:01  db=postgres://u:***@h/x apiToken=***',
      )
      expect(text.stdout + json.stdout).not.toMatch(SECRETS)
    })
  },
)
