/**
 * The statement of `taskmaster-run/pg/sql` (`sql=`), checked against the database before
 * the first batch: by the master (`taskmaster-run/pg/table`'s check, when the run has a
 * `sql=`) and by each slave's setup. PostgreSQL itself parses it: `EXPLAIN <statement>`
 * as a named statement given empty arrays, so nothing is written, a second statement is
 * refused (a prepared statement holds one), and the types PostgreSQL infers for `$1`...
 * are read back from `pg_prepared_statements`. A typo, a missing `$1`, a `$1` that is not
 * an array of the key's type: one line, before any row is marked failed.
 */
import { OptionError } from '../../errors.js'
import { pgExport, pgMessage } from '../connection.js'
import type { PgClient } from '../connection.js'
import { redactText } from '../../redact.js'
import { qualified } from '../sql.js'

/** The name the check prepares the statement under, on a connection of its own. */
export const CHECK_NAME = 'taskmaster_sql_check'

const EXPLAIN = 'EXPLAIN '

/** The key columns' types, in the order of `$2` (a column missing has no row). */
export const KEY_TYPES = `SELECT a.attname AS name, format_type(a.atttypid, a.atttypmod) AS type, t.typcategory AS category
FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
WHERE a.attrelid = to_regclass($1) AND a.attnum > 0 AND NOT a.attisdropped AND a.attname = ANY($2::text[])`

/** The parameters PostgreSQL inferred for the prepared statement `$1`, in order; no row at all when it was not prepared. */
export const PARAMETER_TYPES = `SELECT p.n, format_type(t.oid, NULL) AS type, t.typcategory AS category, e.typcategory AS element
FROM pg_prepared_statements s
LEFT JOIN LATERAL unnest(s.parameter_types) WITH ORDINALITY AS p(type, n) ON true
LEFT JOIN pg_type t ON t.oid = p.type LEFT JOIN pg_type e ON e.oid = t.typelem AND t.typcategory = 'A'
WHERE s.name = $1 ORDER BY p.n`

/** A key column as the check knows it. */
export interface KeyColumn {
  name: string
  /** Its type as PostgreSQL writes it (`bigint`). */
  type: string
  /** Its type's category (`N` numeric, `S` string, ...), which `$n`'s elements must share. */
  category: string
}

/** A parameter PostgreSQL inferred: its type and category, and its elements' category when it is an array. */
export interface Parameter {
  type: string
  category: string
  element: string | null
}

const MODULE = 'taskmaster-run/pg/sql'

function refuse(message: string): OptionError {
  return new OptionError(`${MODULE}: ${message}`, 'sql')
}

/** `$1` to `$n`, for people. */
const dollars = (n: number): string => (n === 1 ? '$1' : `$1 to $${n}`)

/** What `$1`... must be for keys `keys`, and a condition that uses them: `a batch's keys are $1 = its id values (bigint[]), as in WHERE id = ANY($1)`. */
function wanted(keys: readonly KeyColumn[]): string {
  const each = keys.map((key, i) => `$${i + 1} = its ${key.name} values (${key.type}[])`).join(', ')
  const names = keys.map((key) => key.name).join(', ')
  const arrays = keys.map((key, i) => `$${i + 1}::${key.type}[]`).join(', ')
  const where = keys.length === 1 ? `WHERE ${names} = ANY($1)` : `WHERE (${names}) IN (SELECT * FROM unnest(${arrays}))`
  return `a batch's keys are ${each}, as in ${where}`
}

/**
 * What is wrong with the parameters PostgreSQL inferred (`params`) for keys `keys`, in one
 * line, or undefined when each `$i` is an array of the i-th key's type category. Pure.
 */
export function parameterProblem(params: readonly Parameter[], keys: readonly KeyColumn[]): string | undefined {
  if (params.length !== keys.length)
    return `sql= uses ${params.length === 0 ? 'no parameter' : dollars(params.length)}; it must use ${dollars(keys.length)}: ${wanted(keys)}`
  for (const [i, param] of params.entries()) {
    const key = keys[i]
    if (param.element === null) return `$${i + 1} of sql= is ${param.type}, not an array: ${wanted(keys)}`
    if (param.element !== key.category)
      return `$${i + 1} of sql= is ${param.type}, but the key column ${key.name} is ${key.type}: ${wanted(keys)}`
  }
  return undefined
}

/** PostgreSQL's codes for a parameter whose type it could not settle, or that compares with nothing: the keys' types are what to say. */
const PARAMETER_CODES = new Set(['42P18', '42725', '42883'])

/** PostgreSQL's error about the statement, its position counted in the user's statement (and what `$1`... are, when it is about them). */
function statementError(error: unknown, keys: readonly KeyColumn[]): string {
  const position = Number((error as { position?: unknown } | null)?.position)
  const at = Number.isInteger(position) && position > EXPLAIN.length ? ` (at character ${position - EXPLAIN.length})` : ''
  // EXPLAIN takes what a batch can run: a CALL, a DO or a utility statement is not one.
  const what = at === ' (at character 1)' ? '; sql= must be a SELECT, INSERT, UPDATE, DELETE, MERGE or VALUES statement' : ''
  const code = (error as { code?: unknown } | null)?.code
  const types = typeof code === 'string' && PARAMETER_CODES.has(code) ? `; ${wanted(keys)}` : ''
  return `sql= fails: ${pgMessage(error)}${at}${what}${types}`
}

/**
 * Checks `statement` on `client` (a connection of its own: the check leaves a prepared
 * statement on it) for key columns `keys` of `table`. Throws an {@link OptionError} of one line.
 */
export async function checkStatement(client: PgClient, table: string, keys: readonly string[], statement: string): Promise<void> {
  const found = (await client.query(KEY_TYPES, [qualified(table), keys])).rows as unknown as KeyColumn[]
  const missing = keys.filter((name) => !found.some((column) => column.name === name))
  if (missing.length > 0) throw refuse(`table ${table} has no key column ${missing.join(', ')} (keys=)`)
  const columns = keys.map((name) => found.find((column) => column.name === name)!)
  let failed: unknown
  try {
    await client.query({ name: CHECK_NAME, text: `${EXPLAIN}${statement}`, values: keys.map(() => []) })
  } catch (error) {
    failed = error
  }
  const params = (await client.query(PARAMETER_TYPES, [CHECK_NAME])).rows as unknown as (Parameter & { n: string | null })[]
  // No row: PostgreSQL could not even prepare it (a syntax error, an unknown column).
  if (params.length === 0) throw refuse(statementError(failed, columns))
  const problem = parameterProblem(
    params.filter((param) => param.n !== null),
    columns,
  )
  if (problem !== undefined) throw refuse(problem)
  if (failed !== undefined) throw refuse(statementError(failed, columns))
}

/**
 * Checks `statement` (see {@link checkStatement}) on a connection of its own to `url`, ended
 * after: the prepared statement the check leaves goes with it. `who` names the module in a
 * line about the connection.
 */
export async function checkStatementAt(
  url: string,
  table: string,
  keys: readonly string[],
  statement: string,
  who = MODULE,
): Promise<void> {
  const Client = await pgExport('Client', who)
  const client = new Client({ connectionString: url })
  client.on('error', () => {})
  try {
    try {
      await client.connect()
    } catch (error) {
      throw new OptionError(`${who}: cannot connect to the database '${redactText(url)}': ${pgMessage(error)}`, 'db')
    }
    await checkStatement(client, table, keys, statement)
  } finally {
    await client.end().catch(() => undefined)
  }
}
