// Secrets in run arguments (a password in a connection string, an argument named like a
// secret) are never shown or stored in clear: not in /status, /events, the page, tm-ctl,
// the master's output, the --stats file or the state files; a resume with the same
// arguments (or another password for the same database) still works. `name=env:VAR` takes
// a value from the master's environment.
import { readFileSync, readdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import type { RunStatus } from '../../src/index.js'
import {
  CTL_BIN,
  EXIT_OK,
  MASTER_BIN,
  cleanUp,
  expectUsageError,
  fixture,
  masterArgs,
  readCheckpoint,
  run,
  sandbox,
  spawnArgs,
  startMaster,
  startSlave,
  tempDir,
} from '../helpers/proc.js'
import { followEvents, statsDocuments, statusReader } from '../helpers/poll.js'
import { stopAtOnce, until } from '../helpers/reliability.js'
import { POSTGRES_MISSING, usePostgres } from '../helpers/postgres.js'

afterEach(cleanUp)

const DB = 'postgres://user:s3cret@127.0.0.1:1/x?password=other&sslpassword=x'
const SHOWN_DB = 'postgres://user:***@127.0.0.1:1/x?password=***&sslpassword=***'
const ARGS = ['n=300', `db=${DB}`, 'apiToken=abc']
const SHOWN_ARGS = { n: '300', db: SHOWN_DB, apiToken: '***' }

/** The literal secrets of {@link ARGS}, in any form they could be written (name=value, JSON). */
const SECRETS = /s3cret|[=:"]other\b|sslpassword=x\b|[=:"]abc\b/

/** Asserts `text` (named `where` in the failure) holds none of the secrets. */
function expectNoSecret(where: string, text: string): void {
  expect(text.match(SECRETS)?.[0], `${where}:\n${text}`).toBeUndefined()
}

/** Every byte of every file in `dir`, by file name. */
function filesIn(dir: string): [string, string][] {
  return readdirSync(dir).map((name) => [name, readFileSync(join(dir, name), 'latin1')])
}

const { status, statusWhere } = statusReader()
const ctl = (args: string[]) => run(CTL_BIN, args, { env: { TM_TOKEN: undefined } })

describe('secrets in run arguments', () => {
  it('are shown in none of /status, /events, the page, tm-ctl, the output, the stats or the state files; the run resumes with them', async () => {
    const box = sandbox({ TM_HOLD_FROM: '100' })
    const stats = join(tempDir(), 'stats.jsonl')
    const { master, host } = await startMaster(
      [
        fixture('range-total.mjs'),
        ...ARGS,
        ...masterArgs(box, 'secrets'),
        '--stats',
        stats,
        '--stats-interval',
        '0.2',
        '--status-interval',
        '0.2',
      ],
      { env: box.env },
    )
    const slave = startSlave([fixture('hold-record.mjs'), '--host', host, '--reconnect', '1'], { env: box.env })
    await statusWhere(host, 'the run to stand at 100 done', (doc) => doc.run.done === 100)

    const text = await (await fetch(`http://${host}/status`)).text()
    expectNoSecret('/status', text)
    expect((JSON.parse(text) as RunStatus).run.args).toEqual(SHOWN_ARGS)
    const events = await followEvents(`http://${host}/events`)
    const first = await until('the first /events document', () => events.docs[0])
    events.stop()
    expectNoSecret('/events', events.text())
    expect(first.run.args).toEqual(SHOWN_ARGS)
    expectNoSecret('the page', await (await fetch(`http://${host}/`)).text())
    for (const json of [[], ['--json']]) {
      const live = await ctl(['status', '--host', host, ...json])
      expect(live.exit, live.stderr).toEqual(EXIT_OK)
      expectNoSecret(`tm-ctl status ${json.join(' ')}`, live.stdout + live.stderr)
    }
    expect((await ctl(['status', '--host', host])).stdout.split('\n')[0]).toBe(`Run 'secrets' (n=300 db=${SHOWN_DB} apiToken=***): running`)
    expect((await status(host)).run.args).toEqual(SHOWN_ARGS)

    // Stopped at once (the held jobs never end).
    await stopAtOnce(master, slave)
    expectNoSecret('the master stdout', master.stdout)
    expectNoSecret('the master stderr', master.stderr)
    expectNoSecret('the --stats file', readFileSync(stats, 'utf8'))
    expect(statsDocuments(stats).map((doc) => doc.run.args)).toContainEqual(SHOWN_ARGS)
    for (const [name, bytes] of filesIn(box.stateDir)) expectNoSecret(`state file ${name}`, bytes)
    expect(readCheckpoint(box, 'secrets').args).toEqual(SHOWN_ARGS)
    for (const json of [[], ['--json']]) {
      const stored = await ctl(['status', '--key', 'secrets', '--state-dir', box.stateDir, ...json])
      expect(stored.exit, stored.stderr).toEqual(EXIT_OK)
      expectNoSecret(`tm-ctl status --key ${json.join(' ')}`, stored.stdout + stored.stderr)
    }

    // The same arguments resume the run, which ends; still nothing in clear.
    writeFileSync(join(box.records, 'go'), '')
    const resumed = await run(
      MASTER_BIN,
      [fixture('range-total.mjs'), ...ARGS, ...masterArgs(box, 'secrets'), ...spawnArgs(1, fixture('hold-record.mjs')), '--quiet'],
      { env: box.env },
    )
    expect(resumed.exit, resumed.stderr).toEqual(EXIT_OK)
    expect(resumed.stdout).toMatch(/^Run 'secrets' complete: 200 jobs \(200 done, 0 failed\)/m)
    expectNoSecret('the resumed master output', resumed.stdout + resumed.stderr)
    for (const [name, bytes] of filesIn(box.stateDir)) expectNoSecret(`state file ${name}`, bytes)
  })

  it('another password for the same database resumes; another database is refused, in a line without the passwords', async () => {
    const box = sandbox()
    const first = await run(
      MASTER_BIN,
      [fixture('range-total.mjs'), 'n=10', `db=${DB}`, 'apiToken=abc', ...masterArgs(box, 'rotated'), ...spawnArgs(1), '--quiet'],
      { env: box.env },
    )
    expect(first.exit, first.stderr).toEqual(EXIT_OK)
    // Secrets are not part of the run's identity: a rotated password or token is the same run.
    const rotated = await run(
      MASTER_BIN,
      [
        fixture('range-total.mjs'),
        'n=10',
        'db=postgres://user:n3w@127.0.0.1:1/x?password=new&sslpassword=y',
        'apiToken=def',
        ...masterArgs(box, 'rotated'),
        '--quiet',
      ],
      { env: box.env },
    )
    expect(rotated.exit, rotated.stderr).toEqual(EXIT_OK)
    expect(rotated.stdout).toMatch(/^Run 'rotated' is already complete/)
    const other = await run(
      MASTER_BIN,
      [
        fixture('range-total.mjs'),
        'n=10',
        'db=postgres://user:s3cret@127.0.0.1:2/x?password=other',
        'apiToken=abc',
        ...masterArgs(box, 'rotated'),
        '--quiet',
      ],
      { env: box.env },
    )
    expect(other.exit.code).toBe(2)
    expect(other.stderr).toBe(
      `tm-master: Run 'rotated' was started with arguments n=10 db=${SHOWN_DB} apiToken=*** but is now given n=10 db=postgres://user:***@127.0.0.1:2/x?password=*** apiToken=***; use --reset to start it over with the new arguments, or another --key\n`,
    )
  })

  it('saved in clear by an older version still resume, and are then saved masked', async () => {
    const box = sandbox({ TM_HOLD_FROM: '5' })
    const args = [fixture('range-total.mjs'), 'n=10', `db=${DB}`, 'apiToken=abc', ...masterArgs(box, 'older')]
    const { master, host } = await startMaster([...args, ...spawnArgs(1, fixture('hold-record.mjs')), '--quiet'], { env: box.env })
    await statusWhere(host, 'the run to stand at 5 done', (doc) => doc.run.done === 5)
    await stopAtOnce(master)
    const file = join(box.stateDir, 'older.json')
    const cp = readCheckpoint(box, 'older')
    writeFileSync(file, JSON.stringify({ ...cp, args: { n: '10', db: DB, apiToken: 'abc' } }))

    writeFileSync(join(box.records, 'go'), '')
    const resumed = await run(MASTER_BIN, [...args, ...spawnArgs(1, fixture('hold-record.mjs')), '--quiet'], { env: box.env })
    expect(resumed.exit, resumed.stderr).toEqual(EXIT_OK)
    expect(resumed.stdout).toMatch(/^Run 'older' complete: 5 jobs \(5 done, 0 failed\)/m)
    expect(readCheckpoint(box, 'older')).toMatchObject({ complete: true, args: { n: '10', db: SHOWN_DB, apiToken: '***' } })
    for (const [name, bytes] of filesIn(box.stateDir)) expectNoSecret(`state file ${name}`, bytes)
  })

  it("are masked in an error line that quotes them (the generator's own message)", async () => {
    const box = sandbox({ TM_THROW_ARGS: '1' })
    const failed = await run(
      MASTER_BIN,
      [fixture('args-record.mjs'), `db=${DB}`, 'apiToken=t0ken-abc', ...masterArgs(box, 'careless'), '--quiet'],
      { env: box.env },
    )
    expect(failed.exit.code).toBe(1)
    expect(failed.stderr).toContain(`cannot reach ${SHOWN_DB} with token ***`)
    expect(failed.stdout + failed.stderr).not.toMatch(/s3cret|t0ken-abc|[=:"]other\b/)
  })

  it("are masked in a handler's error that quotes them: in the failed-jobs log, /status and the output", async () => {
    const box = sandbox()
    // The status document (as /status serves it) is read from --stats: the run ends at once.
    const stats = join(tempDir(), 'stats.jsonl')
    const master = await run(
      MASTER_BIN,
      [
        fixture('args-record.mjs'),
        'n=5',
        `db=${DB}`,
        'apiToken=t0ken-abc',
        ...masterArgs(box, 'careless'),
        ...spawnArgs(1, fixture('careless-handler.mjs')),
        '--retries',
        '0',
        '--quiet',
        '--stats',
        stats,
      ],
      { env: box.env },
    )
    expect(master.exit.code).toBe(1)
    const doc = statsDocuments(stats).at(-1)!
    expect(doc.failures.map((failure) => failure.error)).toContain(`job 0: cannot reach ${SHOWN_DB} with token ***`)
    expect(JSON.stringify(doc)).not.toMatch(/s3cret|t0ken-abc|[=:"]other\b/)
    for (const [name, text] of filesIn(box.stateDir)) expect(text, name).not.toMatch(/s3cret|t0ken-abc|[=:"]other\b/)
    expect(master.stdout + master.stderr).not.toMatch(/s3cret|t0ken-abc|[=:"]other\b/)
  })
})

describe('env:NAME run arguments', () => {
  it("take their value from the master's environment: the generator and the slaves get it, nothing shows it", async () => {
    const box = sandbox({ TM_TEST_DB: DB, TM_TEST_TOKEN: 'abc', TM_TEST_PLAIN: 's3cret-plain' })
    const done = await run(
      MASTER_BIN,
      [
        fixture('args-record.mjs'),
        'n=4',
        'db=env:TM_TEST_DB',
        'apiToken=env:TM_TEST_TOKEN',
        'plain=env:TM_TEST_PLAIN',
        ...masterArgs(box, 'env'),
        ...spawnArgs(1, fixture('lifecycle-record.mjs')),
      ],
      { env: box.env },
    )
    expect(done.exit, done.stderr).toEqual(EXIT_OK)
    const real = { n: '4', db: DB, apiToken: 'abc', plain: 's3cret-plain' }
    expect(JSON.parse(readFileSync(join(box.records, 'generator-args.json'), 'utf8'))).toEqual(real)
    const setups = readdirSync(box.records)
      .filter((name) => name.startsWith('lifecycle-'))
      .map((name) => readFileSync(join(box.records, name), 'utf8').split('\n')[0])
    expect(setups).toEqual([`setup ${JSON.stringify(real)} concurrency=1 batch=1`])
    // A value from the environment is secret by where it comes from: a URL shows without its secrets, anything else as ***.
    expect(readCheckpoint(box, 'env').args).toEqual({ n: '4', db: SHOWN_DB, apiToken: '***', plain: '***' })
    expectNoSecret('the master output', done.stdout + done.stderr)
    for (const [name, bytes] of filesIn(box.stateDir)) expectNoSecret(`state file ${name}`, bytes)
  })

  it('whose variable is not set: one line naming the argument and the variable', async () => {
    const box = sandbox()
    const unset = await run(MASTER_BIN, [fixture('args-record.mjs'), 'db=env:TM_TEST_UNSET', ...masterArgs(box, 'unset')], {
      env: { ...box.env, TM_TEST_UNSET: undefined },
    })
    expectUsageError(
      unset,
      /^tm-master: Run argument 'db=env:TM_TEST_UNSET' names the environment variable TM_TEST_UNSET, which is not set$/,
    )
    const empty = await run(MASTER_BIN, [fixture('args-record.mjs'), 'db=env:', ...masterArgs(box, 'unset')], { env: box.env })
    expectUsageError(empty, /^tm-master: Run argument 'db=env:' names no environment variable \(write db=env:NAME\)$/)
  })
})

describe('a state store URL', () => {
  it('is shown without its password nor its secret parameters in an error line', async () => {
    const box = sandbox()
    const failed = await run(MASTER_BIN, [fixture('range-total.mjs'), ...masterArgs(box, 'store'), '--state-store', DB], { env: box.env })
    expect(failed.exit.code).not.toBe(0)
    expect(failed.stderr).toMatch(
      new RegExp(`^tm-master: Cannot connect to the state store ${SHOWN_DB.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: .*ECONNREFUSED.*\n$`),
    )
    expectNoSecret('the master output', failed.stdout + failed.stderr)
  })
})

describe.skipIf(POSTGRES_MISSING !== undefined)(
  `secrets in a PostgreSQL state store${POSTGRES_MISSING ? ` (skipped: ${POSTGRES_MISSING})` : ''}`,
  () => {
    const postgres = usePostgres()

    it('are saved masked in the checkpoint row, and the run resumes with them', async () => {
      const box = sandbox({ TM_HOLD_FROM: '5' })
      const args = [
        fixture('range-total.mjs'),
        'n=10',
        `db=${DB}`,
        'apiToken=abc',
        ...masterArgs(box, 'pg-secrets'),
        '--state-store',
        postgres.server.url,
      ]
      const { master, host } = await startMaster([...args, ...spawnArgs(1, fixture('hold-record.mjs')), '--quiet'], { env: box.env })
      await statusWhere(host, 'the run to stand at 5 done', (doc) => doc.run.done === 5)
      await stopAtOnce(master)
      const rows = await postgres.db.query<{ checkpoint: string }>("SELECT checkpoint FROM taskmaster_checkpoint WHERE run = 'pg-secrets'")
      expect(rows.rows).toHaveLength(1)
      expectNoSecret('the checkpoint row', rows.rows[0].checkpoint)
      expect((JSON.parse(rows.rows[0].checkpoint) as { args: unknown }).args).toEqual({ n: '10', db: SHOWN_DB, apiToken: '***' })
      writeFileSync(join(box.records, 'go'), '')
      const resumed = await run(MASTER_BIN, [...args, ...spawnArgs(1, fixture('hold-record.mjs')), '--quiet'], { env: box.env })
      expect(resumed.exit, resumed.stderr).toEqual(EXIT_OK)
      expect(resumed.stdout).toMatch(/^Run 'pg-secrets' complete: 5 jobs \(5 done, 0 failed\)/m)
      for (const table of ['taskmaster_checkpoint', 'taskmaster_journal', 'taskmaster_failed']) {
        expectNoSecret(table, JSON.stringify((await postgres.db.query(`SELECT * FROM ${table}`)).rows))
      }
    })
  },
)
