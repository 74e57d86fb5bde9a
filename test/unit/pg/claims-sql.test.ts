import { describe, expect, it } from 'vitest'
import { claimQueries, runNumber } from '../../../src/pg/claims-sql.js'

describe('claimQueries', () => {
  it("names the claims table and its runs table, each part quoted, the runs table's last part suffixed", () => {
    expect(claimQueries('taskmaster_claims').tables).toEqual(['"taskmaster_claims"', '"taskmaster_claims_runs"'])
    expect(claimQueries('app.claims').tables).toEqual(['"app"."claims"', '"app"."claims_runs"'])
    expect(claimQueries('we"ird').tables).toEqual(['"we""ird"', '"we""ird_runs"'])
  })

  it('makes the tables keyed for a claim to refuse a second: (run, key) unique, keys compared byte by byte', () => {
    expect(claimQueries('c').create).toEqual([
      'CREATE TABLE IF NOT EXISTS "c" (run bigint NOT NULL, key text COLLATE "C" NOT NULL, PRIMARY KEY (run, key))',
      'CREATE TABLE IF NOT EXISTS "c_runs" (run bigint PRIMARY KEY, key text NOT NULL, started timestamptz NOT NULL DEFAULT now())',
    ])
  })

  it('claims every key in one statement with no conflict check (a claim already there fails it), and deletes compacted keys in the same statement', () => {
    const sql = claimQueries('c')
    expect(sql.claimAll).toBe('INSERT INTO "c" (run, key) SELECT $1::bigint, k FROM unnest($2::text[]) AS k')
    expect(sql.claimAllCompacting).toBe(
      'WITH d AS (DELETE FROM "c" WHERE run = $1::bigint AND key = ANY($3::text[])) INSERT INTO "c" (run, key) SELECT $1::bigint, k FROM unnest($2::text[]) AS k',
    )
  })

  it('claims the free keys only when some are taken, answering them as one array', () => {
    expect(claimQueries('c').claimSome).toBe(
      'WITH d AS (DELETE FROM "c" WHERE run = $1::bigint AND key = ANY($3::text[])), ' +
        'c AS (INSERT INTO "c" (run, key) SELECT $1::bigint, k FROM unnest($2::text[]) AS k ON CONFLICT DO NOTHING RETURNING key) ' +
        'SELECT array_agg(key) AS claimed FROM c',
    )
  })

  it("records a run under its key, clearing the claims of the key's other identities; forgets a complete run", () => {
    const sql = claimQueries('c')
    expect(sql.register).toBe(
      'WITH r AS (INSERT INTO "c_runs" (run, key) VALUES ($1::bigint, $2::text) ON CONFLICT (run) DO NOTHING), ' +
        'o AS (DELETE FROM "c_runs" WHERE key = $2::text AND run <> $1::bigint RETURNING run) ' +
        'DELETE FROM "c" WHERE run IN (SELECT run FROM o)',
    )
    expect(sql.forget).toBe('WITH r AS (DELETE FROM "c_runs" WHERE run = $1::bigint) DELETE FROM "c" WHERE run = $1::bigint')
  })

  it("reads a table's shape from the catalog: the two columns' types and a unique index on exactly (run, key)", () => {
    const shape = claimQueries('c').shape
    expect(shape).toContain("attname = 'run'")
    expect(shape).toContain("attname = 'key'")
    expect(shape).toContain('i.indisunique AND i.indpred IS NULL')
    expect(shape).toContain("= ARRAY['run', 'key']) AS unique")
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
