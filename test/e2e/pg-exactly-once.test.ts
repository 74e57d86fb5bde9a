// taskmaster-run/pg's exactlyOnce against a real PostgreSQL, beside the chaos test
// (pg-exactly-once-chaos.test.ts): shards, --procs, several slaves, handleJob, --retry-failed
// (a failed row holds no claim), and what a hostile user does: a handler that throws after its
// writes or never settles, a wrong database or claims table, the claims table dropped under a
// live run, two runs at once, --reset. A row's `touched` counts every run of it.
import { afterEach, describe, expect, it } from 'vitest'
import { POSTGRES_MISSING, usePostgres } from '../helpers/postgres.js'
import { EXIT_OK, MASTER_BIN, Proc, run, sandbox, startSlave } from '../helpers/proc.js'
import { killHard, portForLater, stopLongLived, tearDown, until } from '../helpers/reliability.js'
import { TOUCH, TOUCH_JOBS, claimsLeft, expectEachOnce, query, rows, touchCounts, touchTable, touchedRows } from '../helpers/touch.js'

// In CI PostgreSQL must be there (.ci/run installs it): fail loudly rather than skip.
if (POSTGRES_MISSING !== undefined && process.env.CI) {
  it('PostgreSQL is installed', () => {
    throw new Error(POSTGRES_MISSING)
  })
}

/** A stack trace's frame line: never in what a user sees of a mistake. */
const STACK_FRAME = /^\s+at /m

