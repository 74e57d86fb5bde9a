import { describe, expect, it } from 'vitest'
import { claimQueries, compactionLock, incarnationNumber, runNumber } from '../../../src/pg/claims-sql.js'

describe('claimQueries', () => {
  it("names the claims table, its runs and floors tables, each part quoted, the others' last part suffixed", () => {
    expect(claimQueries('taskmaster_claims').tables).toEqual([
      '"taskmaster_claims"',
      '"taskmaster_claims_runs"',
      '"taskmaster_claims_floors"',
    ])
    expect(claimQueries('app.claims').tables).toEqual(['"app"."claims"', '"app"."claims_runs"', '"app"."claims_floors"'])
    expect(claimQueries('we"ird').tables).toEqual(['"we""ird"', '"we""ird_runs"', '"we""ird_floors"'])
  })

  it('makes the tables keyed for a claim to refuse a second: (run, key) unique, keys compared byte by byte; each claim with its incarnation and seq', () => {
    expect(claimQueries('c').create).toEqual([
      'CREATE TABLE IF NOT EXISTS "c" (run bigint NOT NULL, key text COLLATE "C" NOT NULL, inc bigint NOT NULL, seq bigint NOT NULL, PRIMARY KEY (run, key))',
      'CREATE TABLE IF NOT EXISTS "c_runs" (run bigint PRIMARY KEY, key text NOT NULL, started timestamptz NOT NULL DEFAULT now())',
      'CREATE TABLE IF NOT EXISTS "c_floors" (run bigint NOT NULL, inc bigint NOT NULL, floor bigint NOT NULL, PRIMARY KEY (run, inc))',
    ])
  })

  it('claims every key in one statement with no conflict check (a claim already there fails it)', () => {
    expect(claimQueries('c').claimAll).toBe(
      'INSERT INTO "c" (run, key, inc, seq) SELECT $1::bigint, c.k, $3::bigint, c.s FROM unnest($2::text[], $4::bigint[]) AS c(k, s)',
    )
  })

  it('claims the free keys only when some are taken, answering them as one array', () => {
    expect(claimQueries('c').claimSome).toBe(
      'WITH c AS (INSERT INTO "c" (run, key, inc, seq) SELECT $1::bigint, c.k, $3::bigint, c.s FROM unnest($2::text[], $4::bigint[]) AS c(k, s) ON CONFLICT DO NOTHING RETURNING key) ' +
        'SELECT array_agg(key) AS claimed FROM c',
    )
  })

  it("compacts a range: an incarnation's claims below a seq, raising its floor in the same statement, by one process at a time (an advisory lock tried once)", () => {
    expect(claimQueries('c').compact).toBe(
      'WITH l AS MATERIALIZED (SELECT pg_try_advisory_xact_lock($4::bigint) AS got), ' +
        'f AS (INSERT INTO "c_floors" AS f (run, inc, floor) SELECT $1::bigint, $2::bigint, $3::bigint WHERE (SELECT got FROM l) ' +
        'ON CONFLICT (run, inc) DO UPDATE SET floor = greatest(f.floor, excluded.floor)) ' +
        'DELETE FROM "c" WHERE (SELECT got FROM l) AND run = $1::bigint AND inc = $2::bigint AND seq < $3::bigint',
    )
  })

  it("reads an incarnation's floor, or the run's when it completed", () => {
    expect(claimQueries('c').floor).toBe(
      'SELECT max(floor)::text AS floor FROM "c_floors" WHERE run = $1::bigint AND inc IN ($2::bigint, -1)',
    )
  })

  it("records a run under its key, clearing the claims and floors of the key's other identities; forgets a complete run, leaving its floor at the top", () => {
    const sql = claimQueries('c')
    expect(sql.register).toBe(
      'WITH r AS (INSERT INTO "c_runs" (run, key) VALUES ($1::bigint, $2::text) ON CONFLICT (run) DO NOTHING), ' +
        'o AS (DELETE FROM "c_runs" WHERE key = $2::text AND run <> $1::bigint RETURNING run), ' +
        'f AS (DELETE FROM "c_floors" WHERE run IN (SELECT run FROM o)) ' +
        'DELETE FROM "c" WHERE run IN (SELECT run FROM o)',
    )
    expect(sql.forget).toBe(
      'WITH r AS (DELETE FROM "c_runs" WHERE run = $1::bigint), ' +
        'f AS (DELETE FROM "c_floors" WHERE run = $1::bigint AND inc <> -1), ' +
        't AS (INSERT INTO "c_floors" (run, inc, floor) VALUES ($1::bigint, -1, 9223372036854775807) ON CONFLICT (run, inc) DO NOTHING) ' +
        'DELETE FROM "c" WHERE run = $1::bigint',
    )
  })

  it("reads a table's shape from the catalog: the columns' types and a unique index on exactly (run, key)", () => {
    const shape = claimQueries('c').shapes[0]
    for (const column of ['run', 'key', 'inc', 'seq']) expect(shape).toContain(`attname = '${column}' AND NOT attisdropped) AS ${column}`)
    expect(shape).toContain('i.indisunique AND i.indpred IS NULL')
    expect(shape).toContain("= ARRAY['run', 'key']) AS unique")
  })

  it("reads the runs and floors tables' shapes too: each with the unique index its ON CONFLICT needs", () => {
    const [, runs, floors] = claimQueries('c').shapes
    for (const column of ['run', 'key']) expect(runs).toContain(`attname = '${column}' AND NOT attisdropped) AS ${column}`)
    expect(runs).not.toContain("attname = 'seq'")
    expect(runs).toContain("= ARRAY['run']) AS unique")
    for (const column of ['run', 'inc', 'floor']) expect(floors).toContain(`attname = '${column}' AND NOT attisdropped) AS ${column}`)
    expect(floors).toContain("= ARRAY['run', 'inc']) AS unique")
  })

  it("counts a run's rows in the claims and runs tables (the probe at setup)", () => {
    expect(claimQueries('c').probe).toBe(
      'SELECT (SELECT count(*) FROM "c" WHERE run = $1::bigint)::int AS claims, (SELECT count(*) FROM "c_runs" WHERE run = $1::bigint)::int AS runs',
    )
  })
})

describe('runNumber', () => {
  it("is a run identity's 64 bits as a signed bigint", () => {
    expect(runNumber('0000000000000001')).toBe('1')
    expect(runNumber('7fffffffffffffff')).toBe('9223372036854775807')
    expect(runNumber('8000000000000000')).toBe('-9223372036854775808')
    expect(runNumber('ffffffffffffffff')).toBe('-1')
  })
})

describe('incarnationNumber', () => {
  it("is a master incarnation's 12 hex digits as a number; anything else hashed to 60 bits", () => {
    expect(incarnationNumber('00000000002a')).toBe('42')
    expect(incarnationNumber('ffffffffffff')).toBe(String(2 ** 48 - 1))
    const hashed = BigInt(incarnationNumber('not hex'))
    expect(hashed >= 0n && hashed < 2n ** 60n).toBe(true)
    expect(incarnationNumber('not hex')).toBe(String(hashed))
    expect(incarnationNumber('other')).not.toBe(String(hashed))
  })
})

describe('compactionLock', () => {
  it("is one advisory lock per run: this module's tag in the high 32 bits, the run's low 32 bits", () => {
    expect(BigInt(compactionLock('1')) >> 32n).toBe(0x746d6f6en)
    expect(BigInt(compactionLock('-1')) & 0xffffffffn).toBe(0xffffffffn)
    expect(compactionLock('5')).not.toBe(compactionLock('6'))
  })
})
