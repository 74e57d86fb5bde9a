// Helpers of the exactly-once tests (taskmaster-run/pg's exactlyOnce, the pg-touch fixtures):
// a table whose `touched` counter counts every run of a row, read on connections of their own.
import pg from 'pg'
import { expect } from 'vitest'
import { fixture } from './proc.js'

/** The jobs module (the ids of $TM_PG_TABLE through pgTable) and the handler (touched + 1, exactly once unless $TM_PLAIN). */
export const TOUCH_JOBS = fixture('pg-touch-jobs.mjs')
export const TOUCH = fixture('pg-touch.mjs')

/** The rows of `text` on a connection of its own (a server restart cuts every other), or undefined while the server is down. */
export async function query(url: string, text: string, values: unknown[] = []): Promise<Record<string, unknown>[] | undefined> {
  const client = new pg.Client(url)
  client.on('error', () => {})
  try {
    await client.connect()
    return (await client.query<Record<string, unknown>>(text, values)).rows
  } catch {
    return undefined
  } finally {
    await client.end().catch(() => undefined)
  }
}

/** The rows of `text`; throws when the server cannot be read. */
export async function rows(url: string, text: string, values: unknown[] = []): Promise<Record<string, unknown>[]> {
  const found = await query(url, text, values)
  if (found === undefined) throw new Error(`cannot read ${text} from ${url}`)
  return found
}

/** Makes table `table` afresh: ids 1..n, touched 0. */
export async function touchTable(url: string, table: string, n: number): Promise<void> {
  await rows(url, `DROP TABLE IF EXISTS ${table}`)
  await rows(url, `CREATE TABLE ${table} (id bigint PRIMARY KEY, touched int NOT NULL DEFAULT 0)`)
  await rows(url, `INSERT INTO ${table} (id) SELECT g FROM generate_series(1, ${n}) g`)
}

/** Rows of `table` touched so far (undefined while the server is down). */
export async function touchedRows(url: string, table: string): Promise<number | undefined> {
  return (await query(url, `SELECT count(*)::int AS n FROM ${table} WHERE touched > 0`))?.[0]?.n as number | undefined
}

/** How `table` was touched: its rows, those not touched exactly once, and the touches in all. */
export async function touchCounts(url: string, table: string): Promise<{ n: number; wrong: number; total: number }> {
  const [counts] = await rows(
    url,
    `SELECT count(*)::int AS n, count(*) FILTER (WHERE touched <> 1)::int AS wrong, sum(touched)::int AS total FROM ${table}`,
  )
  return counts as { n: number; wrong: number; total: number }
}

/** Rows left in the claims table `claims` and in its runs table. */
export async function claimsLeft(url: string, claims = 'taskmaster_claims'): Promise<{ claims: number; runs: number }> {
  const [left] = await rows(
    url,
    `SELECT (SELECT count(*) FROM ${claims})::int AS claims, (SELECT count(*) FROM ${claims}_runs)::int AS runs`,
  )
  return left as { claims: number; runs: number }
}

/** Asserts every row of `table` (`n` of them) was touched exactly once, and the claims (of `claims`) are gone. */
export async function expectEachOnce(url: string, table: string, n: number, claims?: string, why?: string): Promise<void> {
  expect(await touchCounts(url, table), why).toEqual({ n, wrong: 0, total: n })
  expect(await claimsLeft(url, claims)).toEqual({ claims: 0, runs: 0 })
}