describe.skipIf(POSTGRES_MISSING !== undefined)(`exactlyOnce${POSTGRES_MISSING ? ` (skipped: ${POSTGRES_MISSING})` : ''}`, () => {
  const postgres = usePostgres()

  afterEach(tearDown)

  /** A fresh table `name` of `n` rows, and a sandbox whose env names it (with `env`). */
  const table = async (name: string, n: number, env: Record<string, string> = {}) => {
    await touchTable(postgres.server.url, name, n)
    return { url: postgres.server.url, box: sandbox({ TM_PG_TABLE: name, ...env }) }
  }

  /** tm-master's arguments for run `key` over the pg-touch jobs ($TM_PG_TABLE), its state in `stateDir`, and `extra`. */
  const masterArgs = (key: string, stateDir: string, extra: string[]): string[] => [
    TOUCH_JOBS,
    `db=${postgres.server.url}`,
    '--key',
    key,
    '--state-dir',
    stateDir,
    ...extra,
    '--quiet',
  ]

  /** The same, with `slaves` local slaves of the pg-touch handler, and `flags` (words split at spaces). */
  const spawnedArgs = (key: string, stateDir: string, slaves: number, flags = ''): string[] =>
    masterArgs(key, stateDir, ['--host', '127.0.0.1:0', '--spawn', String(slaves), '--handler', TOUCH, ...flags.split(' ').filter(Boolean)])

  it("shards on several slaves and --procs, a slave killed -9: every row once, and each shard's claims gone at its end", async () => {
    const N = 8000
    const { url, box } = await table('touch_shards', N, { TM_TOUCH_DELAY_MS: '10' })
    const hosts = [`127.0.0.1:${await portForLater()}`, `127.0.0.1:${await portForLater()}`]
    const masters = [1, 2].map(
      (i) =>
        new Proc(MASTER_BIN, masterArgs('shards', box.stateDir, ['--shard', `${i}/2`, '--host', hosts[i - 1]]), {
          env: box.env,
        }),
    )
    const slaveArgs = (host: string, ...extra: string[]): string[] => [TOUCH, '--host', host, '--batch', '40', '--reconnect', '0', ...extra]
    // Shard 1: two slaves; shard 2: one slave of two processes (--procs).
    const first = [startSlave(slaveArgs(hosts[0]), { env: box.env }), startSlave(slaveArgs(hosts[0]), { env: box.env })]
    const procs = startSlave(slaveArgs(hosts[1], '--procs', '2'), { env: box.env })
    await until('a quarter of the rows touched', async () => ((await touchedRows(url, 'touch_shards')) ?? 0) >= N / 4, 60_000)
    await killHard(first[0])
    first[0] = startSlave(slaveArgs(hosts[0]), { env: box.env })
    for (const master of masters) expect(await master.exited, master.stderr).toEqual(EXIT_OK)
    for (const slave of [...first, procs]) await stopLongLived(slave)
    expect(masters.map((master) => /^Run 'shards\.shard-(\d)-of-2' complete: (\d+) jobs/m.exec(master.stdout)?.[1])).toEqual(['1', '2'])
    await expectEachOnce(url, 'touch_shards', N)
  })

  it('handleJob, the master and the slave killed -9 mid-run: every row once', async () => {
    const N = 3000
    const { url, box } = await table('touch_jobs', N, { TM_TOUCH_DELAY_MS: '2' })
    const host = `127.0.0.1:${await portForLater()}`
    const master = (): Proc => new Proc(MASTER_BIN, masterArgs('jobs', box.stateDir, ['--host', host]), { env: box.env })
    const slave = (): Proc => startSlave([`${TOUCH}:handleJob`, '--host', host, '--concurrency', '8', '--reconnect', '0'], { env: box.env })
    let m = master()
    let s = slave()
    await until('a third of the rows touched', async () => ((await touchedRows(url, 'touch_jobs')) ?? 0) >= N / 3, 60_000)
    await killHard(m)
    await killHard(s)
    m = master()
    s = slave()
    expect(await m.exited, m.stderr).toEqual(EXIT_OK)
    await stopLongLived(s)
    await expectEachOnce(url, 'touch_jobs', N)
  })

  it('a handler that throws after its UPDATE rolls back: the failed rows hold no claim and are untouched, and --retry-failed runs them once', async () => {
    const N = 3000
    const { url, box } = await table('touch_retry', N, { TM_FAIL_EVERY: '97' })
    const args = spawnedArgs('retry', box.stateDir, 2, '--batch 100 --retries 1 --retry-delay 0.05')
    const first = await run(MASTER_BIN, args, { env: box.env })
    expect(first.exit, first.stderr).toEqual({ code: 1, signal: null })
    const failing = Array.from({ length: Math.floor(N / 97) }, (_, i) => String(97 * (i + 1)))
    expect(first.stdout).toMatch(
      new RegExp(`^Run 'retry' complete: ${N} jobs \\(${N - failing.length} done, ${failing.length} failed\\)`, 'm'),
    )
    const untouched = await rows(url, 'SELECT id FROM touch_retry WHERE touched = 0 ORDER BY id')
    expect(untouched.map((row) => String(row.id))).toEqual(failing)
    expect(await touchCounts(url, 'touch_retry')).toEqual({ n: N, wrong: failing.length, total: N - failing.length })
    expect(await claimsLeft(url)).toEqual({ claims: 0, runs: 0 })
    const retry = await run(MASTER_BIN, [...args, '--retry-failed'], { env: { ...box.env, TM_FIXED: '1' } })
    expect(retry.exit, retry.stderr).toEqual(EXIT_OK)
    await expectEachOnce(url, 'touch_retry', N)
  })

  it('a call that never settles (--job-timeout): its transaction is ended, its batch split, the other rows run once, the row fails alone', async () => {
    const N = 2000
    const { url, box } = await table('touch_hang', N, { TM_HANG_ID: '1000' })
    const args = spawnedArgs('hang', box.stateDir, 1, '--concurrency 2 --batch 100 --job-timeout 2 --retries 0')
    const result = await run(MASTER_BIN, args, { env: box.env })
    expect(result.exit, result.stderr).toEqual({ code: 1, signal: null })
    expect(result.stdout).toMatch(new RegExp(`^Run 'hang' complete: ${N} jobs \\(${N - 1} done, 1 failed\\)`, 'm'))
    expect(await rows(url, 'SELECT id, touched FROM touch_hang WHERE touched <> 1')).toEqual([{ id: '1000', touched: 0 }])
    // No transaction left open by the call that hung (its backend was terminated).
    expect(await rows(url, "SELECT count(*)::int AS n FROM pg_stat_activity WHERE state LIKE 'idle in transaction%'")).toEqual([{ n: 0 }])
    expect(await claimsLeft(url)).toEqual({ claims: 0, runs: 0 })
  })

  it('a wrong database, or a table that is not a claims table, is one line before the first job, its password masked', async () => {
    const { url, box } = await table('touch_wrong', 10, { TM_RECONNECT: '0.5' })
    const port = await portForLater()
    const wrong = `postgres://postgres:s3cret-pw@127.0.0.1:${port}/postgres`
    const refused = await run(MASTER_BIN, [...spawnedArgs('wrong-db', box.stateDir, 1), `touchdb=${wrong}`], { env: box.env })
    expect(refused.exit).not.toEqual(EXIT_OK)
    const output = refused.stdout + refused.stderr
    expect(output).toContain(
      `tm-slave: The handler's setup failed: exactlyOnce: cannot use the database postgres://postgres:***@127.0.0.1:${port}/postgres: connect ECONNREFUSED 127.0.0.1:${port}`,
    )
    expect(output).not.toContain('s3cret-pw')
    expect(output).not.toMatch(STACK_FRAME)
    expect(await touchCounts(url, 'touch_wrong')).toEqual({ n: 10, wrong: 10, total: 0 })
    // An existing table of another shape is never taken for the claims table.
    const notClaims = await run(MASTER_BIN, spawnedArgs('wrong-table', box.stateDir, 1), {
      env: { ...box.env, TM_CLAIMS: 'touch_wrong' },
    })
    expect(notClaims.exit).not.toEqual(EXIT_OK)
    expect(notClaims.stdout + notClaims.stderr).toContain(
      'exactlyOnce: the table "touch_wrong" is not a claims table (it needs run bigint, key text, inc bigint, seq bigint and a unique index on exactly (run, key); it has no column run, no column key, no column inc, no column seq, no unique index on (run, key)); give another table',
    )
    expect(await touchCounts(url, 'touch_wrong')).toEqual({ n: 10, wrong: 10, total: 0 })
  })

  it('a runs table of another shape, a claims table with an extra NOT NULL column, a CHECK or a rule that swallows claims: one line each, before the first job', async () => {
    const { url, box } = await table('touch_shapes', 10, { TM_RECONNECT: '0.5' })
    const claims = (extra: string) =>
      `CREATE TABLE probe_claims (run bigint NOT NULL, key text COLLATE "C" NOT NULL, inc bigint NOT NULL, seq bigint NOT NULL${extra}, PRIMARY KEY (run, key))`
    const cases: [setup: string[], line: string][] = [
      [
        ['CREATE TABLE probe_claims_runs (x int)'],
        'exactlyOnce: the table "probe_claims_runs" is not a runs table of claims (it needs run bigint, key text and a unique index on exactly (run); it has no column run, no column key, no unique index on (run)); give another table',
      ],
      [
        [claims(', extra int NOT NULL')],
        'exactlyOnce: a claim tried at setup in the claims tables failed: null value in column "extra" of relation "probe_claims" violates not-null constraint; give another table',
      ],
      [
        [claims(' CHECK (seq > 5)')],
        'exactlyOnce: a claim tried at setup in the claims tables failed: new row for relation "probe_claims" violates check constraint "probe_claims_seq_check"; give another table',
      ],
      [
        [claims(''), 'CREATE RULE swallow AS ON INSERT TO probe_claims DO INSTEAD NOTHING'],
        'exactlyOnce: a claim tried at setup was not kept in "probe_claims" (a rule or trigger?): claims there could not refuse a second run; give another table',
      ],
    ]
    for (const [i, [statements, line]] of cases.entries()) {
      await rows(url, 'DROP TABLE IF EXISTS probe_claims, probe_claims_runs, probe_claims_floors')
      for (const statement of statements) await rows(url, statement)
      const refused = await run(MASTER_BIN, spawnedArgs(`shapes-${i}`, box.stateDir, 1), { env: { ...box.env, TM_CLAIMS: 'probe_claims' } })
      expect(refused.exit, refused.stderr).toEqual({ code: 2, signal: null })
      expect(refused.stdout + refused.stderr).toContain(`tm-slave: The handler's setup failed: ${line}`)
      expect(refused.stdout + refused.stderr).not.toMatch(STACK_FRAME)
      expect(await touchCounts(url, 'touch_shapes')).toEqual({ n: 10, wrong: 10, total: 0 })
    }
    // The probe left nothing behind.
    expect(await rows(url, 'SELECT count(*)::int AS n FROM probe_claims')).toEqual([{ n: 0 }])
  })

  it('the claims table dropped under a live run is made again, said once, and the run completes with every row once', async () => {
    const N = 6000
    const { url, box } = await table('touch_drop', N, { TM_CLAIMS: 'claims_drop', TM_TOUCH_DELAY_MS: '10' })
    const master = new Proc(MASTER_BIN, spawnedArgs('drop', box.stateDir, 2, '--batch 50'), {
      env: box.env,
    })
    await until('a third of the rows touched', async () => ((await touchedRows(url, 'touch_drop')) ?? 0) >= N / 3, 60_000)
    await rows(url, 'DROP TABLE claims_drop')
    expect(await master.exited, master.stderr).toEqual(EXIT_OK)
    const warnings =
      (master.stdout + master.stderr).match(
        /exactlyOnce: the claims table "claims_drop" was missing while the run ran; it is made again/g,
      ) ?? []
    expect(warnings.length).toBeGreaterThanOrEqual(1)
    expect(warnings.length).toBeLessThanOrEqual(2)
    await expectEachOnce(url, 'touch_drop', N, 'claims_drop')
  })

  it('two runs of different keys at once on one database: each exactly once, their claims kept apart and gone at their end', async () => {
    const url = postgres.server.url
    const N = 4000
    await touchTable(url, 'touch_a', N)
    await touchTable(url, 'touch_b', N)
    const box = sandbox({ TM_TOUCH_DELAY_MS: '5' })
    const runs = ['a', 'b'].map(
      (name) =>
        new Proc(MASTER_BIN, spawnedArgs(`run-${name}`, box.stateDir, 1, '--batch 50'), {
          env: { ...box.env, TM_PG_TABLE: `touch_${name}` },
        }),
    )
    // Both hold claims at once (each its own run), and neither clears the other's.
    await until(
      'claims of both runs at once',
      // (The claims table is made by the first slave's setup.)
      async () => Number((await query(url, 'SELECT count(DISTINCT run)::int AS n FROM taskmaster_claims'))?.[0]?.n) === 2,
      60_000,
      5,
    )
    for (const master of runs) expect(await master.exited, master.stderr).toEqual(EXIT_OK)
    expect(await touchCounts(url, 'touch_a')).toEqual({ n: N, wrong: 0, total: N })
    await expectEachOnce(url, 'touch_b', N)
  })

  it("--reset: the run's earlier claims are cleared by its new identity, and every row is touched once more", async () => {
    const N = 6000
    const { url, box } = await table('touch_reset', N, { TM_TOUCH_DELAY_MS: '10' })
    const host = `127.0.0.1:${await portForLater()}`
    const master = new Proc(MASTER_BIN, masterArgs('reset', box.stateDir, ['--host', host]), { env: box.env })
    const slave = startSlave([TOUCH, '--host', host, '--batch', '50', '--reconnect', '0'], { env: box.env })
    await until('a third of the rows touched', async () => ((await touchedRows(url, 'touch_reset')) ?? 0) >= N / 3, 60_000)
    await killHard(master)
    await killHard(slave)
    // Killed: its claims stay (those not yet compacted), and its record.
    const left = await claimsLeft(url)
    expect(left.runs).toBe(1)
    expect(left.claims).toBeGreaterThan(0)
    const before = await rows(url, 'SELECT sum(touched)::int AS total FROM touch_reset')
    const again = await run(MASTER_BIN, spawnedArgs('reset', box.stateDir, 1, '--reset --batch 50'), {
      env: box.env,
    })
    expect(again.exit, again.stderr).toEqual(EXIT_OK)
    expect(await rows(url, 'SELECT sum(touched)::int AS total FROM touch_reset')).toEqual([{ total: Number(before[0].total) + N }])
    expect(await claimsLeft(url)).toEqual({ claims: 0, runs: 0 })
  })
})
