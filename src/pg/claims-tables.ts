/**
 * exactlyOnce's setup of its tables: makes the claims, runs and floors tables when missing
 * (under a lock, so slaves starting at once do not race on CREATE), checks each has the
 * columns and unique index its statements need, then tries one claim, its run's record and a
 * compaction in a transaction rolled back: what the catalog does not say (an extra NOT NULL
 * column, a CHECK, a partitioned table with no partition for the row, a rule or trigger that
 * swallows it) fails there, in one line before the first job, not on every batch.
 */
import { randomBytes } from 'node:crypto'
import { OptionError } from '../errors.js'
import { TABLE_SHAPES, compactionLock, runNumber } from './claims-sql.js'
import type { ClaimQueries, TableShape } from './claims-sql.js'
import { pgMessage } from './connection.js'
import { isPassing } from './pg-errors.js'

/** A connection of the pool, as setup uses it. */
interface Connection {
  query: (text: string, values?: unknown[]) => Promise<{ rows: Record<string, unknown>[] }>
  release: (error?: Error) => void
  on: (event: 'error', listener: (error: Error) => void) => unknown
  removeListener: (event: 'error', listener: (error: Error) => void) => unknown
}

/** What setup needs of a pg Pool (exactlyOnce's PgPool is one). */
interface PgPool {
  query: (text: string, values?: unknown[]) => Promise<{ rows: Record<string, unknown>[] }>
  connect: () => Promise<Connection>
}

/** Who errors name. */
const WHO = 'exactlyOnce'
/** Held while the claims tables are created. */
const TABLES_LOCK = '7461736b6f6e6365'

/** What a table that is not of `shape` has, for the message. */
function describeShape(shape: TableShape, found: Record<string, unknown>): string {
  const column = (name: string): string => (typeof found[name] === 'string' ? `${name} ${String(found[name])}` : `no column ${name}`)
  return `${Object.keys(shape.columns).map(column).join(', ')}, ${found.unique === true ? 'a' : 'no'} unique index on (${shape.unique.join(', ')})`
}

/** Refuses table `table` unless it has `shape`'s columns and unique index. */
async function checkShape(pool: PgPool, query: string, table: string, shape: TableShape): Promise<void> {
  const found: Record<string, unknown> = (await pool.query(query, [table])).rows[0] ?? {}
  if (Object.entries(shape.columns).every(([name, type]) => found[name] === type) && found.unique === true) return
  const needs = Object.entries(shape.columns)
    .map(([name, type]) => `${name} ${type}`)
    .join(', ')
  throw new OptionError(
    `${WHO}: the table ${table} is not a ${shape.what} (it needs ${needs} and a unique index on exactly (${shape.unique.join(', ')}); it has ${describeShape(shape, found)}); give another table`,
    'table',
  )
}

/**
 * One claim, its run's record and a compaction (raising a floor) of a run no one has, as a
 * batch makes them, in a transaction rolled back; each must then be there to read.
 */
async function probe(pool: PgPool, sql: ClaimQueries): Promise<void> {
  const run = runNumber(randomBytes(8).toString('hex'))
  const client = await pool.connect()
  const ignore = (): void => {}
  client.on('error', ignore)
  let broken: Error | undefined
  try {
    await client.query('BEGIN')
    await client.query(sql.register, [run, `taskmaster probe ${run}`])
    await client.query(sql.claimAll, [run, ['probe'], '0', [0]])
    const kept = (await client.query(sql.probe, [run])).rows[0] as { claims?: number; runs?: number } | undefined
    await client.query(sql.compact, [run, '0', 1, compactionLock(run)])
    const floor = (await client.query(sql.floor, [run, '0'])).rows[0] as { floor?: string | null } | undefined
    const lost = [kept?.claims === 1 ? '' : sql.tables[0], kept?.runs === 1 ? '' : sql.tables[1], floor?.floor === '1' ? '' : sql.tables[2]]
      .filter(Boolean)
      .join(', ')
    if (lost !== '')
      throw new OptionError(
        `${WHO}: a claim tried at setup was not kept in ${lost} (a rule or trigger?): claims there could not refuse a second run; give another table`,
        'table',
      )
  } catch (error) {
    if (error instanceof OptionError || isPassing(error)) throw error
    throw new OptionError(`${WHO}: a claim tried at setup in the claims tables failed: ${pgMessage(error)}; give another table`, 'table')
  } finally {
    try {
      await client.query('ROLLBACK')
    } catch (error) {
      broken = error as Error
    }
    client.removeListener('error', ignore)
    client.release(broken)
  }
}

/** Makes the claims tables when missing (under a lock, looking again once it is held), and checks they are claims tables. */
export async function ensureTables(pool: PgPool, sql: ClaimQueries): Promise<void> {
  const missing = async (): Promise<boolean> =>
    (await pool.query('SELECT to_regclass($1) IS NULL OR to_regclass($2) IS NULL OR to_regclass($3) IS NULL AS missing', [...sql.tables]))
      .rows[0]?.missing === true
  if (await missing()) {
    const client = await pool.connect()
    try {
      await client.query('BEGIN')
      await client.query(`SELECT pg_advisory_xact_lock(x'${TABLES_LOCK}'::bigint)`)
      if (await missing()) for (const statement of sql.create) await client.query(statement)
      await client.query('COMMIT')
      client.release()
    } catch (error) {
      client.release(error as Error)
      throw error
    }
  }
  for (let i = 0; i < TABLE_SHAPES.length; i++) await checkShape(pool, sql.shapes[i], sql.tables[i], TABLE_SHAPES[i])
  await probe(pool, sql)
}
